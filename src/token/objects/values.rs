//! Attribute values of objects (C_GetAttributeValue, template matching).
//!
//! Answers for attributes that depend on a lazily read part (a key's CExx, a data object's
//! content) assume the caller loaded it first ([`needs_public`], [`needs_value`]); if it is
//! still missing the attribute is answered as not available for this object.

use cryptoki_sys::*;
use sha1::{Digest, Sha1};

use super::attributes::{self as a, SENSITIVE, SENSITIVE_ON_KEYS};
use super::model::*;
use crate::card::pkcs15::KeyUsage;
use crate::card::prkd::KeyKind;
use crate::card::tlv;
use crate::token::api::{Attribute, AttributeValue};

/// CK_CERTIFICATE_CATEGORY values.
pub const CATEGORY_UNSPECIFIED: CK_ULONG = 0;
pub const CATEGORY_TOKEN_USER: CK_ULONG = 1;
pub const CATEGORY_AUTHORITY: CK_ULONG = 2;

/// Whether answering `kind` for `obj` needs the key's CExx.
pub fn needs_public(obj: &Object, kind: CK_ATTRIBUTE_TYPE) -> bool {
    match &obj.body {
        Body::Key(k) => {
            k.public.is_none()
                && k.desc.kind != KeyKind::Aes
                && matches!(
                    kind,
                    CKA_MODULUS
                        | CKA_PUBLIC_EXPONENT
                        | CKA_EC_PARAMS
                        | CKA_EC_POINT
                        | CKA_SUBJECT
                        | CKA_PUBLIC_KEY_INFO
                )
        }
        _ => false,
    }
}

/// Whether answering `kind` needs a data object's content.
pub fn needs_value(obj: &Object, kind: CK_ATTRIBUTE_TYPE) -> bool {
    matches!(&obj.body, Body::Data(d) if d.value.is_none() && kind == CKA_VALUE)
}

/// The answer for one attribute.
pub fn get(obj: &Object, kind: CK_ATTRIBUTE_TYPE) -> AttributeValue {
    let Some(def) = a::lookup(kind) else {
        return AttributeValue::Invalid;
    };
    if let Body::SessionSecret(k) = &obj.body {
        // Not card key material: CKA_VALUE follows the key's own CKA_SENSITIVE/EXTRACTABLE.
        let common = [
            CKA_CLASS,
            CKA_TOKEN,
            CKA_PRIVATE,
            CKA_MODIFIABLE,
            CKA_COPYABLE,
        ];
        if !common.contains(&kind) && kind != CKA_DESTROYABLE {
            return super::session_secret::get(k, kind);
        }
    }
    let key_material = matches!(obj.body, Body::Key(_) | Body::Dkek(_));
    if def.access & SENSITIVE != 0 || (key_material && def.access & SENSITIVE_ON_KEYS != 0) {
        return match (&obj.body, kind) {
            (Body::Key(k), _) if k.desc.kind == KeyKind::Aes && kind != CKA_VALUE => {
                AttributeValue::Invalid
            }
            (
                Body::Key(k),
                CKA_PRIVATE_EXPONENT | CKA_PRIME_1 | CKA_PRIME_2 | CKA_EXPONENT_1 | CKA_EXPONENT_2
                | CKA_COEFFICIENT,
            ) if k.desc.kind != KeyKind::Rsa => AttributeValue::Invalid,
            (Body::Key(_) | Body::Dkek(_), _) => AttributeValue::Sensitive,
            _ => AttributeValue::Invalid,
        };
    }
    let common = match kind {
        CKA_CLASS => Some(a::ulong(obj.class())),
        CKA_TOKEN => Some(a::boolean(obj.is_token())),
        CKA_PRIVATE => Some(a::boolean(obj.is_private())),
        CKA_MODIFIABLE => Some(a::boolean(!matches!(obj.body, Body::Dkek(_)))),
        CKA_COPYABLE => Some(a::boolean(false)),
        CKA_DESTROYABLE => Some(a::boolean(!matches!(obj.body, Body::Dkek(_)))),
        _ => None,
    };
    if let Some(v) = common {
        return AttributeValue::Value(v);
    }
    let v = match &obj.body {
        Body::Key(k) => key(k, kind),
        Body::PublicKey(p) => public_key(p, kind),
        Body::Certificate(c) => certificate(c, kind),
        Body::Data(d) => data(d, kind),
        Body::Dkek(d) => dkek(d, kind),
        Body::SessionSecret(_) => None,
    };
    v.map_or(AttributeValue::Invalid, AttributeValue::Value)
}

/// Attributes every key object has (PKCS#11 "Key objects").
fn common_key(
    label: &str,
    id: &[u8],
    key_type: CK_KEY_TYPE,
    kind: CK_ATTRIBUTE_TYPE,
    local: bool,
) -> Option<Vec<u8>> {
    Some(match kind {
        CKA_LABEL => label.as_bytes().to_vec(),
        CKA_ID => id.to_vec(),
        CKA_KEY_TYPE => a::ulong(key_type),
        CKA_START_DATE | CKA_END_DATE => Vec::new(),
        CKA_LOCAL => a::boolean(local),
        CKA_KEY_GEN_MECHANISM => a::ulong(if !local {
            CK_UNAVAILABLE_INFORMATION
        } else {
            match key_type {
                CKK_RSA => CKM_RSA_PKCS_KEY_PAIR_GEN,
                CKK_EC => CKM_EC_KEY_PAIR_GEN,
                CKK_AES => CKM_AES_KEY_GEN,
                _ => CK_UNAVAILABLE_INFORMATION,
            }
        }),
        _ => return None,
    })
}

fn public_values(info: &PublicInfo, kind: CK_ATTRIBUTE_TYPE, ec_point: bool) -> Option<Vec<u8>> {
    match (&info.kind, kind) {
        (PublicKind::Rsa { modulus, .. }, CKA_MODULUS) => Some(modulus.clone()),
        (PublicKind::Rsa { exponent, .. }, CKA_PUBLIC_EXPONENT) => Some(exponent.clone()),
        (PublicKind::Ec { params, .. }, CKA_EC_PARAMS) => Some(params.clone()),
        (PublicKind::Ec { point, .. }, CKA_EC_POINT) if ec_point => Some(tlv::encode(0x04, point)),
        (_, CKA_PUBLIC_KEY_INFO) => Some(info.spki.clone()),
        _ => None,
    }
}

fn key(k: &KeyObject, kind: CK_ATTRIBUTE_TYPE) -> Option<Vec<u8>> {
    let u = k.desc.usage;
    let local = k.meta.local;
    if let Some(v) = common_key(&k.desc.common.label, &k.desc.id, k.key_type(), kind, local) {
        return Some(v);
    }
    let flag = |bits: u32| Some(a::boolean(u.0 & bits != 0));
    match kind {
        CKA_SENSITIVE => Some(a::boolean(true)),
        CKA_ALWAYS_SENSITIVE => Some(a::boolean(local)),
        CKA_EXTRACTABLE => Some(a::boolean(k.meta.extractable)),
        CKA_NEVER_EXTRACTABLE => Some(a::boolean(local && !k.meta.extractable)),
        CKA_ALWAYS_AUTHENTICATE | CKA_WRAP_WITH_TRUSTED => Some(a::boolean(false)),
        CKA_ALLOWED_MECHANISMS => k.meta.allowed_mechanisms.as_deref().map(a::mechanisms),
        crate::vendor::CKA_SCHSM_KEY_ID => Some(vec![k.key_id]),
        crate::vendor::CKA_SCHSM_ALGORITHM_LIST => k.desc.alg_reference.clone(),
        CKA_DECRYPT => flag(KeyUsage::DECRYPT),
        CKA_SIGN => flag(KeyUsage::SIGN | KeyUsage::NON_REPUDIATION),
        CKA_SIGN_RECOVER => flag(KeyUsage::SIGN_RECOVER),
        CKA_UNWRAP => flag(KeyUsage::UNWRAP),
        CKA_DERIVE => flag(KeyUsage::DERIVE),
        CKA_ENCRYPT | CKA_VERIFY | CKA_WRAP if k.desc.kind == KeyKind::Aes => match kind {
            CKA_ENCRYPT => flag(KeyUsage::ENCRYPT),
            CKA_VERIFY => flag(KeyUsage::VERIFY | KeyUsage::SIGN),
            _ => flag(KeyUsage::WRAP),
        },
        CKA_VALUE_LEN if k.desc.kind == KeyKind::Aes => {
            Some(a::ulong(CK_ULONG::from(k.desc.size_bits / 8)))
        }
        CKA_MODULUS_BITS if k.desc.kind == KeyKind::Rsa => {
            let bits = k.public_part().map_or(k.desc.size_bits, |p| p.info.bits());
            Some(a::ulong(CK_ULONG::from(bits)))
        }
        CKA_SUBJECT if k.desc.kind != KeyKind::Aes => {
            Some(k.desc.subject.clone().unwrap_or_else(|| {
                k.public_part()
                    .and_then(|p| p.certificate.as_ref())
                    .map(|c| c.subject.clone())
                    .unwrap_or_default()
            }))
        }
        CKA_PUBLIC_KEY_INFO if k.desc.kind != KeyKind::Aes => Some(
            k.public_part()
                .map(|p| p.info.spki.clone())
                .unwrap_or_default(),
        ),
        _ if k.desc.kind != KeyKind::Aes => public_values(&k.public_part()?.info, kind, true),
        _ => None,
    }
}

fn public_key(p: &PublicKeyObject, kind: CK_ATTRIBUTE_TYPE) -> Option<Vec<u8>> {
    if let Some(v) = common_key(&p.label, &p.id, p.info.key_type(), kind, p.meta.local) {
        return Some(v);
    }
    let u = p.usage.0;
    let flag = |bits: u32| Some(a::boolean(u & bits != 0));
    match kind {
        CKA_ENCRYPT => flag(KeyUsage::ENCRYPT | KeyUsage::DECRYPT),
        CKA_VERIFY => flag(KeyUsage::VERIFY | KeyUsage::SIGN | KeyUsage::NON_REPUDIATION),
        CKA_VERIFY_RECOVER => flag(KeyUsage::VERIFY_RECOVER | KeyUsage::SIGN_RECOVER),
        CKA_WRAP => flag(KeyUsage::WRAP | KeyUsage::UNWRAP),
        CKA_DERIVE => Some(a::boolean(false)),
        CKA_TRUSTED => Some(a::boolean(false)),
        CKA_SUBJECT => Some(p.subject.clone()),
        CKA_ALLOWED_MECHANISMS => p.meta.allowed_mechanisms.as_deref().map(a::mechanisms),
        CKA_MODULUS_BITS if p.info.key_type() == CKK_RSA => {
            Some(a::ulong(CK_ULONG::from(p.info.bits())))
        }
        _ => public_values(&p.info, kind, true),
    }
}

fn certificate(c: &CertObject, kind: CK_ATTRIBUTE_TYPE) -> Option<Vec<u8>> {
    Some(match kind {
        CKA_LABEL => c.label.as_bytes().to_vec(),
        CKA_ID => c.id.clone(),
        CKA_CERTIFICATE_TYPE => a::ulong(CKC_X_509),
        CKA_TRUSTED => a::boolean(c.trusted),
        CKA_CERTIFICATE_CATEGORY => a::ulong(c.category),
        CKA_CHECK_VALUE => Sha1::digest(&c.value)[..3].to_vec(),
        CKA_START_DATE | CKA_END_DATE => Vec::new(),
        CKA_SUBJECT => c.x509.subject.clone(),
        CKA_ISSUER => c.x509.issuer.clone(),
        CKA_SERIAL_NUMBER => c.x509.serial.clone(),
        CKA_VALUE => c.value.clone(),
        CKA_PUBLIC_KEY_INFO => c.x509.spki.clone(),
        CKA_URL | CKA_HASH_OF_SUBJECT_PUBLIC_KEY | CKA_HASH_OF_ISSUER_PUBLIC_KEY => Vec::new(),
        CKA_JAVA_MIDP_SECURITY_DOMAIN => a::ulong(0),
        _ => return None,
    })
}

fn data(d: &DataObject, kind: CK_ATTRIBUTE_TYPE) -> Option<Vec<u8>> {
    Some(match kind {
        CKA_LABEL => d.label.as_bytes().to_vec(),
        CKA_APPLICATION => d.application.as_bytes().to_vec(),
        CKA_OBJECT_ID => d.object_id.clone(),
        CKA_VALUE => d.value.clone()?,
        _ => return None,
    })
}

fn dkek(d: &DkekObject, kind: CK_ATTRIBUTE_TYPE) -> Option<Vec<u8>> {
    // CKK_GENERIC_SECRET: the DKEK only wraps and unwraps (no CKA_ENCRYPT); CKA_ID and
    // CKA_CHECK_VALUE are the device's 8-byte KCV (SHA-256 of the DKEK, PROTOCOL.md §8.1), the
    // value every DKEK tool shows, not PKCS#11's 3-byte encryption of zeros.
    if let Some(v) = common_key(&d.label(), &d.kcv, CKK_GENERIC_SECRET, kind, false) {
        return Some(v);
    }
    Some(match kind {
        CKA_CHECK_VALUE => d.kcv.to_vec(),
        crate::vendor::CKA_SCHSM_KEY_DOMAIN => vec![d.domain],
        CKA_VALUE_LEN => a::ulong(32),
        CKA_WRAP | CKA_UNWRAP | CKA_SENSITIVE | CKA_ALWAYS_SENSITIVE | CKA_NEVER_EXTRACTABLE => {
            a::boolean(true)
        }
        CKA_ENCRYPT
        | CKA_DECRYPT
        | CKA_SIGN
        | CKA_VERIFY
        | CKA_DERIVE
        | CKA_EXTRACTABLE
        | CKA_ALWAYS_AUTHENTICATE
        | CKA_WRAP_WITH_TRUSTED
        | CKA_TRUSTED => a::boolean(false),
        _ => return None,
    })
}

/// Whether `obj` has every attribute of the template with exactly that value.
pub fn matches(obj: &Object, template: &[Attribute]) -> bool {
    template.iter().all(|t| match get(obj, t.kind) {
        AttributeValue::Value(v) => a::same_value(t.kind, &v, &t.value),
        _ => false,
    })
}
