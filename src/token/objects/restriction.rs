//! CKA_ALLOWED_MECHANISMS ↔ the PRKD's `algReference` (card algorithm ids, ISO 7816-15).
//!
//! The restriction lives in the key's description (C4xx) so that it stays beside the key on
//! the card and travels inside every wrapped-key envelope (the bug #168 shim: on 3.1 an
//! extractable key has no list on the card and the module enforces this one). The ids are
//! those of the card's own lists: a hash-and-sign mechanism is the card's hashing algorithm
//! (CKM_ECDSA_SHA256 → 73, as Smart Card Shell writes it), so that {CKM_ECDSA_SHA256} and
//! {CKM_ECDSA} stay different restrictions; 92 (WRAP) marks an exportable key.

use cryptoki_sys::*;

use crate::card::algorithm::id;
use crate::token::crypto::hash::HashAlg;
use crate::token::mechanisms::{self, Family, MechSpec};

fn hash_offset(h: HashAlg) -> u8 {
    match h {
        HashAlg::Sha1 => 0,
        HashAlg::Sha224 => 1,
        HashAlg::Sha256 => 2,
        HashAlg::Sha384 => 3,
        HashAlg::Sha512 => 4,
    }
}

/// The ids that stand for one mechanism in an algReference.
fn ids_of(spec: &MechSpec) -> Vec<u8> {
    let pss = spec.card_algorithms == [0x40];
    match (spec.family, spec.hash) {
        (Family::Ec, Some(h)) if spec.card_algorithms == [0x70] => vec![0x71 + hash_offset(h)],
        (Family::Rsa, Some(h)) if pss => vec![0x41 + hash_offset(h)],
        (Family::Rsa, Some(h)) => vec![0x31 + hash_offset(h)],
        _ => spec.card_algorithms.to_vec(),
    }
}

/// The algReference for a restricted key (sorted, without duplicates).
pub fn to_alg_reference(allowed: &[CK_MECHANISM_TYPE], extractable: bool) -> Vec<u8> {
    let mut out: Vec<u8> = allowed
        .iter()
        .filter_map(|&m| mechanisms::spec(m))
        .flat_map(ids_of)
        .collect();
    if extractable {
        out.push(id::WRAP);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// CKA_ALLOWED_MECHANISMS from an algReference: every mechanism whose ids are all in the list,
/// either its own hashing id or the card algorithm it sends (a key with 70 may use every ECDSA
/// mechanism, the host hashing).
pub fn from_alg_reference(ids: &[u8]) -> Vec<CK_MECHANISM_TYPE> {
    let within = |list: &[u8]| !list.is_empty() && list.iter().all(|i| ids.contains(i));
    mechanisms::all()
        .iter()
        .filter(|s| s.family != Family::Digest)
        .filter(|s| within(&ids_of(s)) || within(s.card_algorithms))
        .map(|s| s.kind)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_sha256_is_73_and_back() {
        let ids = to_alg_reference(&[CKM_ECDSA_SHA256], true);
        assert_eq!(ids, vec![0x73, 0x92]);
        assert_eq!(from_alg_reference(&ids), vec![CKM_ECDSA_SHA256]);
        // A key whose list has 70 may use every ECDSA mechanism.
        let all = from_alg_reference(&[0x70]);
        assert!(all.contains(&CKM_ECDSA) && all.contains(&CKM_ECDSA_SHA384));
        assert!(!all.contains(&CKM_ECDH1_DERIVE));
    }

    #[test]
    fn rsa_and_aes() {
        let ids = to_alg_reference(&[CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS_OAEP], false);
        assert_eq!(ids, vec![0x21, 0x33]);
        let back = from_alg_reference(&ids);
        assert!(back.contains(&CKM_SHA256_RSA_PKCS) && back.contains(&CKM_RSA_PKCS_OAEP));
        assert!(!back.contains(&CKM_RSA_PKCS) && !back.contains(&CKM_SHA1_RSA_PKCS));
        let aes = to_alg_reference(&[CKM_AES_CBC], false);
        assert_eq!(aes, vec![0x10, 0x11]);
        assert!(from_alg_reference(&aes).contains(&CKM_AES_CBC_PAD));
        assert!(from_alg_reference(&[]).is_empty());
        assert!(from_alg_reference(&[0x92]).is_empty());
    }
}
