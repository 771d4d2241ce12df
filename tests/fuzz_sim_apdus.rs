//! Fuzzing the simulator's front end: `schsm_sim::Card::transmit` takes command APDUs from
//! outside (vpcd, or the module in process) and must answer every one with a status word, never
//! a panic (a panic inside a command is caught and answered 6F00, which is also reported here as
//! a crash: it is a bug). Seeds: the commands the module sends, with the real Nitrokey HSM 2
//! DKEK share and wrapped key. GENERATE (INS 46) is left out: random RSA-4096 requests would
//! make the run minutes long in an unoptimised build.

mod fuzz_common;

use std::path::PathBuf;

use fuzz_common::{iterations, run};
use schsm_pkcs11::card::wrapped_file::WrappedKeyFile;

const REAL_SHARE: &str = "2848cb6e994f5a00c365c3c255ed130512ce1eb06bf08d348eeb8b2f866e3e50";

fn apdu(header: [u8; 4], data: &[u8], extended: bool) -> Vec<u8> {
    let mut v = header.to_vec();
    if extended {
        v.push(0);
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
        v.extend_from_slice(&[0, 0]);
    } else {
        if !data.is_empty() {
            v.push(data.len() as u8);
            v.extend_from_slice(data);
        }
        v.push(0);
    }
    v
}

#[test]
fn fuzz_simulator_apdus() {
    let dir = std::env::temp_dir().join(format!("schsm-fuzz-sim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // 15 PIN tries: the fuzzer's VERIFYs must not block the PIN before the other commands run.
    let mut opts = schsm_sim::NewOptions::initialised("3.5", *b"57621880", b"648219", Some(1));
    if let Some(init) = opts.init.as_mut() {
        init.retry = 15;
    }
    schsm_sim::create(&dir, &opts).unwrap();
    let wky = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("sim/tests/data/nitrokey-hsm2-secp256k1.wky"),
    )
    .unwrap();
    let blob = WrappedKeyFile::decode(&wky).unwrap().blob;
    let share = hex::decode(REAL_SHARE).unwrap();
    let seeds = vec![
        apdu([0x00, 0xA4, 0x04, 0x04], &schsm_sim::AID, false),
        apdu([0x00, 0x20, 0x00, 0x81], b"648219", false),
        apdu([0x00, 0xB1, 0x2F, 0x02], &[0x54, 0x02, 0x00, 0x00], true),
        apdu([0x80, 0x58, 0x00, 0x00], &[], true),
        apdu([0x00, 0x84, 0x00, 0x00], &[], false),
        apdu([0x80, 0x52, 0x00, 0x00], &share, false),
        apdu([0x80, 0x74, 0x01, 0x93], &blob, true),
        apdu([0x80, 0x72, 0x01, 0x92], &[], true),
        apdu([0x80, 0x68, 0x01, 0x70], &[0x42; 32], true),
        apdu([0x80, 0x62, 0x01, 0x80], &[0x04; 65], true),
        apdu(
            [0x00, 0xD7, 0xCD, 0x01],
            &[0x54, 0x02, 0x00, 0x00, 0x53, 0x03, 1, 2, 3],
            true,
        ),
        apdu([0x00, 0xE4, 0x02, 0x00], &[0xCD, 0x01], false),
        apdu(
            [0x80, 0x50, 0x00, 0x00],
            &[
                0x80, 0x02, 0x00, 0x01, 0x81, 0x06, b'6', b'4', b'8', b'2', b'1', b'9',
            ],
            false,
        ),
        apdu([0x00, 0x24, 0x00, 0x81], b"648219648219", false),
        apdu([0x00, 0x2C, 0x00, 0x81], b"5762188064821", false),
    ];
    let card = std::cell::RefCell::new(schsm_sim::Card::open(&dir).unwrap());
    run("simulator APDUs", &seeds, iterations(1500), |d| {
        let mut a = d.to_vec();
        if a.get(1) == Some(&0x46) {
            a[1] = 0x47;
        }
        let r = card.borrow_mut().transmit(&a);
        assert!(r.len() >= 2, "an answer without a status word");
        assert_ne!(
            &r[r.len() - 2..],
            &[0x6F, 0x00],
            "a command panicked (6F00)"
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
