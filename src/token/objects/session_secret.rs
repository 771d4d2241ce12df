//! Session secret keys: secret keys the module holds in memory (the result of C_DeriveKey with
//! ECDH), never on the card.
//!
//! The card cannot store a secret it did not generate or unwrap, so these keys exist only as
//! session objects (CKA_TOKEN true is `TemplateInconsistent`) and are forgotten (zeroized) with
//! their session. The card's operations (AES-CBC, CMAC, wrap) use the card's keys only: an
//! operation init with such a key is `KeyFunctionNotPermitted` (see `operations::keycheck`).
//! The application gets the value through CKA_VALUE when the key is not sensitive and
//! extractable (the usual ECDH flow: derive, read the value, use it in software).
//!
//! C_CreateObject of a secret key stays `TemplateInconsistent` (see `create.rs`): only the
//! module's own derivation makes these objects, through `SessionRef::add_session_object`.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use cryptoki_sys::*;

use super::attributes::{self as a, find, find_bool, find_text, find_ulong};
use super::model::{Body, SessionSecretKey};
use crate::card::SecretBytes;
use crate::token::api::{Attribute, AttributeValue};
use crate::token::error::{Error, Result};
use crate::token::session::SessionRef;

/// The usage attributes a session secret key keeps from its template (default false).
pub const USAGE: [CK_ATTRIBUTE_TYPE; 7] = [
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
];

/// Adds a session secret key made from a complete template (class, key type, CKA_VALUE; the
/// deriving code also sets CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE).
pub fn add(s: &SessionRef, template: &[Attribute]) -> Result<CK_OBJECT_HANDLE> {
    a::check_template(template)?;
    let key = from_template(template)?;
    if key.private {
        s.require_user()?;
    }
    let token = s.token();
    let mut st = token.objects.write();
    let identity = st.next_session_identity();
    Ok(
        st.upsert(identity, Some(s.handle()), Body::SessionSecret(key), || {
            token.new_handle()
        }),
    )
}

/// The key a template describes. PKCS#11 2.40 defaults: CKA_PRIVATE true, CKA_SENSITIVE false,
/// CKA_EXTRACTABLE true, usage flags false.
pub fn from_template(template: &[Attribute]) -> Result<SessionSecretKey> {
    if find_ulong(template, CKA_CLASS) != Some(CKO_SECRET_KEY) {
        return Err(Error::TemplateInconsistent);
    }
    if find_bool(template, CKA_TOKEN) == Some(true) {
        log::info!("a secret key the card did not generate can only be a session object");
        return Err(Error::TemplateInconsistent);
    }
    let key_type = find_ulong(template, CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)?;
    let value = find(template, CKA_VALUE).ok_or(Error::TemplateIncomplete)?;
    let len_ok = match key_type {
        CKK_GENERIC_SECRET => !value.is_empty(),
        CKK_AES => matches!(value.len(), 16 | 24 | 32),
        _ => return Err(Error::TemplateInconsistent),
    };
    let len_matches =
        find_ulong(template, CKA_VALUE_LEN).is_none_or(|n| n == value.len() as CK_ULONG);
    if !len_ok || !len_matches {
        return Err(Error::AttributeValueInvalid);
    }
    let sensitive = find_bool(template, CKA_SENSITIVE).unwrap_or(false);
    let extractable = find_bool(template, CKA_EXTRACTABLE).unwrap_or(true);
    Ok(SessionSecretKey {
        key_type,
        label: find_text(template, CKA_LABEL).unwrap_or_default(),
        id: find(template, CKA_ID).unwrap_or_default().to_vec(),
        value: SecretBytes::from_slice(value),
        private: find_bool(template, CKA_PRIVATE).unwrap_or(true),
        sensitive,
        extractable,
        always_sensitive: sensitive && find_bool(template, CKA_ALWAYS_SENSITIVE).unwrap_or(false),
        never_extractable: !extractable
            && find_bool(template, CKA_NEVER_EXTRACTABLE).unwrap_or(false),
        key_gen_mechanism: find_ulong(template, CKA_KEY_GEN_MECHANISM)
            .unwrap_or(CK_UNAVAILABLE_INFORMATION),
        usage: USAGE
            .into_iter()
            .filter(|&u| find_bool(template, u).unwrap_or(false))
            .collect(),
    })
}

/// The answer for one attribute of a session secret key (the common object attributes are
/// answered by `values::get`).
pub fn get(k: &SessionSecretKey, kind: CK_ATTRIBUTE_TYPE) -> AttributeValue {
    let v = match kind {
        CKA_VALUE if k.sensitive || !k.extractable => return AttributeValue::Sensitive,
        CKA_VALUE => k.value.expose().to_vec(),
        CKA_LABEL => k.label.as_bytes().to_vec(),
        CKA_ID => k.id.clone(),
        CKA_KEY_TYPE => a::ulong(k.key_type),
        CKA_VALUE_LEN => a::ulong(k.value.len() as CK_ULONG),
        CKA_START_DATE | CKA_END_DATE => Vec::new(),
        CKA_LOCAL | CKA_ALWAYS_AUTHENTICATE | CKA_WRAP_WITH_TRUSTED | CKA_TRUSTED => {
            a::boolean(false)
        }
        CKA_KEY_GEN_MECHANISM => a::ulong(k.key_gen_mechanism),
        CKA_SENSITIVE => a::boolean(k.sensitive),
        CKA_EXTRACTABLE => a::boolean(k.extractable),
        CKA_ALWAYS_SENSITIVE => a::boolean(k.always_sensitive),
        CKA_NEVER_EXTRACTABLE => a::boolean(k.never_extractable),
        CKA_CHECK_VALUE if k.key_type == CKK_AES => match aes_check_value(k.value.expose()) {
            Some(kcv) => kcv.to_vec(),
            None => return AttributeValue::Invalid,
        },
        u if USAGE.contains(&u) => a::boolean(k.usage.contains(&u)),
        _ => return AttributeValue::Invalid,
    };
    AttributeValue::Value(v)
}

/// PKCS#11 CKA_CHECK_VALUE of an AES key: the first 3 bytes of a zero block encrypted with it.
fn aes_check_value(key: &[u8]) -> Option<[u8; 3]> {
    let mut block = aes::Block::default();
    match key.len() {
        16 => aes::Aes128::new_from_slice(key)
            .ok()?
            .encrypt_block(&mut block),
        24 => aes::Aes192::new_from_slice(key)
            .ok()?
            .encrypt_block(&mut block),
        32 => aes::Aes256::new_from_slice(key)
            .ok()?
            .encrypt_block(&mut block),
        _ => return None,
    }
    Some([block[0], block[1], block[2]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: CK_ATTRIBUTE_TYPE, value: Vec<u8>) -> Attribute {
        Attribute { kind, value }
    }

    fn aes_template(extra: &[Attribute]) -> Vec<Attribute> {
        let mut t = vec![
            attr(CKA_CLASS, a::ulong(CKO_SECRET_KEY)),
            attr(CKA_KEY_TYPE, a::ulong(CKK_AES)),
            attr(CKA_VALUE, vec![0; 16]),
        ];
        t.extend_from_slice(extra);
        t
    }

    #[test]
    fn defaults_follow_pkcs11() {
        let k = from_template(&aes_template(&[])).unwrap();
        assert!(k.private && !k.sensitive && k.extractable);
        assert!(!k.always_sensitive && !k.never_extractable);
        assert_eq!(k.key_gen_mechanism, CK_UNAVAILABLE_INFORMATION);
        assert!(k.usage.is_empty());
        assert_eq!(get(&k, CKA_VALUE), AttributeValue::Value(vec![0; 16]));
        assert_eq!(get(&k, CKA_VALUE_LEN), AttributeValue::Value(a::ulong(16)));
        assert_eq!(
            get(&k, CKA_ENCRYPT),
            AttributeValue::Value(a::boolean(false))
        );
        assert_eq!(get(&k, CKA_MODULUS), AttributeValue::Invalid);
    }

    #[test]
    fn sensitive_or_unextractable_hides_the_value() {
        let sens = from_template(&aes_template(&[attr(CKA_SENSITIVE, vec![1])])).unwrap();
        assert_eq!(get(&sens, CKA_VALUE), AttributeValue::Sensitive);
        let unext = from_template(&aes_template(&[attr(CKA_EXTRACTABLE, vec![0])])).unwrap();
        assert_eq!(get(&unext, CKA_VALUE), AttributeValue::Sensitive);
        assert!(!format!("{sens:?}").contains("[0, 0"), "value in Debug");
    }

    #[test]
    fn aes_check_value_of_zero_key() {
        // AES-128 of the zero block under the zero key: 66E94BD4EF8A2C3B884CFA59CA342B2E
        // (FIPS-197 style known answer).
        assert_eq!(aes_check_value(&[0; 16]), Some([0x66, 0xE9, 0x4B]));
        assert_eq!(aes_check_value(&[0; 15]), None);
    }

    #[test]
    fn bad_templates() {
        let token = aes_template(&[attr(CKA_TOKEN, vec![1])]);
        assert_eq!(from_template(&token), Err(Error::TemplateInconsistent));
        let mut short = aes_template(&[]);
        short[2].value = vec![0; 20];
        assert_eq!(from_template(&short), Err(Error::AttributeValueInvalid));
        let wrong_len = aes_template(&[attr(CKA_VALUE_LEN, a::ulong(32))]);
        assert_eq!(from_template(&wrong_len), Err(Error::AttributeValueInvalid));
        let rsa = [
            attr(CKA_CLASS, a::ulong(CKO_SECRET_KEY)),
            attr(CKA_KEY_TYPE, a::ulong(CKK_RSA)),
            attr(CKA_VALUE, vec![1]),
        ];
        assert_eq!(from_template(&rsa), Err(Error::TemplateInconsistent));
    }
}
