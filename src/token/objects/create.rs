//! C_CreateObject: certificates and data objects on the card, session objects in memory.
//!
//! - A certificate (CKC_X_509) whose CKA_ID is that of a private key without a certificate
//!   goes to CE<key id>, replacing the CV request the card stored at key generation (the usual
//!   place; OpenSC does the same). Its label and ID are the key's (C4xx), as OpenSC shows them.
//!   Any other certificate is a CA certificate: CAnn plus a C8nn description.
//! - A data object goes to CDnn (CKA_PRIVATE true: readable with the user PIN only) or CFnn,
//!   with a C9nn description carrying label, application and object id.
//! - Session objects (CKA_TOKEN false) live in memory: certificates, data, public keys.
//!   Session secret keys are made only by the module's own C_DeriveKey (`session_secret.rs`):
//!   an application's secret key could never be used on the card, so C_CreateObject of one
//!   stays `TemplateInconsistent`.
//! - Private keys (key import): `token::wrap::create_private_key` (needs the DKEK in the
//!   config); secret and public token keys: `TemplateInconsistent`.

use cryptoki_sys::*;

use super::attributes::{self as attr, find, find_bool, find_text, find_ulong};
use super::build;
use super::load::{self, Refresh, Scope};
use super::model::*;
use super::values::CATEGORY_UNSPECIFIED;
use super::x509;
use crate::card::cd_dcod::{CertificateDescription, DataObjectDescription};
use crate::card::fid::prefix;
use crate::card::pkcs15::{object_flags, CommonObject, KeyUsage};
use crate::card::{curves::Curve, tlv, Fid};
use crate::token::api::Attribute;
use crate::token::card_error::CardOp;
use crate::token::error::{Error, Result};
use crate::token::session::SessionRef;

pub fn create_object(s: &SessionRef, template: &[Attribute]) -> Result<CK_OBJECT_HANDLE> {
    attr::check_template(template)?;
    if !find_bool(template, CKA_TOKEN).unwrap_or(false) {
        return create_session_object(s, template);
    }
    let class = find_ulong(template, CKA_CLASS).ok_or(Error::TemplateIncomplete)?;
    s.require_rw()?;
    s.require_user()?;
    match class {
        CKO_CERTIFICATE => create_certificate(s, template),
        CKO_DATA => create_data(s, template),
        // Key import: the module encodes a blob under the DKEK it holds (config [dkek]).
        CKO_PRIVATE_KEY => crate::token::wrap::create_private_key(s, template),
        CKO_SECRET_KEY | CKO_PUBLIC_KEY => {
            log::warn!(
                "C_CreateObject of a token key (class {class}) is not supported: \
                 generate keys on the card, or unwrap them"
            );
            Err(Error::TemplateInconsistent)
        }
        _ => Err(Error::AttributeValueInvalid),
    }
}

/// A session object (CKA_TOKEN false), in memory until its session closes.
pub fn create_session_object(s: &SessionRef, template: &[Attribute]) -> Result<CK_OBJECT_HANDLE> {
    attr::check_template(template)?;
    let class = find_ulong(template, CKA_CLASS).ok_or(Error::TemplateIncomplete)?;
    if find_bool(template, CKA_PRIVATE).unwrap_or(false) {
        s.require_user()?;
    }
    let label = find_text(template, CKA_LABEL).unwrap_or_default();
    let id = find(template, CKA_ID).unwrap_or_default().to_vec();
    let body = match class {
        CKO_CERTIFICATE => {
            let (value, x509) = certificate_value(template)?;
            Body::Certificate(CertObject {
                file: None,
                desc: None,
                label,
                id,
                value,
                x509,
                category: find_ulong(template, CKA_CERTIFICATE_CATEGORY)
                    .unwrap_or(CATEGORY_UNSPECIFIED),
                trusted: false,
            })
        }
        CKO_DATA => Body::Data(DataObject {
            desc_fid: None,
            desc: None,
            file: None,
            label,
            application: find_text(template, CKA_APPLICATION).unwrap_or_default(),
            object_id: object_id(template)?
                .map(|o| tlv::encode(0x06, &o))
                .unwrap_or_default(),
            private: find_bool(template, CKA_PRIVATE).unwrap_or(false),
            value: Some(find(template, CKA_VALUE).unwrap_or_default().to_vec()),
        }),
        CKO_PUBLIC_KEY => Body::PublicKey(session_public_key(template, label, id)?),
        CKO_PRIVATE_KEY | CKO_SECRET_KEY => {
            log::warn!(
                "C_CreateObject of a session private or secret key is not supported \
                 (session secret keys come from C_DeriveKey only)"
            );
            return Err(Error::TemplateInconsistent);
        }
        _ => return Err(Error::AttributeValueInvalid),
    };
    let token = s.token();
    let mut st = token.objects.write();
    let identity = st.next_session_identity();
    Ok(st.upsert(identity, Some(s.handle()), body, || token.new_handle()))
}

fn certificate_value(template: &[Attribute]) -> Result<(Vec<u8>, x509::X509)> {
    match find_ulong(template, CKA_CERTIFICATE_TYPE) {
        None | Some(CKC_X_509) => {}
        Some(_) => return Err(Error::AttributeValueInvalid),
    }
    let value = find(template, CKA_VALUE).ok_or(Error::TemplateIncomplete)?;
    let cert = x509::parse(value).map_err(|e| {
        log::info!("C_CreateObject: {e}");
        Error::AttributeValueInvalid
    })?;
    Ok((value.to_vec(), cert))
}

fn create_certificate(s: &SessionRef, template: &[Attribute]) -> Result<CK_OBJECT_HANDLE> {
    let (value, cert) = certificate_value(template)?;
    let id = find(template, CKA_ID).unwrap_or_default().to_vec();
    let label = find_text(template, CKA_LABEL).unwrap_or_default();
    let token = s.token();
    let keys = Scope {
        keys: true,
        public: true,
        ..Scope::default()
    };
    load::materialize(token, keys, Refresh::Cached)?;
    let key_without_cert = {
        let st = token.objects.read();
        st.objects.values().find_map(|o| match &o.body {
            Body::Key(k)
                if !id.is_empty()
                    && k.desc.id == id
                    && k.class() == CKO_PRIVATE_KEY
                    && k.public_part().is_none_or(|p| p.certificate.is_none()) =>
            {
                Some(k.key_id)
            }
            _ => None,
        })
    };
    if let Some(key_id) = key_without_cert {
        let ce = Fid::ee_certificate(key_id);
        s.with_card(CardOp::Write, |dev| dev.write_file(ce, &value))?;
        let mut st = token.objects.write();
        st.note_written(ce, Some(value));
        build::build_key(&mut st, token, key_id);
        log::info!("certificate stored in {ce} beside key {key_id}");
        return st
            .by_identity(Identity::EeCert(key_id))
            .map(|o| o.handle)
            .ok_or(Error::GeneralError);
    }
    load::materialize(token, Scope::ALL, Refresh::Cached)?;
    let n = free_number(s, &[prefix::CD, prefix::CA_CERTIFICATE])?;
    let (file, desc_fid) = (Fid::new(prefix::CA_CERTIFICATE, n), Fid::new(prefix::CD, n));
    let category = find_ulong(template, CKA_CERTIFICATE_CATEGORY).unwrap_or(CATEGORY_UNSPECIFIED);
    let desc = CertificateDescription {
        common: CommonObject {
            label: label.clone(),
            flags: None,
            auth_id: None,
        },
        id: id.clone(),
        authority: category == super::values::CATEGORY_AUTHORITY,
        path: file.bytes().to_vec(),
        cv_certificate: false,
    };
    let desc_bytes = desc.encode();
    s.with_card(CardOp::Write, |dev| {
        dev.write_file(file, &value)?;
        dev.write_file(desc_fid, &desc_bytes)
    })?;
    let mut st = token.objects.write();
    st.note_written(file, Some(value.clone()));
    st.note_written(desc_fid, Some(desc_bytes));
    log::info!("certificate stored in {file} with description {desc_fid}");
    let body = Body::Certificate(CertObject {
        file: Some(file),
        desc: Some(desc),
        label,
        id,
        value,
        x509: cert,
        category,
        trusted: false,
    });
    Ok(st.upsert(Identity::CaCert(n), None, body, || token.new_handle()))
}

fn create_data(s: &SessionRef, template: &[Attribute]) -> Result<CK_OBJECT_HANDLE> {
    let private = find_bool(template, CKA_PRIVATE).unwrap_or(false);
    let label = find_text(template, CKA_LABEL).unwrap_or_default();
    let application = find_text(template, CKA_APPLICATION).unwrap_or_default();
    let oid = object_id(template)?;
    let value = find(template, CKA_VALUE).unwrap_or_default().to_vec();
    let token = s.token();
    load::materialize(token, Scope::ALL, Refresh::Cached)?;
    let data_prefix = if private {
        prefix::PRIVATE_DATA
    } else {
        prefix::PUBLIC_DATA
    };
    let n = free_number(
        s,
        &[prefix::DCOD, prefix::PRIVATE_DATA, prefix::PUBLIC_DATA],
    )?;
    let (file, desc_fid) = (Fid::new(data_prefix, n), Fid::new(prefix::DCOD, n));
    let desc = DataObjectDescription {
        common: CommonObject {
            label: label.clone(),
            flags: Some(if private {
                object_flags::PRIVATE | object_flags::MODIFIABLE
            } else {
                object_flags::MODIFIABLE
            }),
            auth_id: private.then(|| vec![0x01]),
        },
        application_name: (!application.is_empty()).then(|| application.clone()),
        application_oid: oid.clone(),
        path: file.bytes().to_vec(),
    };
    let desc_bytes = desc.encode();
    s.with_card(CardOp::Write, |dev| {
        dev.write_file(file, &value)?;
        dev.write_file(desc_fid, &desc_bytes)
    })?;
    let mut st = token.objects.write();
    if let Some(f) = &mut st.fids {
        f.insert(file);
    }
    st.note_written(desc_fid, Some(desc_bytes));
    log::info!("data object stored in {file} with description {desc_fid}");
    let body = Body::Data(DataObject {
        desc_fid: Some(desc_fid),
        desc: Some(desc),
        file: Some(file),
        label,
        application,
        object_id: oid.map(|o| tlv::encode(0x06, &o)).unwrap_or_default(),
        private,
        value: Some(value),
    });
    Ok(st.upsert(Identity::Data(n), None, body, || token.new_handle()))
}

/// CKA_OBJECT_ID: DER of an OBJECT IDENTIFIER; returns its content bytes.
fn object_id(template: &[Attribute]) -> Result<Option<Vec<u8>>> {
    match find(template, CKA_OBJECT_ID) {
        None | Some([]) => Ok(None),
        Some(der) => match tlv::Tlv::parse_exact(der) {
            Ok(t) if t.tag == 0x06 && !t.value.is_empty() => Ok(Some(t.value.to_vec())),
            _ => Err(Error::AttributeValueInvalid),
        },
    }
}

/// The lowest number 1..=255 free under every one of the prefixes.
fn free_number(s: &SessionRef, prefixes: &[u8]) -> Result<u8> {
    let st = s.token().objects.read();
    (1..=255u8)
        .find(|&n| prefixes.iter().all(|&p| !st.has_file(Fid::new(p, n))))
        .ok_or(Error::DeviceMemory)
}

fn session_public_key(
    template: &[Attribute],
    label: String,
    id: Vec<u8>,
) -> Result<PublicKeyObject> {
    let kind = match find_ulong(template, CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)? {
        CKK_RSA => PublicKind::Rsa {
            modulus: find(template, CKA_MODULUS)
                .ok_or(Error::TemplateIncomplete)?
                .to_vec(),
            exponent: find(template, CKA_PUBLIC_EXPONENT)
                .ok_or(Error::TemplateIncomplete)?
                .to_vec(),
        },
        CKK_EC => {
            let params = find(template, CKA_EC_PARAMS).ok_or(Error::TemplateIncomplete)?;
            let point = find(template, CKA_EC_POINT).ok_or(Error::TemplateIncomplete)?;
            let curve = Curve::by_ec_params(params);
            // CKA_EC_POINT is a DER OCTET STRING; some applications pass the bare point.
            let point = match tlv::Tlv::parse_exact(point) {
                Ok(t) if t.tag == 0x04 && t.value.first() == Some(&0x04) => t.value.to_vec(),
                _ => point.to_vec(),
            };
            if point.first() != Some(&0x04) || curve.is_some_and(|c| point.len() != c.point_len()) {
                return Err(Error::AttributeValueInvalid);
            }
            PublicKind::Ec {
                curve,
                params: params.to_vec(),
                point,
            }
        }
        _ => return Err(Error::AttributeValueInvalid),
    };
    let mut usage = 0;
    for (a, bit, default) in [
        (CKA_VERIFY, KeyUsage::VERIFY, true),
        (CKA_ENCRYPT, KeyUsage::ENCRYPT, true),
        (CKA_WRAP, KeyUsage::WRAP, false),
        (CKA_VERIFY_RECOVER, KeyUsage::VERIFY_RECOVER, false),
    ] {
        if find_bool(template, a).unwrap_or(default) {
            usage |= bit;
        }
    }
    Ok(PublicKeyObject {
        key_id: None,
        label,
        id,
        info: PublicInfo {
            spki: x509::build_spki(&kind),
            kind,
        },
        usage: KeyUsage(usage),
        meta: super::KeyMeta {
            local: false,
            allowed_mechanisms: find(template, CKA_ALLOWED_MECHANISMS)
                .and_then(attr::read_mechanisms),
            ..Default::default()
        },
        subject: find(template, CKA_SUBJECT).unwrap_or_default().to_vec(),
    })
}
