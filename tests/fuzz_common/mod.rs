//! A small mutation fuzzer for stable Rust: a seeded RNG, mutations of seed inputs (bit flips,
//! byte sets, truncation, insertion, deletion, DER length tweaks, splices) and a runner that
//! feeds each input to a target inside `catch_unwind`, so that a panic is reported with the
//! input that caused it. Iterations per target: `SCHSM_FUZZ_ITERS` (default small, for CI);
//! seed: `SCHSM_FUZZ_SEED` (default fixed, so a CI failure reproduces).

use std::panic::{catch_unwind, AssertUnwindSafe};

/// splitmix64: tiny, fast, good enough to drive mutations (not cryptographic on purpose).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// Byte values that sit on boundaries of DER lengths and tags.
const INTERESTING: [u8; 12] = [
    0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFE, 0xFF, 0x30,
];

/// One to four mutations of `input`, sometimes spliced with `other`.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = v.len();
        match rng.below(10) {
            0 | 1 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.byte();
            }
            4 => v.truncate(rng.below(len + 1)),
            5 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                v.splice(i..i, bytes);
            }
            6 if len > 0 => {
                let i = rng.below(len);
                let end = (i + 1 + rng.below(16)).min(len);
                v.drain(i..end);
            }
            // A DER length field (a byte after a plausible tag) made longer, shorter, long-form.
            7 if len > 1 => {
                let i = 1 + rng.below(len - 1);
                v[i] = match rng.below(4) {
                    0 => v[i].wrapping_add(1),
                    1 => v[i].wrapping_sub(1),
                    2 => 0x81 + rng.below(4) as u8,
                    _ => 0x80,
                };
            }
            8 if !other.is_empty() => {
                let at = rng.below(len + 1);
                let from = rng.below(other.len());
                let to = from + rng.below(other.len() - from + 1);
                v.truncate(at);
                v.extend_from_slice(&other[from..to]);
            }
            _ => {
                // Duplicate a slice (repeated elements, nested lengths).
                if len > 0 {
                    let i = rng.below(len);
                    let end = (i + 1 + rng.below(32)).min(len);
                    let copy = v[i..end].to_vec();
                    v.splice(i..i, copy);
                }
            }
        }
    }
    v
}

pub fn iterations(default: u64) -> u64 {
    std::env::var("SCHSM_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn seed() -> u64 {
    std::env::var("SCHSM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5C45_4D00_F022)
}

/// Runs `target` on every seed, then on `iters` mutations; panics (listing the inputs) if the
/// target panicked on any. Returns the number of executions.
pub fn run(name: &str, seeds: &[Vec<u8>], iters: u64, target: impl Fn(&[u8])) -> u64 {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let mut rng = Rng::new(seed() ^ name.bytes().fold(0u64, |h, b| h.rotate_left(5) ^ b as u64));
    let mut crashes: Vec<String> = Vec::new();
    let mut execs = 0u64;
    let mut attempt = |input: &[u8]| {
        execs += 1;
        if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() && crashes.len() < 5 {
            crashes.push(hex::encode(input));
        }
    };
    for s in seeds {
        attempt(s);
    }
    // Mutations of mutations too: a small pool of recent inputs grows the reach of each seed.
    let mut pool: Vec<Vec<u8>> = seeds.to_vec();
    for i in 0..iters {
        let base = &pool[rng.below(pool.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = if rng.below(50) == 0 {
            (0..rng.below(64)).map(|_| rng.byte()).collect()
        } else {
            mutate(&mut rng, base, other)
        };
        attempt(&input);
        if i % 4 == 0 && input.len() < 8192 {
            if pool.len() < 256 {
                pool.push(input);
            } else {
                let at = rng.below(pool.len());
                pool[at] = input;
            }
        }
    }
    println!("fuzz {name}: {execs} executions, {} crashes", crashes.len());
    assert!(
        crashes.is_empty(),
        "{name}: panics on inputs (hex):\n{}",
        crashes.join("\n")
    );
    execs
}
