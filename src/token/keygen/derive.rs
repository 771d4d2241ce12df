//! C_DeriveKey with CKM_ECDH1_DERIVE / CKM_ECDH1_COFACTOR_DERIVE: the card computes the shared
//! point (DECIPHER P2 80), the host takes its X coordinate (the field-size bytes after the
//! leading 04), applies the KDF (CKD_NULL, or ANSI X9.63 with SHA-1/SHA-2 and the shared data)
//! and makes a session secret key (CKK_GENERIC_SECRET, or CKK_AES by template), held in memory
//! (`objects::session_secret`).

use cryptoki_sys::*;

use crate::card::crypto_ops::ecdh_shared_x;
use crate::card::tlv::Tlv;
use crate::token::api::{Attribute, Mechanism, MechanismParam};
use crate::token::card_error::CardOp;
use crate::token::crypto::kdf::Kdf;
use crate::token::error::{Error, Result};
use crate::token::objects::attributes::{self as attr, find_bool, find_ulong};
use crate::token::operations::keycheck::{self, Function};
use crate::token::session::SessionRef;

pub fn derive_key(
    s: &SessionRef,
    mechanism: &Mechanism,
    base_key: CK_OBJECT_HANDLE,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    let mut attrs = derived_key_template(s, mechanism, base_key, template)?;
    let handle = s.add_session_object(&attrs);
    // The attribute list held the key value; wipe our copy.
    for a in attrs.iter_mut().filter(|a| a.kind == CKA_VALUE) {
        zeroize::Zeroize::zeroize(&mut a.value);
    }
    handle
}

/// Everything of C_DeriveKey but making the object: the template of the new session secret
/// key (the caller's, completed with class, type, CKA_VALUE and CKA_VALUE_LEN).
pub fn derived_key_template(
    s: &SessionRef,
    mechanism: &Mechanism,
    base_key: CK_OBJECT_HANDLE,
    template: &[Attribute],
) -> Result<Vec<Attribute>> {
    let spec = keycheck::mechanism(s, mechanism, Function::Derive)?;
    let MechanismParam::Ecdh {
        kdf,
        shared_data,
        public_data,
    } = &mechanism.param
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let kdf = Kdf::from_ckd(*kdf).ok_or(Error::MechanismParamInvalid)?;
    if kdf == Kdf::Null && !shared_data.is_empty() {
        return Err(Error::MechanismParamInvalid);
    }
    let key = keycheck::key(s, base_key, spec, Function::Derive)?;
    let field_bytes = keycheck::field_bytes(&key);
    let peer = peer_point(public_data, field_bytes).ok_or(Error::MechanismParamInvalid)?;

    attr::check_template(template)?;
    if find_ulong(template, CKA_CLASS).is_some_and(|c| c != CKO_SECRET_KEY) {
        return Err(Error::TemplateInconsistent);
    }
    if find_bool(template, CKA_TOKEN) == Some(true) {
        log::info!("ECDH: derived keys are session objects; CKA_TOKEN true refused");
        return Err(Error::TemplateInconsistent);
    }
    let key_type = find_ulong(template, CKA_KEY_TYPE).unwrap_or(CKK_GENERIC_SECRET);
    let len = match find_ulong(template, CKA_VALUE_LEN) {
        Some(n) => usize::try_from(n).map_err(|_| Error::AttributeValueInvalid)?,
        None => field_bytes,
    };
    let len_ok = match key_type {
        CKK_GENERIC_SECRET => len > 0,
        CKK_AES => matches!(len, 16 | 24 | 32),
        _ => return Err(Error::TemplateInconsistent),
    };
    if !len_ok || (kdf == Kdf::Null && len > field_bytes) {
        return Err(Error::AttributeValueInvalid);
    }

    let id = keycheck::card_key(s, &key)?;
    let z = s.with_card(CardOp::Derive, |d| {
        let answer = d.ecdh(id, &peer)?;
        ecdh_shared_x(answer.expose(), field_bytes)
    })?;
    let value = kdf
        .derive(z.expose(), shared_data, len)
        .ok_or(Error::AttributeValueInvalid)?;

    let decided = [
        CKA_CLASS,
        CKA_KEY_TYPE,
        CKA_VALUE,
        CKA_VALUE_LEN,
        CKA_TOKEN,
        CKA_LOCAL,
        CKA_KEY_GEN_MECHANISM,
        CKA_ALWAYS_SENSITIVE,
        CKA_NEVER_EXTRACTABLE,
    ];
    let mut attrs: Vec<Attribute> = template
        .iter()
        .filter(|a| !decided.contains(&a.kind))
        .cloned()
        .collect();
    let mut add = |kind, value| attrs.push(Attribute { kind, value });
    add(CKA_CLASS, attr::ulong(CKO_SECRET_KEY));
    add(CKA_KEY_TYPE, attr::ulong(key_type));
    add(CKA_VALUE, value.to_vec());
    add(CKA_VALUE_LEN, attr::ulong(len as CK_ULONG));
    add(CKA_TOKEN, attr::boolean(false));
    add(CKA_LOCAL, attr::boolean(false));
    add(CKA_KEY_GEN_MECHANISM, attr::ulong(mechanism.kind));
    let sensitive = find_bool(template, CKA_SENSITIVE).unwrap_or(false);
    let extractable = find_bool(template, CKA_EXTRACTABLE).unwrap_or(true);
    // PKCS#11 2.40 §4.14: a derived key is "always sensitive" / "never extractable" only when
    // the base key is too. A card key generated on the card never left it sensitive; it was
    // never extractable when CKA_EXTRACTABLE is false as well.
    let base_local = key.meta.local;
    add(CKA_ALWAYS_SENSITIVE, attr::boolean(base_local && sensitive));
    add(
        CKA_NEVER_EXTRACTABLE,
        attr::boolean(base_local && !key.meta.extractable && !extractable),
    );
    if find_bool(template, CKA_SENSITIVE).is_none() {
        add(CKA_SENSITIVE, attr::boolean(false));
    }
    if find_bool(template, CKA_EXTRACTABLE).is_none() {
        add(CKA_EXTRACTABLE, attr::boolean(true));
    }
    Ok(attrs)
}

/// The peer's uncompressed point from pPublicData: raw `04‖X‖Y`, or that point inside a DER
/// OCTET STRING (the form of CKA_EC_POINT).
pub fn peer_point(public_data: &[u8], field_bytes: usize) -> Option<Vec<u8>> {
    let point_len = 1 + 2 * field_bytes;
    if public_data.len() == point_len && public_data[0] == 0x04 {
        return Some(public_data.to_vec());
    }
    let t = Tlv::parse_exact(public_data).ok()?;
    (t.tag == 0x04 && t.value.len() == point_len && t.value[0] == 0x04).then(|| t.value.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::tlv;

    #[test]
    fn peer_point_forms() {
        let raw = [[4u8].as_slice(), &[7; 64]].concat();
        assert_eq!(peer_point(&raw, 32), Some(raw.clone()));
        assert_eq!(peer_point(&tlv::encode(0x04, &raw), 32), Some(raw.clone()));
        // P-521: 133-byte point, DER length 81 85.
        let big = [[4u8].as_slice(), &[9; 132]].concat();
        assert_eq!(peer_point(&tlv::encode(0x04, &big), 66), Some(big.clone()));
        assert_eq!(peer_point(&raw[1..], 32), None, "no 04");
        assert_eq!(peer_point(&raw, 48), None, "wrong size");
        assert_eq!(peer_point(&[], 32), None);
    }
}
