//! PKCS#1 v1.5 padding around the card's raw RSA (SIGN P2 20, DECIPHER P2 21): the card only
//! exponentiates, the host pads signatures (block type 1) and strips encryption padding
//! (block type 2) — the latter in constant time, so that a caller probing with forged
//! ciphertexts learns nothing from timing but "invalid" (Bleichenbacher).

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};
use zeroize::Zeroizing;

/// Smallest padding: 00 ‖ BT ‖ at least 8 padding bytes ‖ 00.
pub const OVERHEAD: usize = 11;

/// EMSA-PKCS1-v1_5 encoding (RFC 8017 §9.2 step 5): `00 01 FF…FF 00 ‖ t` of `k` bytes, with
/// at least 8 bytes FF. `None` when `t` is longer than `k − 11`.
pub fn pad_type1(t: &[u8], k: usize) -> Option<Vec<u8>> {
    let ps = k.checked_sub(t.len() + 3).filter(|&n| n >= 8)?;
    let mut em = Vec::with_capacity(k);
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(2 + ps, 0xFF);
    em.push(0x00);
    em.extend_from_slice(t);
    Some(em)
}

/// RSAES-PKCS1-v1_5 decoding (RFC 8017 §7.2.2 step 3) of the `k`-byte block `em` that raw RSA
/// decryption produced. `None` when the padding is bad — one answer for every kind of bad, with
/// every byte of `em` examined the same way whatever it holds.
pub fn unpad_type2(em: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if em.len() < OVERHEAD {
        return None;
    }
    let mut valid = em[0].ct_eq(&0x00) & em[1].ct_eq(&0x02);
    // Find the first 00 after the padding string without branching on the bytes.
    let mut looking = Choice::from(1);
    let mut separator: u32 = 0;
    for (i, b) in em.iter().enumerate().skip(2) {
        let zero = b.ct_eq(&0x00);
        separator.conditional_assign(&(i as u32), looking & zero);
        looking &= !zero;
    }
    // A separator must exist and the padding string before it must have 8 bytes at least:
    // 00 02 PS(≥8) 00 puts it at index 10 or later.
    valid &= !looking & separator.ct_gt(&9);
    if !bool::from(valid) {
        return None;
    }
    Some(Zeroizing::new(em[separator as usize + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type1_layout() {
        let em = pad_type1(&[0xAB, 0xCD], 16).unwrap();
        assert_eq!(em.len(), 16);
        assert_eq!(&em[..2], &[0, 1]);
        assert!(em[2..13].iter().all(|&b| b == 0xFF));
        assert_eq!(&em[13..], &[0, 0xAB, 0xCD]);
        // Exactly 8 bytes of padding is the limit.
        assert!(pad_type1(&[7; 5], 16).is_some());
        assert!(pad_type1(&[7; 6], 16).is_none());
        assert!(pad_type1(&[], 10).is_none());
    }

    fn type2(ps_len: usize, msg: &[u8]) -> Vec<u8> {
        let mut em = vec![0x00, 0x02];
        em.extend(std::iter::repeat_n(0x5A, ps_len));
        em.push(0);
        em.extend_from_slice(msg);
        em
    }

    #[test]
    fn type2_good() {
        assert_eq!(unpad_type2(&type2(8, b"hi")).unwrap().as_slice(), b"hi");
        assert_eq!(unpad_type2(&type2(20, b"")).unwrap().as_slice(), b"");
        // Zeros inside the message are the message's.
        assert_eq!(
            unpad_type2(&type2(9, &[0, 1, 0])).unwrap().as_slice(),
            &[0, 1, 0]
        );
    }

    #[test]
    fn type2_bad_is_none() {
        assert!(unpad_type2(&type2(7, b"hi")).is_none(), "short PS");
        let mut e = type2(8, b"hi");
        e[0] = 1;
        assert!(unpad_type2(&e).is_none(), "first byte");
        let mut e = type2(8, b"hi");
        e[1] = 1;
        assert!(unpad_type2(&e).is_none(), "block type 1");
        let mut e = type2(8, b"");
        e.pop();
        e.push(0x77);
        assert!(unpad_type2(&e).is_none(), "no separator");
        assert!(unpad_type2(&[0, 2, 1]).is_none(), "too short");
        assert!(unpad_type2(&[]).is_none());
        let mut e = type2(12, b"x");
        e[5] = 0;
        assert!(
            unpad_type2(&e).is_none(),
            "zero inside the first 8 PS bytes"
        );
    }
}
