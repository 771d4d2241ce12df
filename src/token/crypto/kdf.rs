//! The key derivation functions of CKM_ECDH1_DERIVE (CK_ECDH1_DERIVE_PARAMS.kdf). The card only
//! computes the shared secret Z (DECIPHER P2 80); everything after that happens here.

use cryptoki_sys::{
    CKD_NULL, CKD_SHA1_KDF, CKD_SHA224_KDF, CKD_SHA256_KDF, CKD_SHA384_KDF, CKD_SHA512_KDF,
    CK_ULONG,
};
use zeroize::Zeroizing;

use super::hash::HashAlg;

/// A KDF the module supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// CKD_NULL: the key is Z itself (truncated to the wanted length).
    Null,
    /// CKD_SHAx_KDF: ANSI X9.63 with this hash.
    X963(HashAlg),
}

impl Kdf {
    pub fn from_ckd(kdf: CK_ULONG) -> Option<Kdf> {
        Some(match kdf {
            CKD_NULL => Kdf::Null,
            CKD_SHA1_KDF => Kdf::X963(HashAlg::Sha1),
            CKD_SHA224_KDF => Kdf::X963(HashAlg::Sha224),
            CKD_SHA256_KDF => Kdf::X963(HashAlg::Sha256),
            CKD_SHA384_KDF => Kdf::X963(HashAlg::Sha384),
            CKD_SHA512_KDF => Kdf::X963(HashAlg::Sha512),
            _ => return None,
        })
    }

    /// `len` bytes of key from the shared secret `z`; `None` when CKD_NULL is asked for more than
    /// Z has.
    pub fn derive(self, z: &[u8], shared_info: &[u8], len: usize) -> Option<Zeroizing<Vec<u8>>> {
        match self {
            Kdf::Null => z.get(..len).map(|k| Zeroizing::new(k.to_vec())),
            Kdf::X963(hash) => Some(x963(hash, z, shared_info, len)),
        }
    }
}

/// ANSI X9.63 / SEC 1 §3.6.1 KDF: Hash(Z ‖ counter ‖ SharedInfo) for counter = 1, 2, …
/// (4-byte big-endian), concatenated and cut to `len` bytes.
pub fn x963(hash: HashAlg, z: &[u8], shared_info: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + hash.len()));
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut h = hash.hasher();
        h.update(z);
        h.update(&counter.to_be_bytes());
        h.update(shared_info);
        out.extend_from_slice(&Zeroizing::new(h.finalize()));
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn x963_sha256_cavp_vector() {
        // NIST CAVS "ansx963_2001" SHA-256, shared secret 192 bits, SharedInfo 0, key 128 bits,
        // COUNT = 0.
        let z = hex("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08");
        let key = x963(HashAlg::Sha256, &z, &[], 16);
        assert_eq!(key.as_slice(), hex("443024c3dae66b95e6f5670601558f71"));
    }

    #[test]
    fn x963_is_the_counter_construction() {
        let z = [7u8; 32];
        let info = b"info";
        let long = x963(HashAlg::Sha1, &z, info, 45);
        let mut want = Vec::new();
        for c in 1u32..=3 {
            want.extend(HashAlg::Sha1.digest(&[&z[..], &c.to_be_bytes(), info].concat()));
        }
        assert_eq!(long.as_slice(), &want[..45]);
    }

    #[test]
    fn null_kdf_truncates_and_refuses_to_grow() {
        let z = [1, 2, 3, 4];
        assert_eq!(Kdf::Null.derive(&z, &[], 2).unwrap().as_slice(), &[1, 2]);
        assert_eq!(Kdf::Null.derive(&z, &[], 4).unwrap().as_slice(), &z);
        assert!(Kdf::Null.derive(&z, &[], 5).is_none());
        assert_eq!(Kdf::from_ckd(CKD_NULL), Some(Kdf::Null));
        assert_eq!(
            Kdf::from_ckd(CKD_SHA384_KDF),
            Some(Kdf::X963(HashAlg::Sha384))
        );
        assert_eq!(Kdf::from_ckd(CKD_SHA1_KDF + 100), None);
    }
}
