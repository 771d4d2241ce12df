//! The simulated card's cryptography: key generation, signatures, ECDH, AES, CV certificates
//! and requests, and DKEK key blobs. Everything is computed with RustCrypto crates; this module
//! only selects, encodes and checks, the way the card does (PROTOCOL §4.7, §4.14-4.19, §6, §8).
//!
//! Key material is [`crate::keys::KeyMaterial`]; EC keys name their curve as in [`curves`].

pub mod blob;
pub mod curves;
pub mod cvc;
pub mod tlv;

mod aes_ops;
mod ec;
mod rsa_ops;

use rand::Rng;
use sha2::Digest;

use crate::keys::KeyMaterial;

/// Why a cryptographic operation was refused. The APDU layer maps these to status words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// Input of the wrong length or value, wrong key type, point not on the curve, ...
    InvalidInput,
    /// A curve, key size or algorithm the simulator (card) does not offer.
    Unsupported,
    /// The KCV in a key blob is not the one of the DKEK.
    KcvMismatch,
    /// The CMAC of a key blob does not verify.
    MacMismatch,
    /// A blob, certificate or key whose structure cannot be parsed or is inconsistent.
    Malformed,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            CryptoError::InvalidInput => "invalid input",
            CryptoError::Unsupported => "unsupported algorithm, curve or size",
            CryptoError::KcvMismatch => "key blob does not match the DKEK (KCV)",
            CryptoError::MacMismatch => "key blob MAC does not verify",
            CryptoError::Malformed => "malformed structure",
        };
        f.write_str(text)
    }
}

impl std::error::Error for CryptoError {}

/// The hash algorithms of the card's SIGN variants (PROTOCOL §4.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub fn digest(self, msg: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha1 => sha1::Sha1::digest(msg).to_vec(),
            HashAlg::Sha224 => sha2::Sha224::digest(msg).to_vec(),
            HashAlg::Sha256 => sha2::Sha256::digest(msg).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(msg).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(msg).to_vec(),
        }
    }

    /// The hash whose output has `len` bytes (how the card infers the hash of PSS P2 `40`).
    pub fn from_len(len: usize) -> Option<HashAlg> {
        match len {
            20 => Some(HashAlg::Sha1),
            28 => Some(HashAlg::Sha224),
            32 => Some(HashAlg::Sha256),
            48 => Some(HashAlg::Sha384),
            64 => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 => 28,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// DER DigestInfo prefix (SEQUENCE { AlgorithmIdentifier, OCTET STRING header }).
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            HashAlg::Sha224 => &[
                0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x04, 0x05, 0x00, 0x04, 0x1c,
            ],
            HashAlg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlg::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// Random bytes from the operating system's CSPRNG (keys, challenges, blob padding).
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    rand::rng().fill_bytes(&mut out);
    out
}

/// A fresh EC key pair on `curve`.
///
/// # Panics
/// If `curve` is not one of [`curves::supported`] (a programming error: the APDU layer looks
/// curves up with [`curves::by_params`] / [`curves::by_name`] first).
pub fn generate_ec(curve: &curves::Curve) -> KeyMaterial {
    let (d, q) =
        ec::generate(curve).expect("generate_ec called with a curve not from curves::supported()");
    KeyMaterial::Ec {
        curve: curve.name.to_string(),
        d,
        q,
    }
}

/// A fresh RSA key of `bits` (1024..=4096, multiple of 8) with the given public exponent.
pub fn generate_rsa(bits: usize, public_exponent: &[u8]) -> Result<KeyMaterial, CryptoError> {
    rsa_ops::generate(bits, public_exponent)
}

/// A fresh AES key of 16, 24 or 32 bytes.
pub fn generate_aes(len_bytes: usize) -> Result<KeyMaterial, CryptoError> {
    if ![16, 24, 32].contains(&len_bytes) {
        return Err(CryptoError::Unsupported);
    }
    Ok(KeyMaterial::Aes {
        key: random_bytes(len_bytes),
    })
}

/// The curve and private scalar of an EC key.
fn ec_parts(key: &KeyMaterial) -> Result<(&'static curves::Curve, &[u8]), CryptoError> {
    match key {
        KeyMaterial::Ec { curve, d, .. } => {
            Ok((curves::by_name(curve).ok_or(CryptoError::Unsupported)?, d))
        }
        _ => Err(CryptoError::InvalidInput),
    }
}

/// ECDSA over a hash (any length: truncated/handled per ECDSA rules; the card accepts hashes of
/// any size). Returns DER SEQUENCE{r,s}, as SIGN answers (PROTOCOL §4.14).
pub fn ecdsa_sign_hash(key: &KeyMaterial, hash: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (curve, d) = ec_parts(key)?;
    let (r, s) = ec::sign(curve, d, hash)?;
    let mut body = tlv::der_unsigned_integer(&r);
    body.extend(tlv::der_unsigned_integer(&s));
    Ok(tlv::encode(0x30, &body))
}

/// Same but r‖s fixed width (field/order length), as in CV certificates.
pub fn ecdsa_sign_hash_raw(key: &KeyMaterial, hash: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (curve, d) = ec_parts(key)?;
    let (mut r, s) = ec::sign(curve, d, hash)?;
    r.extend(s);
    Ok(r)
}

/// ECDH: peer point 04‖X‖Y (also accepts X‖Y without 04); returns the shared point 04‖X‖Y.
/// Rejects points not on the curve.
pub fn ecdh(key: &KeyMaterial, peer: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (curve, d) = ec_parts(key)?;
    let field = curve.field_len();
    let point = if peer.len() == 2 * field {
        [&[0x04][..], peer].concat()
    } else if peer.len() == 2 * field + 1 && peer[0] == 0x04 {
        peer.to_vec()
    } else {
        return Err(CryptoError::InvalidInput);
    };
    ec::shared_point(curve, d, &point)
}

/// Raw RSA private operation m^d mod n; input must have exactly the modulus byte length and be
/// < n; output modulus length.
pub fn rsa_raw(key: &KeyMaterial, input: &[u8]) -> Result<Vec<u8>, CryptoError> {
    rsa_ops::raw(key, input)
}

/// PKCS#1 v1.5 type-1 padding done by the card over a DigestInfo (or any data that fits, at
/// most modulus length − 11 bytes), then raw.
pub fn rsa_pkcs1_sign(key: &KeyMaterial, digest_info: &[u8]) -> Result<Vec<u8>, CryptoError> {
    rsa_ops::pkcs1_sign(key, digest_info)
}

/// DigestInfo DER for a hash.
pub fn digest_info(alg: HashAlg, hash: &[u8]) -> Vec<u8> {
    [alg.digest_info_prefix(), hash].concat()
}

/// RSA-PSS over a hash, MGF1 with the same hash, salt length = hash length.
pub fn rsa_pss_sign(key: &KeyMaterial, alg: HashAlg, hash: &[u8]) -> Result<Vec<u8>, CryptoError> {
    rsa_ops::pss_sign(key, alg, hash)
}

fn aes_key(key: &KeyMaterial) -> Result<&[u8], CryptoError> {
    match key {
        KeyMaterial::Aes { key } => Ok(key),
        _ => Err(CryptoError::InvalidInput),
    }
}

/// AES-CBC encryption with a zero IV; `data` must be a multiple of 16 bytes.
pub fn aes_cbc_encrypt(key: &KeyMaterial, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    aes_ops::cbc_encrypt(aes_key(key)?, data)
}

/// AES-CBC decryption with a zero IV; `data` must be a multiple of 16 bytes.
pub fn aes_cbc_decrypt(key: &KeyMaterial, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    aes_ops::cbc_decrypt(aes_key(key)?, data)
}

/// AES-CMAC (16 bytes) over any data.
pub fn aes_cmac(key: &KeyMaterial, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    aes_ops::cmac(aes_key(key)?, data)
}

/// Bits of the key: RSA modulus bits, EC field bits (521 for P-521), AES key bits.
pub fn key_bits(key: &KeyMaterial) -> usize {
    match key {
        KeyMaterial::Rsa { bits, .. } => *bits as usize,
        KeyMaterial::Ec { curve, q, .. } => match curves::by_name(curve) {
            Some(c) => c.bits(),
            None => q.len().saturating_sub(1) / 2 * 8,
        },
        KeyMaterial::Aes { key } => key.len() * 8,
    }
}

#[cfg(test)]
mod tests;
