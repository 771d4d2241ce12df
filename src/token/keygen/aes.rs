//! C_GenerateKey with CKM_AES_KEY_GEN (GENERATE SYMMETRIC KEY, fw ≥ 3.0), with a secret key
//! description (A8, sc-hsm-embedded's form) in C4<id>. Firmware 3.1 and 3.2 produce weak AES
//! keys (advisory of 2019, fixed in 3.3; PROTOCOL.md §9.2): the module warns.

use cryptoki_sys::*;

use super::restrictions::algorithm_list;
use super::template::{self, KeyRequest, DEFAULT_SECRET_KEY_LABEL};
use crate::card::keys::{AesKeySize, SymKeyParams};
use crate::card::pkcs15::KeyUsage;
use crate::card::prkd::{KeyDescription, KeyKind};
use crate::card::{self, Device};
use crate::token::api::{Attribute, Mechanism};
use crate::token::card_error::CardOp;
use crate::token::error::{Error, Result};
use crate::token::mechanisms::{self, Family};
use crate::token::objects::attributes::find_ulong;
use crate::token::objects::{write_key_files, KeyMeta, NewKey};
use crate::token::operations::keycheck;
use crate::token::session::SessionRef;

/// Encrypt, decrypt and CMAC (sign/verify) unless the template says otherwise.
const DEFAULT_USAGE: u32 =
    KeyUsage::ENCRYPT | KeyUsage::DECRYPT | KeyUsage::SIGN | KeyUsage::VERIFY;

pub fn generate_key(
    s: &SessionRef,
    mechanism: &Mechanism,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    let profile = s.profile();
    let info = mechanisms::on_device(&profile, mechanism.kind).ok_or(Error::MechanismInvalid)?;
    if info.flags & CKF_GENERATE == 0 {
        return Err(Error::MechanismInvalid);
    }
    keycheck::no_param(mechanism)?;
    template::check(template, CKO_SECRET_KEY, CKK_AES)?;
    let len = find_ulong(template, CKA_VALUE_LEN).ok_or(Error::TemplateIncomplete)?;
    let size = usize::try_from(len)
        .ok()
        .and_then(AesKeySize::from_bytes)
        .ok_or(Error::AttributeValueInvalid)?;
    let request = template::key_request(template, &[], DEFAULT_USAGE)?;
    s.require_rw()?;
    s.require_user()?;
    if profile.weak_aes_generation {
        log::warn!(
            "firmware {} generates weak AES keys (security advisory, fixed in 3.3): \
             update the device and generate this key again",
            profile.version
        );
    }
    let params = SymKeyParams {
        algorithms: algorithm_list(
            &profile,
            Family::Aes,
            request.allowed_mechanisms.as_deref(),
            request.extractable,
        ),
        use_counter: None,
        key_domain: template::key_domain(&request, &profile)?,
    };
    let bits = size.bits();
    let new_key = s.with_card(CardOp::KeyGen, |dev| {
        generate_on_card(dev, size, &params, &request)
    })?;
    let key_id = new_key.key_id;
    let handles = s.add_card_key(new_key)?;
    log::info!(
        "generated AES-{bits} key {key_id}: handle {}",
        handles.private
    );
    Ok(handles.private)
}

/// Free id, GENERATE SYMMETRIC KEY, description and metadata; a key whose files cannot be
/// written is deleted again. The card-facing part, shared with `schsm-tool generate`.
pub fn generate_on_card(
    dev: &mut Device,
    size: AesKeySize,
    params: &SymKeyParams,
    request: &KeyRequest,
) -> card::Result<NewKey> {
    let bits = size.bits();
    let id = dev.free_key_id()?;
    dev.generate_aes_key(id, size, params)?;
    // Like sc-hsm-embedded: without CKA_ID the key's id is the card's key id.
    let cka_id = request.id.clone().unwrap_or_else(|| vec![id]);
    let label = request
        .label
        .clone()
        .unwrap_or_else(|| DEFAULT_SECRET_KEY_LABEL.to_string());
    let new_key = NewKey {
        key_id: id,
        description: KeyDescription::opensc(KeyKind::Aes, &label, &cka_id, request.usage, id, bits),
        meta: KeyMeta {
            allowed_mechanisms: request.allowed_mechanisms.clone(),
            extractable: request.extractable,
            local: true,
        },
        public_file: None,
    };
    if let Err(e) = write_key_files(dev, &new_key) {
        log::warn!("key {id}: writing its description failed ({e}); deleting the key");
        if let Err(d) = dev.delete_key(id) {
            log::warn!("key {id}: could not be deleted either: {d}");
        }
        return Err(e);
    }
    Ok(new_key)
}
