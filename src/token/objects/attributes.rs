//! The attribute table: for every CKA_* this token knows, its value type and what may be done
//! with it. C_GetAttributeValue, C_SetAttributeValue, C_FindObjects and C_CreateObject all
//! validate through [`check`], so a wrong-sized value is `AttributeValueInvalid` everywhere and an
//! unknown type `AttributeTypeInvalid`.

use cryptoki_sys::*;

use crate::token::api::Attribute;
use crate::token::error::{Error, Result};
use crate::vendor::{CKA_SCHSM_ALGORITHM_LIST, CKA_SCHSM_KEY_DOMAIN, CKA_SCHSM_KEY_ID};

/// How a value is encoded (PKCS#11 native encoding, see `api::Attribute`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// CK_BBOOL: one byte.
    Bool,
    /// CK_ULONG: `size_of::<CK_ULONG>()` bytes, native endian.
    Ulong,
    /// A byte array (DER, big integers, ...).
    Bytes,
    /// RFC 2279 text.
    Text,
    /// CK_DATE: 8 characters YYYYMMDD, or empty.
    Date,
    /// An array of CK_MECHANISM_TYPE.
    Mechanisms,
}

/// May be changed with C_SetAttributeValue (on objects whose storage supports it).
pub const SET: u8 = 1;
/// Never revealed when the object is a private or secret key (CKR_ATTRIBUTE_SENSITIVE).
pub const SENSITIVE_ON_KEYS: u8 = 2;
/// Always sensitive (private key components).
pub const SENSITIVE: u8 = 4;

#[derive(Debug)]
pub struct AttrDef {
    pub kind: CK_ATTRIBUTE_TYPE,
    pub name: &'static str,
    pub value: ValueType,
    pub access: u8,
}

macro_rules! attrs {
    ($($name:ident : $vt:ident $(, $acc:expr)?;)*) => {
        &[$(AttrDef {
            kind: $name,
            name: stringify!($name),
            value: ValueType::$vt,
            access: 0 $(| $acc)?,
        },)*]
    };
}

/// Every attribute this token answers or accepts.
pub static TABLE: &[AttrDef] = attrs! {
    CKA_CLASS: Ulong;
    CKA_TOKEN: Bool;
    CKA_PRIVATE: Bool;
    CKA_LABEL: Text, SET;
    CKA_APPLICATION: Text, SET;
    CKA_VALUE: Bytes, SENSITIVE_ON_KEYS;
    CKA_OBJECT_ID: Bytes;
    CKA_CERTIFICATE_TYPE: Ulong;
    CKA_ISSUER: Bytes;
    CKA_SERIAL_NUMBER: Bytes;
    CKA_TRUSTED: Bool;
    CKA_CERTIFICATE_CATEGORY: Ulong;
    CKA_JAVA_MIDP_SECURITY_DOMAIN: Ulong;
    CKA_URL: Text;
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY: Bytes;
    CKA_HASH_OF_ISSUER_PUBLIC_KEY: Bytes;
    CKA_CHECK_VALUE: Bytes;
    CKA_KEY_TYPE: Ulong;
    CKA_SUBJECT: Bytes;
    CKA_ID: Bytes, SET;
    CKA_SENSITIVE: Bool;
    CKA_ENCRYPT: Bool;
    CKA_DECRYPT: Bool;
    CKA_WRAP: Bool;
    CKA_UNWRAP: Bool;
    CKA_SIGN: Bool;
    CKA_SIGN_RECOVER: Bool;
    CKA_VERIFY: Bool;
    CKA_VERIFY_RECOVER: Bool;
    CKA_DERIVE: Bool;
    CKA_START_DATE: Date;
    CKA_END_DATE: Date;
    CKA_MODULUS: Bytes;
    CKA_MODULUS_BITS: Ulong;
    CKA_PUBLIC_EXPONENT: Bytes;
    CKA_PRIVATE_EXPONENT: Bytes, SENSITIVE;
    CKA_PRIME_1: Bytes, SENSITIVE;
    CKA_PRIME_2: Bytes, SENSITIVE;
    CKA_EXPONENT_1: Bytes, SENSITIVE;
    CKA_EXPONENT_2: Bytes, SENSITIVE;
    CKA_COEFFICIENT: Bytes, SENSITIVE;
    CKA_PUBLIC_KEY_INFO: Bytes;
    CKA_VALUE_LEN: Ulong;
    CKA_EXTRACTABLE: Bool;
    CKA_LOCAL: Bool;
    CKA_NEVER_EXTRACTABLE: Bool;
    CKA_ALWAYS_SENSITIVE: Bool;
    CKA_KEY_GEN_MECHANISM: Ulong;
    CKA_MODIFIABLE: Bool;
    CKA_COPYABLE: Bool;
    CKA_DESTROYABLE: Bool;
    CKA_EC_PARAMS: Bytes;
    CKA_EC_POINT: Bytes;
    CKA_ALWAYS_AUTHENTICATE: Bool;
    CKA_WRAP_WITH_TRUSTED: Bool;
    CKA_ALLOWED_MECHANISMS: Mechanisms;
    CKA_SCHSM_KEY_ID: Bytes;
    CKA_SCHSM_ALGORITHM_LIST: Bytes;
    CKA_SCHSM_KEY_DOMAIN: Bytes;
};

pub fn lookup(kind: CK_ATTRIBUTE_TYPE) -> Option<&'static AttrDef> {
    TABLE.iter().find(|d| d.kind == kind)
}

/// The definition of a template entry whose value has the right shape.
pub fn check(attr: &Attribute) -> Result<&'static AttrDef> {
    let def = lookup(attr.kind).ok_or(Error::AttributeTypeInvalid)?;
    let n = attr.value.len();
    let ok = match def.value {
        ValueType::Bool => n == 1,
        ValueType::Ulong => n == ULONG,
        ValueType::Date => n == 0 || (n == 8 && attr.value.iter().all(u8::is_ascii_digit)),
        ValueType::Mechanisms => n % ULONG == 0,
        ValueType::Text => std::str::from_utf8(&attr.value).is_ok(),
        ValueType::Bytes => true,
    };
    if ok {
        Ok(def)
    } else {
        Err(Error::AttributeValueInvalid)
    }
}

/// Checks every entry of a template.
pub fn check_template(template: &[Attribute]) -> Result<()> {
    template.iter().try_for_each(|a| check(a).map(|_| ()))
}

const ULONG: usize = std::mem::size_of::<CK_ULONG>();

pub fn ulong(v: CK_ULONG) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

pub fn boolean(b: bool) -> Vec<u8> {
    vec![if b { CK_TRUE } else { CK_FALSE }]
}

pub fn mechanisms(list: &[CK_MECHANISM_TYPE]) -> Vec<u8> {
    list.iter().flat_map(|m| m.to_ne_bytes()).collect()
}

pub fn read_ulong(v: &[u8]) -> Option<CK_ULONG> {
    Some(CK_ULONG::from_ne_bytes(v.try_into().ok()?))
}

pub fn read_bool(v: &[u8]) -> Option<bool> {
    match v {
        [b] => Some(*b != CK_FALSE),
        _ => None,
    }
}

pub fn read_mechanisms(v: &[u8]) -> Option<Vec<CK_MECHANISM_TYPE>> {
    if v.len() % ULONG != 0 {
        return None;
    }
    v.chunks_exact(ULONG).map(read_ulong).collect()
}

/// The value of `kind` in a template, if present.
pub fn find(template: &[Attribute], kind: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
    template
        .iter()
        .find(|a| a.kind == kind)
        .map(|a| a.value.as_slice())
}

pub fn find_ulong(template: &[Attribute], kind: CK_ATTRIBUTE_TYPE) -> Option<CK_ULONG> {
    find(template, kind).and_then(read_ulong)
}

pub fn find_bool(template: &[Attribute], kind: CK_ATTRIBUTE_TYPE) -> Option<bool> {
    find(template, kind).and_then(read_bool)
}

pub fn find_text(template: &[Attribute], kind: CK_ATTRIBUTE_TYPE) -> Option<String> {
    find(template, kind).map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Whether two encodings of an attribute mean the same (booleans: any non-zero is true).
pub fn same_value(kind: CK_ATTRIBUTE_TYPE, a: &[u8], b: &[u8]) -> bool {
    match lookup(kind).map(|d| d.value) {
        Some(ValueType::Bool) => read_bool(a).is_some() && read_bool(a) == read_bool(b),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(kind: CK_ATTRIBUTE_TYPE, value: Vec<u8>) -> Attribute {
        Attribute { kind, value }
    }

    #[test]
    fn validation() {
        assert!(check(&a(CKA_TOKEN, vec![1])).is_ok());
        assert_eq!(
            check(&a(CKA_TOKEN, vec![1, 0])).err(),
            Some(Error::AttributeValueInvalid)
        );
        assert_eq!(
            check(&a(CKA_CLASS, vec![1])).err(),
            Some(Error::AttributeValueInvalid)
        );
        assert!(check(&a(CKA_CLASS, ulong(CKO_DATA))).is_ok());
        assert_eq!(
            check(&a(0x7777_7777, vec![])).err(),
            Some(Error::AttributeTypeInvalid)
        );
        assert!(check(&a(CKA_START_DATE, vec![])).is_ok());
        assert!(check(&a(CKA_START_DATE, b"20240131".to_vec())).is_ok());
        assert!(check(&a(CKA_START_DATE, b"2024013".to_vec())).is_err());
        assert!(check(&a(CKA_LABEL, vec![0xFF])).is_err());
        assert!(check(&a(CKA_ALLOWED_MECHANISMS, vec![0; 3])).is_err());
    }

    #[test]
    fn table_is_consistent() {
        for (i, d) in TABLE.iter().enumerate() {
            assert!(
                TABLE[i + 1..].iter().all(|e| e.kind != d.kind),
                "{}",
                d.name
            );
        }
        assert_eq!(lookup(CKA_ID).unwrap().access & SET, SET);
        assert_eq!(
            lookup(CKA_PRIVATE_EXPONENT).unwrap().access & SENSITIVE,
            SENSITIVE
        );
    }

    #[test]
    fn encodings() {
        assert_eq!(read_ulong(&ulong(42)), Some(42));
        assert_eq!(read_bool(&boolean(true)), Some(true));
        assert_eq!(read_mechanisms(&mechanisms(&[1, 2])), Some(vec![1, 2]));
        assert!(same_value(CKA_SIGN, &[1], &[0xFF]));
        assert!(!same_value(CKA_ID, &[1], &[0xFF]));
    }
}
