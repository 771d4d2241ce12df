//! The host's share of AES-CBC on the card. CIPHER SYMMETRIC (P2 10/11) always starts from a zero
//! IV, so the host applies the caller's IV (and, between parts, the last ciphertext block) by
//! XOR into the first block — before encryption, after decryption — and adds or removes the
//! PKCS#7 padding of CKM_AES_CBC_PAD.

use subtle::{Choice, ConstantTimeEq, ConstantTimeGreater, ConstantTimeLess};
use zeroize::Zeroizing;

pub const BLOCK: usize = 16;

/// XORs `iv` into the first block of `data` (which holds at least one block).
pub fn xor_first_block(data: &mut [u8], iv: &[u8; BLOCK]) {
    for (d, v) in data.iter_mut().zip(iv.iter()) {
        *d ^= v;
    }
}

/// The last block of `data` (the IV of the next part), or `None` when it holds no block.
pub fn last_block(data: &[u8]) -> Option<[u8; BLOCK]> {
    let start = data.len().checked_sub(BLOCK)?;
    data[start..].try_into().ok()
}

/// PKCS#7 padding to a whole number of blocks (always adds 1..=16 bytes).
pub fn pad(data: &[u8]) -> Zeroizing<Vec<u8>> {
    let n = BLOCK - data.len() % BLOCK;
    let mut out = Zeroizing::new(Vec::with_capacity(data.len() + n));
    out.extend_from_slice(data);
    out.resize(data.len() + n, n as u8);
    out
}

/// The length of the plaintext in the padded final block `block`, or `None` when the padding is
/// invalid. Constant time over the block: the answer does not reveal which byte was wrong.
pub fn unpad_len(block: &[u8; BLOCK]) -> Option<usize> {
    let n = block[BLOCK - 1];
    let mut valid = n.ct_gt(&0) & n.ct_lt(&(BLOCK as u8 + 1));
    for (i, b) in block.iter().enumerate() {
        // Byte i belongs to the padding when i >= BLOCK - n.
        let in_pad = !(i as u8).ct_lt(&(BLOCK as u8).wrapping_sub(n));
        valid &= !in_pad | b.ct_eq(&n);
    }
    let valid: bool = Choice::into(valid);
    valid.then(|| BLOCK - usize::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_and_unpad() {
        for len in 0..=40 {
            let data: Vec<u8> = (0..len as u8).collect();
            let padded = pad(&data);
            assert_eq!(padded.len() % BLOCK, 0);
            assert!(padded.len() > data.len());
            let last: [u8; BLOCK] = padded[padded.len() - BLOCK..].try_into().unwrap();
            let keep = unpad_len(&last).unwrap();
            assert_eq!(padded.len() - BLOCK + keep, data.len());
        }
    }

    #[test]
    fn bad_padding() {
        let mut b = [0x10u8; BLOCK];
        assert_eq!(unpad_len(&b), Some(0));
        b[0] = 0x0F;
        assert_eq!(unpad_len(&b), None, "a byte inside the padding differs");
        let mut b = [0u8; BLOCK];
        assert_eq!(unpad_len(&b), None, "zero pad length");
        b[15] = 17;
        assert_eq!(unpad_len(&b), None, "pad length beyond the block");
        let mut b = [0xAA; BLOCK];
        b[15] = 2;
        assert_eq!(unpad_len(&b), None);
        b[14] = 2;
        assert_eq!(unpad_len(&b), Some(14));
    }

    #[test]
    fn iv_helpers() {
        let mut d = [1u8; 20];
        xor_first_block(&mut d, &[1; BLOCK]);
        assert_eq!(&d[..16], &[0; 16]);
        assert_eq!(&d[16..], &[1; 4]);
        assert_eq!(last_block(&[5u8; 32]), Some([5; 16]));
        assert_eq!(last_block(&[5u8; 15]), None);
    }
}
