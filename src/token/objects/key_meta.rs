//! Host-kept key metadata in file CBxx, beside key xx: what the card cannot tell about a key
//! but PKCS#11 must report the same in every process and on every machine — the exact
//! CKA_ALLOWED_MECHANISMS, CKA_EXTRACTABLE and CKA_LOCAL. The restriction itself also lives in
//! the key's description (algReference, `restriction.rs`), which is what travels with a wrapped
//! key and what keys without CBxx (unwrapped from other tools, older files) are read from.
//!
//! CBxx is the prefix Smart Card Shell uses for key metadata; our content is recognisable
//! (`E0 { 80 flags [81 mechanisms] }`) and anything else found there is treated as "no
//! metadata" (defaults). Keys without restrictions and with default flags get no CBxx file.
//!
//! Format: `E0 L { 80 01 <flags: 01 extractable, 02 not generated on the card> [81 L
//! <mechanisms, 4 bytes big-endian each>] }`.

use cryptoki_sys::CK_MECHANISM_TYPE;

use crate::card::fid::Fid;
use crate::card::tlv::{self, Tlv};

pub const PREFIX: u8 = 0xCB;
const TAG: u16 = 0xE0;
const EXTRACTABLE: u8 = 0x01;
const NOT_LOCAL: u8 = 0x02;

/// The metadata file of key `id`.
pub fn fid(id: u8) -> Fid {
    Fid::new(PREFIX, id)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMeta {
    /// CKA_ALLOWED_MECHANISMS; `None` = unrestricted (the attribute is then absent).
    pub allowed_mechanisms: Option<Vec<CK_MECHANISM_TYPE>>,
    /// CKA_EXTRACTABLE (wrappable under the DKEK).
    pub extractable: bool,
    /// CKA_LOCAL: generated on the card (false for unwrapped / imported keys).
    pub local: bool,
}

/// The device default: unrestricted, exportable under the DKEK (a key without an algorithm
/// list may be wrapped), generated on the card.
impl Default for KeyMeta {
    fn default() -> Self {
        KeyMeta {
            allowed_mechanisms: None,
            extractable: true,
            local: true,
        }
    }
}

impl KeyMeta {
    pub fn is_default(&self) -> bool {
        *self == KeyMeta::default()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut flags = 0;
        if self.extractable {
            flags |= EXTRACTABLE;
        }
        if !self.local {
            flags |= NOT_LOCAL;
        }
        let mut body = tlv::encode(0x80, &[flags]);
        if let Some(m) = &self.allowed_mechanisms {
            let bytes: Vec<u8> = m.iter().flat_map(|&x| (x as u32).to_be_bytes()).collect();
            tlv::write(&mut body, 0x81, &bytes);
        }
        tlv::encode(TAG, &body)
    }

    /// Decodes our format; `None` for anything else (another tool's CBxx).
    pub fn decode(bytes: &[u8]) -> Option<KeyMeta> {
        let top = Tlv::parse(bytes).ok()?.0;
        if top.tag != TAG {
            return None;
        }
        let flags = *top.find(0x80).ok()??.value.first()?;
        let allowed_mechanisms = match top.find(0x81).ok()? {
            Some(m) if m.value.len() % 4 == 0 => Some(
                m.value
                    .chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as CK_MECHANISM_TYPE)
                    .collect(),
            ),
            Some(_) => return None,
            None => None,
        };
        Some(KeyMeta {
            allowed_mechanisms,
            extractable: flags & EXTRACTABLE != 0,
            local: flags & NOT_LOCAL == 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::{CKM_ECDSA, CKM_ECDSA_SHA256};

    #[test]
    fn round_trip() {
        let m = KeyMeta {
            allowed_mechanisms: Some(vec![CKM_ECDSA, CKM_ECDSA_SHA256, 0x8000_0001]),
            extractable: true,
            local: false,
        };
        let bytes = m.encode();
        assert_eq!(bytes[0], 0xE0);
        assert_eq!(KeyMeta::decode(&bytes), Some(m));
        let empty = KeyMeta {
            allowed_mechanisms: Some(vec![]),
            ..KeyMeta::default()
        };
        assert_eq!(KeyMeta::decode(&empty.encode()), Some(empty));
        assert!(KeyMeta::default().is_default());
        assert_eq!(KeyMeta::decode(&[0x30, 0x00]), None);
        assert_eq!(KeyMeta::decode(&[0xE0, 0x03, 0x81, 0x01, 0x00]), None);
        assert_eq!(KeyMeta::decode(&[]), None);
        assert_eq!(fid(3), Fid(0xCB03));
    }
}
