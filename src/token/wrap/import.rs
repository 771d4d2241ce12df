//! Key import with the DKEK held by the module (config `[dkek]`): C_CreateObject of a token
//! CKO_PRIVATE_KEY (EC: CKA_EC_PARAMS + CKA_VALUE [+ CKA_EC_POINT]; RSA: modulus, exponents,
//! primes, CRT values) and C_UnwrapKey(CKM_SCHSM_PKCS8_IMPORT, dkek, PKCS#8 DER). The key is
//! encoded as a blob on the host (`card::blob::encode`) and imported like an unwrap, with the
//! template's restriction (CKA_ALLOWED_MECHANISMS / CKA_EXTRACTABLE, bug #168 rules included).
//! Key material lives in zeroizing buffers and is wiped when the import is done.

use cryptoki_sys::*;

use super::unwrap::{check_template, import_to_card, Incoming};
use crate::card;
use crate::card::blob::{self, BlobHeader, BlobKey};
use crate::card::curves::Curve;
use crate::card::private_key;
use crate::card::prkd::KeyKind;
use crate::card::tlv::Tlv;
use crate::token::api::Attribute;
use crate::token::dkek_holder;
use crate::token::error::{Error, Result};
use crate::token::keygen::algorithm_list;
use crate::token::mechanisms::Family;
use crate::token::objects::attributes::{self as attr, find, find_bool};
use crate::token::objects::restriction::to_alg_reference;
use crate::token::objects::{KeyInfo, KeyMeta};
use crate::token::session::SessionRef;

/// The card layer's import error in this module's terms.
fn map_key_error(e: card::Error) -> Error {
    log::info!("key import: {e}");
    match e {
        card::Error::InvalidArgument(_) => Error::TemplateIncomplete,
        card::Error::Unsupported(_) => Error::CurveNotSupported,
        _ => Error::WrappedKeyInvalid,
    }
}

fn rsa_key(parts: [&[u8]; 8]) -> Result<BlobKey> {
    private_key::rsa_key(parts).map_err(map_key_error)
}

fn ec_key(curve: &'static Curve, d: &[u8], q: Option<&[u8]>) -> Result<BlobKey> {
    private_key::ec_key(curve, d, q).map_err(map_key_error)
}

/// PKCS#8 PrivateKeyInfo (unencrypted) → the key.
fn from_pkcs8(der: &[u8]) -> Result<BlobKey> {
    private_key::from_pkcs8(der).map_err(map_key_error)
}

/// A C_CreateObject template → the key.
fn from_template(template: &[Attribute]) -> Result<BlobKey> {
    let get = |a| find(template, a).unwrap_or_default();
    match attr::find_ulong(template, CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)? {
        CKK_EC => {
            let params = find(template, CKA_EC_PARAMS).ok_or(Error::TemplateIncomplete)?;
            let curve = Curve::by_ec_params(params).ok_or(Error::CurveNotSupported)?;
            let d = find(template, CKA_VALUE).ok_or(Error::TemplateIncomplete)?;
            // CKA_EC_POINT is a DER OCTET STRING (some callers give the bare point).
            let q = find(template, CKA_EC_POINT).map(|p| match Tlv::parse(p) {
                Ok((t, rest)) if t.tag == 0x04 && rest.is_empty() => t.value.to_vec(),
                _ => p.to_vec(),
            });
            ec_key(curve, d, q.as_deref())
        }
        CKK_RSA => rsa_key([
            get(CKA_MODULUS),
            get(CKA_PUBLIC_EXPONENT),
            get(CKA_PRIVATE_EXPONENT),
            get(CKA_PRIME_1),
            get(CKA_PRIME_2),
            get(CKA_EXPONENT_1),
            get(CKA_EXPONENT_2),
            get(CKA_COEFFICIENT),
        ]),
        _ => Err(Error::TemplateInconsistent),
    }
}

pub fn import_pkcs8(
    s: &SessionRef,
    dkek: &KeyInfo,
    der: &[u8],
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    let key = from_pkcs8(der)?;
    import(s, dkek.kcv.ok_or(Error::GeneralError)?, key, template)
}

/// C_CreateObject of a token private key (called by `objects::create`).
pub fn create_private_key(s: &SessionRef, template: &[Attribute]) -> Result<CK_OBJECT_HANDLE> {
    let device_kcv = match super::device_dkek_kcv(s)? {
        Some(k) => k,
        None => {
            log::error!(
                "C_CreateObject of a private key: the device has no complete DKEK, keys can only \
                 be imported under one"
            );
            return Err(Error::FunctionFailed);
        }
    };
    let key = from_template(template).map_err(|e| match e {
        Error::WrappedKeyInvalid => Error::AttributeValueInvalid,
        e => e,
    })?;
    import(s, device_kcv, key, template)
}

fn import(
    s: &SessionRef,
    device_kcv: [u8; 8],
    key: BlobKey,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    let (kind, family) = match &key {
        BlobKey::Ec { .. } => (KeyKind::Ec, Family::Ec),
        BlobKey::Aes { .. } => (KeyKind::Aes, Family::Aes),
        _ => (KeyKind::Rsa, Family::Rsa),
    };
    check_template(template, kind)?;
    let dkek = match dkek_holder::host_dkek(s.config()) {
        Ok(Some(d)) if d.kcv() == device_kcv => d,
        Ok(Some(_)) => {
            log::error!(
                "key import: the DKEK shares of the configuration are not this device's DKEK"
            );
            return Err(Error::FunctionFailed);
        }
        Ok(None) => {
            log::error!(
                "key import needs the DKEK on the host: give the module the DKEK share files \
                 in SCHSM_CONF [dkek] (shares, password_files)"
            );
            return Err(Error::FunctionFailed);
        }
        Err(why) => {
            log::error!("key import: the configured DKEK shares cannot be used: {why}");
            return Err(Error::FunctionFailed);
        }
    };
    let allowed = match find(template, CKA_ALLOWED_MECHANISMS) {
        Some(v) => Some(attr::read_mechanisms(v).ok_or(Error::AttributeValueInvalid)?),
        None => None,
    };
    let extractable = find_bool(template, CKA_EXTRACTABLE).unwrap_or(true);
    let card_list = algorithm_list(&s.profile(), family, allowed.as_deref(), extractable);
    let header = BlobHeader::new(key.key_type(), card_list.unwrap_or_default())
        .map_err(|_| Error::GeneralError)?;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|_| Error::FunctionFailed)?;
    let bytes = blob::encode(&dkek, &header, &key, &random).map_err(|e| {
        log::warn!("key import: {e}");
        Error::TemplateInconsistent
    })?;
    let restriction = allowed
        .as_deref()
        .map(|m| to_alg_reference(m, extractable))
        .unwrap_or_default();
    log::info!(
        "key import: {kind:?} key encoded under the DKEK on the host, card list {:02X?}",
        header.algorithms
    );
    let incoming = Incoming {
        cipher_len: bytes.len(),
        blob: bytes,
        kind,
        list: restriction,
        key: Some(&key),
        description: None,
        certificate: None,
        meta: Some(KeyMeta {
            allowed_mechanisms: allowed,
            extractable,
            local: false,
        }),
    };
    import_to_card(s, incoming, template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pkcs8_is_an_error() {
        assert!(from_pkcs8(&[]).is_err());
        assert_eq!(
            from_pkcs8(&[0x30, 0x03, 0x02, 0x01, 0x00]).unwrap_err(),
            Error::WrappedKeyInvalid
        );
    }
}
