//! Vendor-defined PKCS#11 constants of this module: the single source for
//! `include/schsm-pkcs11.h` (build.rs fails the build when the two disagree).
//!
//! All values are `CK*_VENDOR_DEFINED | 0x5348_xxxx` ("SH", for SmartCard-HSM). sc-hsm-embedded
//! uses CKM_VENDOR_DEFINED + 0x01..0x13 and CKA_VENDOR_DEFINED + 0x100..0x112 for its own ids;
//! ours cannot collide with those, nor with OpenSC's CKA_VENDOR_DEFINED | 0x4F53xxxx ("OS").

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_MECHANISM_TYPE};

/// C_WrapKey / C_UnwrapKey under the DKEK of the key's domain: WRAP KEY / UNWRAP KEY, with the
/// sc-hsm-tool wrapped-key envelope (PROTOCOL.md §8.5) as the wrapped form. No parameter.
pub const CKM_SCHSM_DKEK_WRAP: CK_MECHANISM_TYPE = 0xD348_0001;
/// C_UnwrapKey of a PKCS#8 PrivateKeyInfo (DER, unencrypted) with the DKEK object as the
/// unwrapping key: the module encodes a key blob under the DKEK it holds (config `[dkek]`) and
/// imports it. No parameter.
pub const CKM_SCHSM_PKCS8_IMPORT: CK_MECHANISM_TYPE = 0xD348_0002;

/// The card's key reference (CCxx) of a key object, as one byte (read-only).
pub const CKA_SCHSM_KEY_ID: CK_ATTRIBUTE_TYPE = 0xD348_0001;
/// The card algorithm ids (the P2 values of SIGN/DECIPHER/WRAP, e.g. `73 92`) a key is
/// restricted to, as kept in its PRKD's algReference; absent when unrestricted (read-only).
pub const CKA_SCHSM_ALGORITHM_LIST: CK_ATTRIBUTE_TYPE = 0xD348_0002;
/// The key domain (fw >= 3.0, PROTOCOL.md §8.7), one byte: on a DKEK object the domain whose
/// DKEK it is; in the private (or secret) key template of C_GenerateKeyPair / C_GenerateKey the
/// domain the new key goes into (GAKP / GSK tag 92). Absent on keys whose domain is unknown.
pub const CKA_SCHSM_KEY_DOMAIN: CK_ATTRIBUTE_TYPE = 0xD348_0003;

/// Every constant with its name, as build.rs and tests compare them with the header.
// CK_ULONG is u32 on some targets: the casts are needed there.
#[allow(clippy::unnecessary_cast)]
pub const ALL: &[(&str, u64)] = &[
    ("CKM_SCHSM_DKEK_WRAP", CKM_SCHSM_DKEK_WRAP as u64),
    ("CKM_SCHSM_PKCS8_IMPORT", CKM_SCHSM_PKCS8_IMPORT as u64),
    ("CKA_SCHSM_KEY_ID", CKA_SCHSM_KEY_ID as u64),
    ("CKA_SCHSM_ALGORITHM_LIST", CKA_SCHSM_ALGORITHM_LIST as u64),
    ("CKA_SCHSM_KEY_DOMAIN", CKA_SCHSM_KEY_DOMAIN as u64),
];

/// Build metadata from build.rs: crate version and git id (`unknown` outside a checkout).
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const BUILD_GIT_ID: &str = env!("SCHSM_GIT_ID");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_ranges_and_no_collisions() {
        for (name, v) in ALL {
            assert!(*v >= 0x8000_0000 && *v <= 0xFFFF_FFFF, "{name}");
            // sc-hsm-embedded's ids
            assert!(!(0x8000_0001..=0x8000_0013).contains(v), "{name}");
            assert!(!(0x8000_0100..=0x8000_0112).contains(v), "{name}");
        }
        assert!(!BUILD_GIT_ID.is_empty());
    }
}
