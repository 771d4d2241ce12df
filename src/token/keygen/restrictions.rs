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

/// The list to send with a new key of `family`, or `None` for no list.
///
/// - Unrestricted (no CKA_ALLOWED_MECHANISMS): no list, whether extractable or not.
/// - Restricted: the card algorithms of the allowed mechanisms of this family, plus WRAP (92)
///   when the key is extractable. A list that would be empty is not sent (the card reads an
///   empty list as "unrestricted"); the module alone then enforces the restriction.
/// - Firmware 3.1 with an extractable key (bug #168): a blob with a list could never be
///   unwrapped on 3.1, so no list is sent and the module enforces CKA_ALLOWED_MECHANISMS.
pub fn algorithm_list(
    profile: &FirmwareProfile,
    family: Family,
    allowed: Option<&[CK_MECHANISM_TYPE]>,
    extractable: bool,
) -> Option<Vec<u8>> {
    let allowed = allowed?;
    let same_family: Vec<CK_MECHANISM_TYPE> = allowed
        .iter()
        .copied()
        .filter(|&m| mechanisms::spec(m).is_some_and(|s| s.family == family))
        .collect();
    let mut list = mechanisms::card_algorithms(&same_family);
    if extractable {
        list.push(id::WRAP);
    }
    if list.is_empty() {
        log::info!(
            "CKA_ALLOWED_MECHANISMS {allowed:x?} uses no card algorithm: no list sent, \
             the module enforces the restriction"
        );
        return None;
    }
    if !keep_algorithm_list_at_generation(profile, extractable) {
        log::info!(
            "firmware {}: extractable key generated without its algorithm list {list:02X?} \
             (bug #168: the key could not be unwrapped on 3.1 again); CKA_ALLOWED_MECHANISMS \
             {allowed:x?} is kept beside the key and enforced by the module",
            profile.version
        );
        return None;
    }
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
        assert_eq!(algorithm_list(&v35, Family::Ec, None, false), None);
        assert_eq!(algorithm_list(&v35, Family::Ec, None, true), None);
        assert_eq!(
            algorithm_list(&v35, Family::Ec, Some(&ecdsa), false),
            Some(vec![0x70])
        );
        assert_eq!(
            algorithm_list(&v35, Family::Ec, Some(&ecdsa), true),
            Some(vec![0x70, 0x92])
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
            Some(vec![0x20, 0x21])
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
