//! EME-OAEP decoding (RFC 8017 §7.1.2 step 3) of the block the card's raw RSA decryption
//! (DECIPHER P2 21) returns. The card has no OAEP, so the host removes the padding — in
//! constant time up to the single valid/invalid answer, because the differences between
//! "first byte not 0", "label hash differs" and "no 01 separator" are what Manger's attack
//! needs.

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::hash::HashAlg;

/// MGF1 (RFC 8017 §B.2.1): `len` bytes of Hash(seed ‖ C) for C = 0, 1, … (4-byte big-endian).
pub fn mgf1(hash: HashAlg, seed: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + hash.len()));
    let mut counter: u32 = 0;
    while out.len() < len {
        let mut h = hash.hasher();
        h.update(seed);
        h.update(&counter.to_be_bytes());
        out.extend_from_slice(&Zeroizing::new(h.finalize()));
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// Decodes the `k`-byte block `em` with `hash` for the label and `mgf_hash` for MGF1. `None`
/// for any decoding error (and for a block too short for this hash).
pub fn decode(
    em: &[u8],
    hash: HashAlg,
    mgf_hash: HashAlg,
    label: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let h_len = hash.len();
    let k = em.len();
    if k < 2 * h_len + 2 {
        return None;
    }
    let l_hash = hash.digest(label);
    let (masked_seed, masked_db) = em[1..].split_at(h_len);

    let seed_mask = mgf1(mgf_hash, masked_db, h_len);
    let seed: Zeroizing<Vec<u8>> = Zeroizing::new(
        masked_seed
            .iter()
            .zip(seed_mask.iter())
            .map(|(a, b)| a ^ b)
            .collect(),
    );
    let db_mask = mgf1(mgf_hash, &seed, k - h_len - 1);
    let db: Zeroizing<Vec<u8>> = Zeroizing::new(
        masked_db
            .iter()
            .zip(db_mask.iter())
            .map(|(a, b)| a ^ b)
            .collect(),
    );

    // DB = lHash' ‖ PS (zeros) ‖ 01 ‖ M. Every check below looks at every byte.
    let mut valid = em[0].ct_eq(&0x00) & db[..h_len].ct_eq(&l_hash);
    let mut looking = Choice::from(1);
    let mut bad_separator = Choice::from(0);
    let mut separator: u32 = 0;
    for (i, b) in db.iter().enumerate().skip(h_len) {
        let zero = b.ct_eq(&0x00);
        let one = b.ct_eq(&0x01);
        separator.conditional_assign(&(i as u32), looking & one);
        bad_separator |= looking & !zero & !one;
        looking &= zero;
    }
    valid &= !looking & !bad_separator;
    if !bool::from(valid) {
        return None;
    }
    Some(Zeroizing::new(db[separator as usize + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OAEP encoding made by hand with a fixed seed (RFC 8017 §7.1.1 step 2), to test the
    /// decoder without an RSA key; the integration tests decrypt ciphertexts of the rsa crate.
    fn encode(k: usize, hash: HashAlg, mgf: HashAlg, label: &[u8], msg: &[u8]) -> Vec<u8> {
        let h_len = hash.len();
        let mut db = hash.digest(label);
        db.resize(k - msg.len() - h_len - 2, 0);
        db.push(1);
        db.extend_from_slice(msg);
        let seed: Vec<u8> = (0..h_len as u8).collect();
        let db_mask = mgf1(mgf, &seed, db.len());
        let masked_db: Vec<u8> = db.iter().zip(db_mask.iter()).map(|(a, b)| a ^ b).collect();
        let seed_mask = mgf1(mgf, &masked_db, h_len);
        let masked_seed: Vec<u8> = seed
            .iter()
            .zip(seed_mask.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        [vec![0], masked_seed, masked_db].concat()
    }

    #[test]
    fn mgf1_known_answer() {
        // MGF1-SHA1("foo", 3) = 1ac907 (a test vector used by several implementations).
        assert_eq!(
            mgf1(HashAlg::Sha1, b"foo", 3).as_slice(),
            &[0x1a, 0xc9, 0x07]
        );
        assert_eq!(
            mgf1(HashAlg::Sha1, b"foo", 5).as_slice(),
            &[0x1a, 0xc9, 0x07, 0x5c, 0xd4]
        );
        assert_eq!(mgf1(HashAlg::Sha256, b"x", 100).len(), 100);
    }

    #[test]
    fn round_trips() {
        for (hash, mgf) in [
            (HashAlg::Sha1, HashAlg::Sha1),
            (HashAlg::Sha256, HashAlg::Sha256),
            (HashAlg::Sha256, HashAlg::Sha1),
            (HashAlg::Sha512, HashAlg::Sha384),
        ] {
            for msg in [&b""[..], b"hello", &[0u8, 1, 0, 1]] {
                let em = encode(256, hash, mgf, b"label", msg);
                let got = decode(&em, hash, mgf, b"label").unwrap();
                assert_eq!(got.as_slice(), msg);
            }
        }
    }

    #[test]
    fn every_kind_of_bad_is_none() {
        let good = encode(128, HashAlg::Sha256, HashAlg::Sha256, b"", b"msg");
        assert!(decode(&good, HashAlg::Sha256, HashAlg::Sha256, b"").is_some());
        assert!(decode(&good, HashAlg::Sha256, HashAlg::Sha256, b"other").is_none());
        assert!(decode(&good, HashAlg::Sha256, HashAlg::Sha1, b"").is_none());
        assert!(decode(&good, HashAlg::Sha1, HashAlg::Sha256, b"").is_none());
        let mut e = good.clone();
        e[0] = 1;
        assert!(decode(&e, HashAlg::Sha256, HashAlg::Sha256, b"").is_none());
        for i in 1..good.len() {
            let mut e = good.clone();
            e[i] ^= 0x40;
            assert!(
                decode(&e, HashAlg::Sha256, HashAlg::Sha256, b"").is_none(),
                "flip at {i}"
            );
        }
        assert!(decode(&good[..65], HashAlg::Sha256, HashAlg::Sha256, b"").is_none());
        assert!(decode(&[], HashAlg::Sha1, HashAlg::Sha1, b"").is_none());
    }
}
