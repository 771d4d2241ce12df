//! Algorithm identifiers: the P2 of SIGN, DECIPHER and CIPHER SYMMETRIC, which are also the
//! entries of a key's allowed-algorithm list (GAKP/GSK tag 91, key blob) (PROTOCOL.md §4.14).

/// Raw algorithm ids that are not signature or cipher choices.
pub mod id {
    pub const RSA_DECRYPT_RAW: u8 = 0x21;
    pub const ECDH: u8 = 0x80;
    pub const ECDH_AUTPUK: u8 = 0x83;
    pub const ECDH_XKEK: u8 = 0x84;
    pub const WRAP: u8 = 0x92;
    pub const UNWRAP: u8 = 0x93;
    pub const EC_DERIVE: u8 = 0x98;
}

/// Hash functions the card can apply itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// Offset inside the 0x31/0x41/0x71 families.
    fn offset(self) -> u8 {
        match self {
            Hash::Sha1 => 0,
            Hash::Sha224 => 1,
            Hash::Sha256 => 2,
            Hash::Sha384 => 3,
            Hash::Sha512 => 4,
        }
    }

    fn from_offset(o: u8) -> Option<Hash> {
        Some(match o {
            0 => Hash::Sha1,
            1 => Hash::Sha224,
            2 => Hash::Sha256,
            3 => Hash::Sha384,
            4 => Hash::Sha512,
            _ => return None,
        })
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha224 => 28,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
}

/// What SIGN (`80 68 <id> <P2>`) should do with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignAlgorithm {
    /// 20: raw RSA on a modulus-size block the host has padded.
    RsaRaw,
    /// 30: PKCS#1 v1.5 padding by the card around a DigestInfo.
    RsaPkcs1DigestInfo,
    /// 31–35: hash on the card, then PKCS#1 v1.5 (SHA-224 is pico-only, SHA-384 fw ≥ 3).
    RsaPkcs1(Hash),
    /// 40: PSS over a hash computed by the host (salt = hash length, MGF1 with the same hash).
    RsaPssHashed,
    /// 41–45: hash on the card, then PSS.
    RsaPss(Hash),
    /// 70: ECDSA over a hash computed by the host.
    EcdsaHashed,
    /// 71–75: hash on the card, then ECDSA.
    Ecdsa(Hash),
}

impl SignAlgorithm {
    pub fn p2(self) -> u8 {
        match self {
            SignAlgorithm::RsaRaw => 0x20,
            SignAlgorithm::RsaPkcs1DigestInfo => 0x30,
            SignAlgorithm::RsaPkcs1(h) => 0x31 + h.offset(),
            SignAlgorithm::RsaPssHashed => 0x40,
            SignAlgorithm::RsaPss(h) => 0x41 + h.offset(),
            SignAlgorithm::EcdsaHashed => 0x70,
            SignAlgorithm::Ecdsa(h) => 0x71 + h.offset(),
        }
    }

    pub fn from_p2(p2: u8) -> Option<Self> {
        Some(match p2 {
            0x20 => SignAlgorithm::RsaRaw,
            0x30 => SignAlgorithm::RsaPkcs1DigestInfo,
            0x31..=0x35 => SignAlgorithm::RsaPkcs1(Hash::from_offset(p2 - 0x31)?),
            0x40 => SignAlgorithm::RsaPssHashed,
            0x41..=0x45 => SignAlgorithm::RsaPss(Hash::from_offset(p2 - 0x41)?),
            0x70 => SignAlgorithm::EcdsaHashed,
            0x71..=0x75 => SignAlgorithm::Ecdsa(Hash::from_offset(p2 - 0x71)?),
            _ => return None,
        })
    }

    pub fn is_ec(self) -> bool {
        matches!(self, SignAlgorithm::EcdsaHashed | SignAlgorithm::Ecdsa(_))
    }
}

/// CIPHER SYMMETRIC operations (`80 78 <id> <P2>`), fw ≥ 3.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherAlgorithm {
    /// 10: AES-CBC encryption, IV zero, whole blocks.
    AesCbcEncrypt,
    /// 11: AES-CBC decryption, IV zero, whole blocks.
    AesCbcDecrypt,
    /// 18: AES-CMAC, 16 bytes out.
    AesCmac,
    /// 99: AES key derivation (SP 800-56C style; function uncertain, §4.16).
    AesDerive,
}

impl CipherAlgorithm {
    pub fn p2(self) -> u8 {
        match self {
            CipherAlgorithm::AesCbcEncrypt => 0x10,
            CipherAlgorithm::AesCbcDecrypt => 0x11,
            CipherAlgorithm::AesCmac => 0x18,
            CipherAlgorithm::AesDerive => 0x99,
        }
    }

    pub fn from_p2(p2: u8) -> Option<Self> {
        Some(match p2 {
            0x10 => CipherAlgorithm::AesCbcEncrypt,
            0x11 => CipherAlgorithm::AesCbcDecrypt,
            0x18 => CipherAlgorithm::AesCmac,
            0x99 => CipherAlgorithm::AesDerive,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_p2_round_trip() {
        let all: Vec<u8> = [0x20, 0x30, 0x40, 0x70]
            .into_iter()
            .chain(0x31..=0x35)
            .chain(0x41..=0x45)
            .chain(0x71..=0x75)
            .collect();
        for p2 in all {
            let a = SignAlgorithm::from_p2(p2).unwrap();
            assert_eq!(a.p2(), p2);
        }
        assert_eq!(SignAlgorithm::Ecdsa(Hash::Sha256).p2(), 0x73);
        assert_eq!(SignAlgorithm::RsaPkcs1(Hash::Sha1).p2(), 0x31);
        assert!(SignAlgorithm::from_p2(0x36).is_none());
        assert!(SignAlgorithm::from_p2(0x21).is_none());
        assert!(SignAlgorithm::EcdsaHashed.is_ec() && !SignAlgorithm::RsaRaw.is_ec());
        assert_eq!(Hash::Sha384.digest_len(), 48);
    }

    #[test]
    fn cipher_p2_round_trip() {
        for p2 in [0x10, 0x11, 0x18, 0x99] {
            assert_eq!(CipherAlgorithm::from_p2(p2).unwrap().p2(), p2);
        }
        assert!(CipherAlgorithm::from_p2(0x12).is_none());
    }
}
