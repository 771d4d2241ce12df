//! The hash functions the module computes on the host: digests (CKM_SHA_1 …), the hash of the
//! hash-and-sign mechanisms (the card then gets only the hash, one short APDU), DigestInfo for
//! PKCS#1 v1.5, and the hashes OAEP/MGF1 and the X9.63 KDF are built on.

use cryptoki_sys::{
    CKG_MGF1_SHA1, CKG_MGF1_SHA224, CKG_MGF1_SHA256, CKG_MGF1_SHA384, CKG_MGF1_SHA512, CKM_SHA224,
    CKM_SHA256, CKM_SHA384, CKM_SHA512, CKM_SHA_1, CK_MECHANISM_TYPE, CK_ULONG,
};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

/// SHA-1 and SHA-2, the hashes PKCS#11 hosts use with these tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// Every hash, for tables and tests.
pub const ALL: [HashAlg; 5] = [
    HashAlg::Sha1,
    HashAlg::Sha224,
    HashAlg::Sha256,
    HashAlg::Sha384,
    HashAlg::Sha512,
];

impl HashAlg {
    /// The digest mechanism (CKM_SHA_1 …), also what CK_RSA_PKCS_PSS_PARAMS / OAEP name as `hash`.
    pub fn mechanism(self) -> CK_MECHANISM_TYPE {
        match self {
            HashAlg::Sha1 => CKM_SHA_1,
            HashAlg::Sha224 => CKM_SHA224,
            HashAlg::Sha256 => CKM_SHA256,
            HashAlg::Sha384 => CKM_SHA384,
            HashAlg::Sha512 => CKM_SHA512,
        }
    }

    /// The hash named by a digest mechanism.
    pub fn from_mechanism(m: CK_MECHANISM_TYPE) -> Option<HashAlg> {
        ALL.into_iter().find(|h| h.mechanism() == m)
    }

    /// The MGF1 generator (CKG_MGF1_SHA1 …) built on this hash.
    pub fn mgf1(self) -> CK_ULONG {
        match self {
            HashAlg::Sha1 => CKG_MGF1_SHA1,
            HashAlg::Sha224 => CKG_MGF1_SHA224,
            HashAlg::Sha256 => CKG_MGF1_SHA256,
            HashAlg::Sha384 => CKG_MGF1_SHA384,
            HashAlg::Sha512 => CKG_MGF1_SHA512,
        }
    }

    /// The hash of an MGF1 generator.
    pub fn from_mgf1(mgf: CK_ULONG) -> Option<HashAlg> {
        ALL.into_iter().find(|h| h.mgf1() == mgf)
    }

    /// The hash whose output has `len` bytes (how the card's PSS P2 40 infers the hash).
    pub fn from_len(len: usize) -> Option<HashAlg> {
        ALL.into_iter().find(|h| h.len() == len)
    }

    /// Output length in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 => 28,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The DER prefix of a PKCS#1 v1.5 DigestInfo for this hash (RFC 8017 §9.2, note 1): the
    /// DigestInfo is this prefix followed by the hash.
    pub fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04,
                0x14,
            ],
            HashAlg::Sha224 => &[
                0x30, 0x2D, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x04, 0x05, 0x00, 0x04, 0x1C,
            ],
            HashAlg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlg::Sha512 => &[
                0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// DigestInfo ‖ hash, the input of PKCS#1 v1.5 signature padding.
    pub fn digest_info(self, hash: &[u8]) -> Vec<u8> {
        [self.digest_info_prefix(), hash].concat()
    }

    /// One-shot hash.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finalize()
    }

    /// A multi-part hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            HashAlg::Sha1 => Hasher::Sha1(Sha1::new()),
            HashAlg::Sha224 => Hasher::Sha224(Sha224::new()),
            HashAlg::Sha256 => Hasher::Sha256(Sha256::new()),
            HashAlg::Sha384 => Hasher::Sha384(Sha384::new()),
            HashAlg::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
}

/// A hash in progress (C_DigestUpdate, C_SignUpdate of a hash-and-sign mechanism).
#[derive(Clone)]
pub enum Hasher {
    Sha1(Sha1),
    Sha224(Sha224),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha224(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn finalize(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha224(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }

    pub fn alg(&self) -> HashAlg {
        match self {
            Hasher::Sha1(_) => HashAlg::Sha1,
            Hasher::Sha224(_) => HashAlg::Sha224,
            Hasher::Sha256(_) => HashAlg::Sha256,
            Hasher::Sha384(_) => HashAlg::Sha384,
            Hasher::Sha512(_) => HashAlg::Sha512,
        }
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hasher({:?})", self.alg())
    }
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
    fn known_answers_for_abc() {
        // FIPS 180 examples for "abc".
        let cases = [
            (HashAlg::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                HashAlg::Sha224,
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                HashAlg::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ];
        for (h, want) in cases {
            assert_eq!(h.digest(b"abc"), hex(want), "{h:?}");
        }
        for h in ALL {
            assert_eq!(h.digest(b"").len(), h.len());
        }
    }

    #[test]
    fn multi_part_equals_single_part() {
        for h in ALL {
            let mut m = h.hasher();
            m.update(b"hello ");
            m.update(b"");
            m.update(b"world");
            assert_eq!(m.alg(), h);
            assert_eq!(m.finalize(), h.digest(b"hello world"));
        }
    }

    #[test]
    fn digest_info_prefix_announces_the_hash_length() {
        for h in ALL {
            let p = h.digest_info_prefix();
            // The outer SEQUENCE covers the rest, and the OCTET STRING header says hLen.
            assert_eq!(usize::from(p[1]), p.len() - 2 + h.len());
            assert_eq!(&p[p.len() - 2..], &[0x04, h.len() as u8]);
            assert_eq!(h.digest_info(&vec![0; h.len()]).len(), p.len() + h.len());
        }
    }

    #[test]
    fn mechanism_mgf_and_length_lookups() {
        for h in ALL {
            assert_eq!(HashAlg::from_mechanism(h.mechanism()), Some(h));
            assert_eq!(HashAlg::from_mgf1(h.mgf1()), Some(h));
            assert_eq!(HashAlg::from_len(h.len()), Some(h));
        }
        assert_eq!(HashAlg::from_mechanism(0x1234), None);
        assert_eq!(HashAlg::from_mgf1(0), None);
        assert_eq!(HashAlg::from_len(16), None);
    }
}
