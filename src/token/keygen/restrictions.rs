//! CKA_ALLOWED_MECHANISMS and CKA_EXTRACTABLE of a new key → the card's allowed-algorithm list
//! (GAKP / GENERATE SYMMETRIC KEY tag 91), including the bug #168 decision. One function, so
//! that a change of policy changes one place.
//!
//! The card checks the P2 of every SIGN/DECIPHER/CIPHER/WRAP against the list; a key without a
//! list may do everything (wrap included). CKA_ALLOWED_MECHANISMS itself is also kept beside the
//! key (CBxx, see `objects/key_meta.rs`) and checked by the module at every `*Init`, because a
//! card algorithm (e.g. ECDSA on a hash, 70) serves several mechanisms.

use cryptoki_sys::CK_MECHANISM_TYPE;

use crate::card::algorithm::id;
use crate::card::firmware::{keep_algorithm_list_at_generation, FirmwareProfile};
use crate::token::mechanisms::{self, Family};
use crate::token::objects::restriction::to_alg_reference;

/// Every card algorithm a key of `family` can use (host-hash and card-hash forms), without WRAP.
fn every_algorithm(family: Family) -> Vec<u8> {
    let mut out: Vec<u8> = mechanisms::all()
        .iter()
        .filter(|s| s.family == family)
        .flat_map(|s| {
            let mut ids = to_alg_reference(&[s.kind], false);
            ids.extend_from_slice(s.card_algorithms);
            ids
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The list to send with a new key of `family`, or `None` for no list.
///
/// - Unrestricted and extractable (CKA_EXTRACTABLE absent or true): no list (the device
///   default: the card may do everything, wrap included).
/// - Unrestricted, CKA_EXTRACTABLE false: every algorithm of the key type except WRAP (92),
///   so that the card itself refuses to export the key.
/// - Restricted: the card ids of the allowed mechanisms of this family in the card's own
///   terms (CKM_ECDSA_SHA256 → 73, the card hashing; CKM_ECDSA → 70), plus WRAP (92) when
///   the key is extractable. A list that would be empty is not sent (the card reads an empty
///   list as "unrestricted"); the module alone then enforces the restriction.
/// - Firmware 3.1 with an extractable key (bug #168): a blob with a list could never be
///   unwrapped on 3.1, so no list is sent; the restriction is kept in the key's description
///   (algReference) and enforced by the module.
pub fn algorithm_list(
    profile: &FirmwareProfile,
    family: Family,
    allowed: Option<&[CK_MECHANISM_TYPE]>,
    extractable: bool,
) -> Option<Vec<u8>> {
    let list = match allowed {
        None if extractable => return None,
        None => {
            log::info!("key not extractable: card list of every algorithm but WRAP");
            every_algorithm(family)
        }
        Some(allowed) => {
            let same_family: Vec<CK_MECHANISM_TYPE> = allowed
                .iter()
                .copied()
                .filter(|&m| mechanisms::spec(m).is_some_and(|s| s.family == family))
                .collect();
            let list = to_alg_reference(&same_family, extractable);
            if list.is_empty() {
                log::info!(
                    "CKA_ALLOWED_MECHANISMS {allowed:x?} uses no card algorithm: no list sent, \
                     the module enforces the restriction"
                );
                return None;
            }
            list
        }
    };
    if !keep_algorithm_list_at_generation(profile, extractable) {
        log::info!(
            "firmware {}: extractable key generated without its algorithm list {list:02X?} \
             (bug #168: the key could not be unwrapped on 3.1 again); the restriction is kept \
             in the key's description (algReference) and enforced by the module",
            profile.version
        );
        return None;
    }
    debug_assert!(!extractable || list.contains(&id::WRAP));
    Some(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::FirmwareVersion;
    use cryptoki_sys::*;

    fn p(major: u8, minor: u8) -> FirmwareProfile {
        FirmwareProfile::for_version(FirmwareVersion::new(major, minor))
    }

    #[test]
    fn lists_per_case() {
        let v35 = p(3, 5);
        let ecdsa = [CKM_ECDSA_SHA256];
        let every_ec = algorithm_list(&v35, Family::Ec, None, false).unwrap();
        assert!(every_ec.contains(&0x70) && every_ec.contains(&0x73) && every_ec.contains(&0x80));
        assert!(!every_ec.contains(&0x92));
        assert_eq!(algorithm_list(&v35, Family::Ec, None, true), None);
        assert_eq!(
            algorithm_list(&v35, Family::Ec, Some(&ecdsa), false),
            Some(vec![0x73])
        );
        assert_eq!(
            algorithm_list(&v35, Family::Ec, Some(&ecdsa), true),
            Some(vec![0x73, 0x92])
        );
        // Mechanisms of another family add nothing; nothing left → no list.
        assert_eq!(
            algorithm_list(&v35, Family::Ec, Some(&[CKM_RSA_PKCS]), false),
            None
        );
        assert_eq!(algorithm_list(&v35, Family::Ec, Some(&[]), false), None);
        assert_eq!(
            algorithm_list(
                &v35,
                Family::Rsa,
                Some(&[CKM_RSA_PKCS_OAEP, CKM_SHA256_RSA_PKCS]),
                false
            ),
            Some(vec![0x21, 0x33])
        );
    }

    #[test]
    fn bug_168_only_for_extractable_keys_on_3_1() {
        let ecdsa = [CKM_ECDSA];
        assert_eq!(
            algorithm_list(&p(3, 1), Family::Ec, Some(&ecdsa), true),
            None
        );
        assert_eq!(
            algorithm_list(&p(3, 1), Family::Ec, Some(&ecdsa), false),
            Some(vec![0x70])
        );
        assert_eq!(
            algorithm_list(&p(3, 2), Family::Ec, Some(&ecdsa), true),
            Some(vec![0x70, 0x92])
        );
        assert_eq!(
            algorithm_list(&p(3, 1), Family::Aes, Some(&[CKM_AES_CMAC]), false),
            Some(vec![0x18])
        );
    }
}
