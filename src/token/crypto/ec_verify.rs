//! Software ECDSA verification (C_Verify with CKM_ECDSA*): the card has no verify command, and a
//! public key needs no card. Covers the curves RustCrypto implements (P-256, P-384, P-521,
//! secp256k1, brainpoolP256r1/t1, brainpoolP384r1/t1); other curves answer `None`.

use ecdsa::signature::hazmat::PrehashVerifier;

use crate::card::curves::Curve;

/// Verifies the PKCS#11 signature `r‖s` over `hash` with the public point `04‖X‖Y`.
/// `Some(true/false)` for a supported curve, `None` when the host cannot verify on this curve.
///
/// A high `s` is accepted (it is normalised first): ECDSA signatures are valid with either `s`,
/// and the card does not normalise; only the secp256k1 crate insists on low `s`.
pub fn verify(curve: &Curve, point: &[u8], hash: &[u8], signature: &[u8]) -> Option<bool> {
    let z = bits2int(hash, order_bits(curve));
    macro_rules! on {
        ($C:ty) => {{
            let vk = ecdsa::VerifyingKey::<$C>::from_sec1_bytes(point);
            let sig = ecdsa::Signature::<$C>::from_slice(signature);
            Some(match (vk, sig) {
                (Ok(vk), Ok(sig)) => vk.verify_prehash(&z, &sig.normalize_s()).is_ok(),
                _ => false,
            })
        }};
    }
    match curve.name {
        "secp256r1" => on!(p256::NistP256),
        "secp384r1" => on!(p384::NistP384),
        "secp521r1" => on!(p521::NistP521),
        "secp256k1" => on!(k256::Secp256k1),
        "brainpoolP256r1" => on!(bp256::BrainpoolP256r1),
        "brainpoolP256t1" => on!(bp256::BrainpoolP256t1),
        "brainpoolP384r1" => on!(bp384::BrainpoolP384r1),
        "brainpoolP384t1" => on!(bp384::BrainpoolP384t1),
        _ => None,
    }
}

/// Whether [`verify`] works on this curve.
pub fn supported(curve: &Curve) -> bool {
    verify(curve, &[], &[], &[]).is_some()
}

/// Bit length of the curve order.
pub fn order_bits(curve: &Curve) -> usize {
    let n = curve.order();
    let Some(i) = n.iter().position(|&b| b != 0) else {
        return 0;
    };
    (n.len() - i - 1) * 8 + (8 - n[i].leading_zeros() as usize)
}

/// Byte length of the curve order: the longest hash prefix ECDSA looks at.
pub fn order_bytes(curve: &Curve) -> usize {
    order_bits(curve).div_ceil(8)
}

/// ECDSA's bits2int (SEC 1 §4.1.3 step 5): the leftmost `order_bits` bits of `hash`, as a
/// big-endian string. The ecdsa crate keeps the rightmost bits instead when the order is not
/// byte-aligned (P-521 with a 66-byte input), so the input is cut here the standard way.
pub fn bits2int(hash: &[u8], order_bits: usize) -> Vec<u8> {
    if hash.len() * 8 <= order_bits {
        return hash.to_vec();
    }
    let n = order_bits.div_ceil(8);
    let mut z = hash[..n].to_vec();
    let shift = n * 8 - order_bits;
    if shift > 0 {
        for i in (0..n).rev() {
            let carry = if i > 0 { z[i - 1] << (8 - shift) } else { 0 };
            z[i] = (z[i] >> shift) | carry;
        }
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::PrehashSigner;

    #[test]
    fn p256_good_and_flipped() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
        let point = sk.verifying_key().to_sec1_point(false);
        let hash = [0x42u8; 32];
        let sig: p256::ecdsa::Signature = sk.sign_prehash(&hash).unwrap();
        let raw = sig.to_bytes();
        let curve = Curve::by_name("secp256r1").unwrap();
        assert_eq!(verify(curve, point.as_bytes(), &hash, &raw), Some(true));
        let mut bad = raw.to_vec();
        bad[10] ^= 1;
        assert_eq!(verify(curve, point.as_bytes(), &hash, &bad), Some(false));
        assert_eq!(
            verify(curve, point.as_bytes(), &hash, &raw[..63]),
            Some(false)
        );
        assert_eq!(verify(curve, &[4, 1, 2], &hash, &raw), Some(false));
        // A longer "hash" is cut to the order length.
        let long = [hash.as_slice(), &[9; 32]].concat();
        assert_eq!(verify(curve, point.as_bytes(), &long, &raw), Some(true));
    }

    #[test]
    fn curve_support_and_orders() {
        for (name, bits, ok) in [
            ("secp256r1", 256, true),
            ("secp384r1", 384, true),
            ("secp521r1", 521, true),
            ("secp256k1", 256, true),
            ("brainpoolP256r1", 256, true),
            ("brainpoolP384r1", 384, true),
            ("brainpoolP320r1", 320, false),
            ("secp192r1", 192, false),
        ] {
            let c = Curve::by_name(name).unwrap();
            assert_eq!(order_bits(c), bits, "{name}");
            assert_eq!(supported(c), ok, "{name}");
        }
        assert_eq!(order_bytes(Curve::by_name("secp521r1").unwrap()), 66);
    }

    #[test]
    fn bits2int_keeps_leftmost_bits() {
        let z = bits2int(&[0xFF; 66], 521);
        assert_eq!((z.len(), z[0]), (66, 0x01));
        assert!(z[1..].iter().all(|&b| b == 0xFF));
        assert_eq!(bits2int(&[1, 2, 3], 256), vec![1, 2, 3]);
        assert_eq!(bits2int(&[7u8; 64], 256), vec![7u8; 32]);
    }
}
