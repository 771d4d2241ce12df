//! The checks every `*Init` with a key makes, in the order PKCS#11 consumers expect:
//! the mechanism exists on this device and does this function (`MechanismInvalid`), the key
//! exists (`KeyHandleInvalid`), is of the mechanism's family (`KeyTypeInconsistent`), allows
//! the mechanism (CKA_ALLOWED_MECHANISMS, `MechanismInvalid`) and has the usage
//! (`KeyFunctionNotPermitted`); operations that need the card need the user logged in.

use cryptoki_sys::*;

use crate::token::api::Mechanism;
use crate::token::error::{Error, Result};
use crate::token::mechanisms::{self, MechSpec};
use crate::token::objects::KeyInfo;
use crate::token::session::SessionRef;

/// The PKCS#11 function a key is initialised for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Sign,
    Verify,
    Encrypt,
    Decrypt,
    Derive,
    Digest,
}

impl Function {
    fn mechanism_flag(self) -> CK_FLAGS {
        match self {
            Function::Sign => CKF_SIGN,
            Function::Verify => CKF_VERIFY,
            Function::Encrypt => CKF_ENCRYPT,
            Function::Decrypt => CKF_DECRYPT,
            Function::Derive => CKF_DERIVE,
            Function::Digest => CKF_DIGEST,
        }
    }

    /// The usage attribute the key must have (digests take no key).
    fn attribute(self) -> Option<CK_ATTRIBUTE_TYPE> {
        match self {
            Function::Sign => Some(CKA_SIGN),
            Function::Verify => Some(CKA_VERIFY),
            Function::Encrypt => Some(CKA_ENCRYPT),
            Function::Decrypt => Some(CKA_DECRYPT),
            Function::Derive => Some(CKA_DERIVE),
            Function::Digest => None,
        }
    }
}

/// The mechanism's table entry, if this device offers it for `function`.
pub fn mechanism(
    s: &SessionRef,
    mechanism: &Mechanism,
    function: Function,
) -> Result<&'static MechSpec> {
    let info =
        mechanisms::on_device(&s.profile(), mechanism.kind).ok_or(Error::MechanismInvalid)?;
    if info.flags & function.mechanism_flag() == 0 {
        return Err(Error::MechanismInvalid);
    }
    mechanisms::spec(mechanism.kind).ok_or(Error::MechanismInvalid)
}

/// The key for `function` with the mechanism `spec`, after all checks.
pub fn key(
    s: &SessionRef,
    handle: CK_OBJECT_HANDLE,
    spec: &MechSpec,
    function: Function,
) -> Result<KeyInfo> {
    // Signing needs only the description (size, usage, algorithm list): no CExx read.
    let key = if function == Function::Sign {
        crate::token::objects::keys::key_info_for_signing(s, handle)?
    } else {
        s.key(handle)?
    };
    if key.dkek || Some(key.key_type) != spec.family.key_type() {
        return Err(Error::KeyTypeInconsistent);
    }
    if key.class == CKO_SECRET_KEY && key.key_id.is_none() {
        // A secret key held in memory (ECDH result): the card's mechanisms need a card key,
        // and the module does no secret-key cryptography in software.
        log::info!("key {handle} is a session secret key: not usable for card operations");
        return Err(Error::KeyFunctionNotPermitted);
    }
    if !key.allows_mechanism(spec.kind) {
        log::info!(
            "mechanism {:#x} is not in CKA_ALLOWED_MECHANISMS of key {handle}",
            spec.kind
        );
        return Err(Error::MechanismInvalid);
    }
    // A private key can verify with its public part (it has no CKA_VERIFY of its own).
    let by_public_part = function == Function::Verify && key.class == CKO_PRIVATE_KEY;
    if !by_public_part && !function.attribute().is_some_and(|a| key.permits(a)) {
        return Err(Error::KeyFunctionNotPermitted);
    }
    Ok(key)
}

/// The card key id of a key the card must use, with the user logged in.
pub fn card_key(s: &SessionRef, key: &KeyInfo) -> Result<u8> {
    let id = key.key_id.ok_or(Error::KeyFunctionNotPermitted)?;
    if key.class == CKO_PUBLIC_KEY {
        return Err(Error::KeyFunctionNotPermitted);
    }
    s.require_user()?;
    Ok(id)
}

/// A mechanism that takes no parameter: none given, or an empty one.
pub fn no_param(mechanism: &Mechanism) -> Result<()> {
    use crate::token::api::MechanismParam;
    match &mechanism.param {
        MechanismParam::None => Ok(()),
        MechanismParam::Raw(r) if r.is_empty() => Ok(()),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// Bytes of an EC key's field (signature halves, shared secret), from the curve or the size.
pub fn field_bytes(key: &KeyInfo) -> usize {
    key.curve
        .map(|c| c.field_bytes)
        .unwrap_or_else(|| usize::from(key.bits).div_ceil(8))
}

/// Bytes of an RSA key's modulus (signature, ciphertext and raw block size).
pub fn modulus_bytes(key: &KeyInfo) -> usize {
    usize::from(key.bits).div_ceil(8)
}
