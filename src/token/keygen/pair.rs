//! C_GenerateKeyPair (CKM_EC_KEY_PAIR_GEN, CKM_RSA_PKCS_KEY_PAIR_GEN), OpenSC's way (PROTOCOL.md
//! §11.5): the lowest free key id from ENUMERATE, GENERATE ASYMMETRIC KEY PAIR with CAR
//! "UTCA00001" and CHR = serial ‖ "00001", then the private key description in C4<id> in
//! OpenSC's format (and the metadata CB<id> when needed). The card keeps the CV request in
//! CE<id> itself; the public key object is made from it.
//!
//! CKA_ID default: OpenSC's "mozilla" intrinsic ID (pkcs15init/pkcs15.profile sets
//! `pkcs15-id-style = mozilla`; `sc_pkcs15init_select_intrinsic_id` in pkcs15-lib.c): SHA-1 of
//! the RSA modulus, or SHA-1 of the EC point's X coordinate.
//!
//! The whole generation runs in one `with_card` (one transaction under this slot's card lock
//! only): RSA-4096 takes minutes on a real card, and other slots stay usable meanwhile.

use cryptoki_sys::*;
use sha1::{Digest, Sha1};

use super::restrictions::algorithm_list;
use super::template::{self, KeyRequest, DEFAULT_PRIVATE_KEY_LABEL};
use crate::card::cvc::PublicKey;
use crate::card::keys::{KeyGenParams, KeySpec};
use crate::card::pkcs15::KeyUsage;
use crate::card::prkd::{KeyDescription, KeyKind};
use crate::card::{self, Device};
use crate::token::api::{Attribute, Mechanism};
use crate::token::card_error::CardOp;
use crate::token::error::{Error, Result};
use crate::token::mechanisms::{self, Family};
use crate::token::objects::attributes::{find, find_ulong};
use crate::token::objects::{write_key_files, KeyMeta, NewKey};
use crate::token::operations::keycheck;
use crate::token::session::SessionRef;

/// The public exponent hosts use.
const F4: [u8; 3] = [0x01, 0x00, 0x01];

pub fn generate_key_pair(
    s: &SessionRef,
    mechanism: &Mechanism,
    public_template: &[Attribute],
    private_template: &[Attribute],
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
    let info =
        mechanisms::on_device(&s.profile(), mechanism.kind).ok_or(Error::MechanismInvalid)?;
    if info.flags & CKF_GENERATE_KEY_PAIR == 0 {
        return Err(Error::MechanismInvalid);
    }
    keycheck::no_param(mechanism)?;
    let (family, key_type) = match mechanism.kind {
        CKM_EC_KEY_PAIR_GEN => (Family::Ec, CKK_EC),
        _ => (Family::Rsa, CKK_RSA),
    };
    template::check(public_template, CKO_PUBLIC_KEY, key_type)?;
    template::check(private_template, CKO_PRIVATE_KEY, key_type)?;
    let profile = s.profile();
    let (spec, kind, default_usage) = match family {
        Family::Ec => {
            let params = find(public_template, CKA_EC_PARAMS)
                .or_else(|| find(private_template, CKA_EC_PARAMS))
                .ok_or(Error::TemplateIncomplete)?;
            let curve = template::curve(params)?;
            if !profile.supports_ec_bits(curve.field_bits) {
                log::info!("{} is beyond firmware {}", curve.name, profile.version);
                return Err(Error::CurveNotSupported);
            }
            (KeySpec::Ec(curve), KeyKind::Ec, KeyUsage::SIGN)
        }
        _ => {
            let bits = find_ulong(public_template, CKA_MODULUS_BITS)
                .or_else(|| find_ulong(private_template, CKA_MODULUS_BITS))
                .ok_or(Error::TemplateIncomplete)?;
            let bits = u16::try_from(bits)
                .ok()
                .filter(|&b| profile.supports_rsa_bits(b))
                .ok_or(Error::KeySizeRange)?;
            let exponent = find(public_template, CKA_PUBLIC_EXPONENT)
                .map(strip_zeros)
                .filter(|e| !e.is_empty())
                .unwrap_or(&F4)
                .to_vec();
            let spec = KeySpec::Rsa {
                bits,
                public_exponent: exponent,
            };
            (spec, KeyKind::Rsa, KeyUsage::SIGN | KeyUsage::DECRYPT)
        }
    };
    let request = template::key_request(private_template, public_template, default_usage)?;
    s.require_rw()?;
    s.require_user()?;

    let mut params = KeyGenParams::new(spec, &s.serial()?);
    params.key_domain = template::key_domain(&request, &profile)?;
    params.algorithms = algorithm_list(
        &profile,
        family,
        request.allowed_mechanisms.as_deref(),
        request.extractable,
    );
    log::info!(
        "generating {} key pair (algorithm list {:02X?}, key domain {:?})",
        describe(&params.spec),
        params.algorithms,
        params.key_domain
    );
    let new_key = s.with_card(CardOp::KeyGen, |dev| {
        generate_on_card(dev, &params, kind, &request)
    })?;
    let key_id = new_key.key_id;
    let handles = s.add_card_key(new_key)?;
    let public = handles.public.ok_or_else(|| {
        log::warn!("key {key_id}: generated, but no public key object was made");
        Error::GeneralError
    })?;
    log::info!(
        "generated key {key_id}: private {}, public {public}",
        handles.private
    );
    Ok((public, handles.private))
}

fn describe(spec: &KeySpec) -> String {
    match spec {
        KeySpec::Rsa { bits, .. } => format!("RSA-{bits}"),
        KeySpec::Ec(c) => c.name.to_string(),
    }
}

fn strip_zeros(v: &[u8]) -> &[u8] {
    let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[i..]
}

/// Inside the card lock: free id, GAKP, description and metadata. A key whose files cannot be
/// written is deleted again, so no nameless key is left behind. The card-facing part, shared
/// with `schsm-tool generate` (the caller has logged in and checked the parameters).
pub fn generate_on_card(
    dev: &mut Device,
    params: &KeyGenParams,
    kind: KeyKind,
    request: &KeyRequest,
) -> card::Result<NewKey> {
    let id = dev.free_key_id()?;
    let generated = dev.generate_key_pair(id, params)?;
    let public = generated.request.public_key();
    let cka_id = match &request.id {
        Some(id) => id.clone(),
        None => intrinsic_id(public),
    };
    let size_bits = match (&params.spec, public) {
        (KeySpec::Ec(c), _) => c.field_bits,
        (_, p) => p.bits(),
    };
    let label = request
        .label
        .clone()
        .unwrap_or_else(|| DEFAULT_PRIVATE_KEY_LABEL.to_string());
    let new_key = NewKey {
        key_id: id,
        description: KeyDescription::opensc(kind, &label, &cka_id, request.usage, id, size_bits),
        meta: KeyMeta {
            allowed_mechanisms: request.allowed_mechanisms.clone(),
            extractable: request.extractable,
            local: true,
        },
        public_file: Some(generated.request.raw.clone()),
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

/// OpenSC's default CKA_ID: SHA-1 of the modulus, or of the X coordinate of `04‖X‖Y`.
pub fn intrinsic_id(public: &PublicKey) -> Vec<u8> {
    let data: &[u8] = match public {
        PublicKey::Rsa { modulus, .. } => modulus,
        PublicKey::Ec { point, .. } => {
            let half = point.len().saturating_sub(1) / 2;
            point.get(1..1 + half).unwrap_or_default()
        }
    };
    Sha1::digest(data).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intrinsic_id_matches_the_opensc_vector() {
        // PROTOCOL.md §7.1: OpenSC's "btc-test" key has CKA_ID = SHA-1(X); the point below is
        // not that key's, so check the rule itself on both key types.
        let point = [[4u8].as_slice(), &[0x11; 32], &[0x22; 32]].concat();
        let ec = PublicKey::Ec { curve: None, point };
        assert_eq!(intrinsic_id(&ec), Sha1::digest([0x11; 32]).to_vec());
        let rsa = PublicKey::Rsa {
            modulus: vec![0xC5; 128],
            exponent: F4.to_vec(),
        };
        assert_eq!(intrinsic_id(&rsa), Sha1::digest([0xC5; 128]).to_vec());
        assert_eq!(intrinsic_id(&rsa).len(), 20);
    }
}
