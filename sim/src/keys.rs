//! A key as the simulated card stores it: its material and the attributes set at generation or
//! unwrap (algorithm list, key domain, use counter, default algorithm). Plain data, persisted in
//! the device state; the operations live in `crypto`.

use serde::{Deserialize, Serialize};

/// Private (or secret) key material. Byte strings are big-endian unsigned integers.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyMaterial {
    /// `curve` is a name from `crypto::curves` (e.g. "secp256r1"); `d` is the private scalar at
    /// full field width; `q` the public point `04‖X‖Y`.
    Ec {
        curve: String,
        d: Vec<u8>,
        q: Vec<u8>,
    },
    /// Private key in CRT form; `bits` is the modulus size.
    Rsa {
        bits: u16,
        n: Vec<u8>,
        e: Vec<u8>,
        d: Vec<u8>,
        p: Vec<u8>,
        q: Vec<u8>,
    },
    /// AES key of 16, 24 or 32 bytes.
    Aes { key: Vec<u8> },
}

impl std::fmt::Debug for KeyMaterial {
    // Never print key material, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyMaterial::Ec { curve, .. } => write!(f, "Ec({curve})"),
            KeyMaterial::Rsa { bits, .. } => write!(f, "Rsa({bits})"),
            KeyMaterial::Aes { key } => write!(f, "Aes({})", key.len() * 8),
        }
    }
}

/// A key object CCxx.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Key {
    pub material: KeyMaterial,
    /// Allowed algorithm ids (tag 91 / blob field); empty = unrestricted.
    pub algorithms: Vec<u8>,
    /// Key domain (tag 92), 0 by default.
    pub domain: u8,
    /// Remaining uses (tag 90); `None` = unlimited.
    pub use_counter: Option<u32>,
    /// Default algorithm OID content bytes (the blob's field; from the GAKP OID for generated keys).
    pub default_algorithm: Vec<u8>,
}
