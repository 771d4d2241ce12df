//! C_WrapKey / C_UnwrapKey under the DKEK (DESIGN.md "Wrap and unwrap").
//!
//! - `CKM_SCHSM_DKEK_WRAP` with the DKEK object: WRAP KEY, then the wrapped-key envelope of
//!   sc-hsm-tool (PROTOCOL.md §8.5: blob, PRKD from C4xx, certificate / CV request from CExx),
//!   so label, CKA_ID, certificate and the restriction (algReference) travel with the key.
//!   Unwrap (`unwrap.rs`) takes that envelope or a bare blob.
//! - `CKM_SCHSM_PKCS8_IMPORT` (unwrap only) and C_CreateObject of a private key (`import.rs`):
//!   the module, holding the DKEK (config `[dkek]`), encodes a blob on the host.
//!
//! Key domains (fw >= 3.0, PROTOCOL.md §8.7): the card wraps under the DKEK of the key's own
//! domain, so C_WrapKey checks the blob's KCV against the DKEK object named (another domain's
//! object: CKR_WRAPPING_KEY_TYPE_INCONSISTENT). UNWRAP KEY has no domain parameter: the card
//! (pico-hsm, the simulator) puts the key into the first domain whose complete DKEK has the
//! blob's KCV; C_UnwrapKey refuses a blob whose KCV is not the named DKEK object's before
//! sending anything, so the key lands in the named domain unless two domains share one DKEK.
//!
//! Size query: the card is asked once; an envelope made but not delivered (size query, buffer
//! too small) is kept for the same session, wrapping key and key, and handed out next time.

mod import;
mod unwrap;

use std::collections::HashMap;

use cryptoki_sys::*;
use parking_lot::Mutex;

use super::api::{Attribute, Mechanism, Output};
use super::card_error::{map_card_error, CardOp};
use super::error::{Error, Result};
use super::objects::KeyInfo;
use super::session::{session_ref, SessionRef};
use crate::card::wrapped_file::WrappedKeyFile;
use crate::card::{self, Fid};
use crate::vendor::{CKM_SCHSM_DKEK_WRAP, CKM_SCHSM_PKCS8_IMPORT};

pub use import::create_private_key;

/// An envelope computed but not yet delivered: (wrapping key, key) → bytes.
type Pending = (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE, Vec<u8>);
static PENDING: Mutex<Option<HashMap<CK_SESSION_HANDLE, Pending>>> = Mutex::new(None);

fn take_pending(
    session: CK_SESSION_HANDLE,
    wrapping: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
) -> Option<Vec<u8>> {
    let mut p = PENDING.lock();
    let map = p.get_or_insert_with(HashMap::new);
    match map.remove(&session) {
        Some((w, k, bytes)) if w == wrapping && k == key => Some(bytes),
        _ => None,
    }
}

fn keep_pending(
    session: CK_SESSION_HANDLE,
    wrapping: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    bytes: Vec<u8>,
) {
    PENDING
        .lock()
        .get_or_insert_with(HashMap::new)
        .insert(session, (wrapping, key, bytes));
}

/// Drops an envelope a closed session never fetched.
pub fn forget_session(session: CK_SESSION_HANDLE) {
    if let Some(map) = PENDING.lock().as_mut() {
        map.remove(&session);
    }
}

/// Drops every undelivered envelope (C_Finalize: session handles may be reused afterwards).
pub fn forget_all() {
    *PENDING.lock() = None;
}

/// The KCV of the complete DKEK of key domain 0, if the device has one (from the DKEK object).
/// Host-encoded imports (C_CreateObject) go there; CKM_SCHSM_PKCS8_IMPORT names its DKEK object.
fn device_dkek_kcv(s: &SessionRef) -> Result<Option<[u8; 8]>> {
    use super::objects::load::{materialize, Refresh, Scope};
    use super::objects::{Body, Identity};
    let keys = Scope {
        keys: true,
        ..Scope::default()
    };
    materialize(s.token(), keys, Refresh::Cached)?;
    let st = s.token().objects.read();
    Ok(
        match st.by_identity(Identity::Dkek(0)).map(|o| o.body.clone()) {
            Some(Body::Dkek(d)) => Some(d.kcv),
            _ => None,
        },
    )
}

/// The DKEK object behind a wrapping/unwrapping key handle.
fn dkek_object(s: &SessionRef, handle: CK_OBJECT_HANDLE, unwrap: bool) -> Result<KeyInfo> {
    let (invalid, inconsistent) = if unwrap {
        (
            Error::UnwrappingKeyHandleInvalid,
            Error::UnwrappingKeyTypeInconsistent,
        )
    } else {
        (
            Error::WrappingKeyHandleInvalid,
            Error::WrappingKeyTypeInconsistent,
        )
    };
    let k = s.key(handle).map_err(|e| match e {
        Error::KeyHandleInvalid => invalid,
        e => e,
    })?;
    if !k.dkek {
        log::info!("wrap/unwrap key {handle} is not the DKEK object");
        return Err(inconsistent);
    }
    Ok(k)
}

pub fn wrap_key(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    wrapping_key: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    capacity: Option<usize>,
) -> Result<Output> {
    let s = session_ref(session)?;
    if mechanism.kind != CKM_SCHSM_DKEK_WRAP {
        log::info!(
            "C_WrapKey with mechanism {:#x}: only CKM_SCHSM_DKEK_WRAP ({CKM_SCHSM_DKEK_WRAP:#x})",
            mechanism.kind
        );
        return Err(Error::MechanismInvalid);
    }
    if !matches!(mechanism.param, crate::token::api::MechanismParam::None) {
        return Err(Error::MechanismParamInvalid);
    }
    let envelope = match take_pending(session, wrapping_key, key) {
        Some(e) => e,
        None => {
            s.require_user()?;
            let dkek = dkek_object(&s, wrapping_key, false)?;
            let k = s.key(key)?;
            let id = match (k.class, k.key_id) {
                (CKO_PRIVATE_KEY | CKO_SECRET_KEY, Some(id)) if !k.dkek => id,
                _ => return Err(Error::KeyNotWrappable),
            };
            if !k.meta.extractable {
                log::info!("C_WrapKey: key {id} is not extractable (CKA_EXTRACTABLE false)");
                return Err(Error::KeyUnextractable);
            }
            wrap_on_card(&s, id, &dkek)?
        }
    };
    let len = envelope.len();
    match capacity {
        Some(n) if n >= len => Ok(Output::Data(envelope)),
        _ => {
            keep_pending(session, wrapping_key, key, envelope);
            Ok(Output::Len(len))
        }
    }
}

/// WRAP KEY and the host files of key `id`, as an envelope.
///
/// The card always wraps under the DKEK of the key's own domain (PROTOCOL.md §4.18, §8.7): the
/// caller's choice of DKEK object cannot change that, and no card file says which domain a key
/// is in. So the blob's KCV is compared with the named DKEK object's: a blob under another
/// domain's DKEK is CKR_WRAPPING_KEY_TYPE_INCONSISTENT ("the wrapping key is not of the right
/// kind to wrap this key": the handle is valid and can wrap, only not this key, which
/// CKR_WRAPPING_KEY_HANDLE_INVALID would not say). The blob is dropped.
fn wrap_on_card(s: &SessionRef, id: u8, dkek: &KeyInfo) -> Result<Vec<u8>> {
    let result = s.with_card(CardOp::Wrap, |dev| {
        let blob = match dev.wrap_key(id) {
            Ok(b) => b,
            // The card's refusal is the answer for this key, not a device failure.
            Err(
                e @ (card::Error::ConditionsNotSatisfied
                | card::Error::CommandNotAllowed
                | card::Error::FunctionNotSupported),
            ) => return Ok(Err(e)),
            Err(e) => return Err(e),
        };
        let prkd = dev.read_file_if_exists(Fid::prkd(id))?;
        let certificate = dev.read_file_if_exists(Fid::ee_certificate(id))?;
        Ok(Ok(WrappedKeyFile {
            blob,
            prkd,
            certificate,
        }))
    })?;
    match result {
        Ok(file) if dkek.kcv.is_some_and(|k| file.blob.get(..8) != Some(&k[..])) => {
            let blob_kcv = file.blob.get(..8).unwrap_or_default();
            let domain =
                super::objects::dkek_objects::domain_of_kcv(&s.token().objects.read(), blob_kcv);
            log::info!(
                "C_WrapKey: key {id} is in another key domain ({}; blob KCV {}) than the \
                 wrapping key {:?} (KCV {}): wrap it with that domain's DKEK object",
                domain.map_or("unknown".to_string(), |d| format!("domain {d}")),
                hex(blob_kcv),
                dkek.label,
                hex(&dkek.kcv.unwrap_or_default())
            );
            Err(Error::WrappingKeyTypeInconsistent)
        }
        Ok(file) => {
            log::info!(
                "C_WrapKey: key {id} wrapped under the DKEK ({} byte blob, description {}, certificate {})",
                file.blob.len(),
                file.prkd.is_some(),
                file.certificate.is_some()
            );
            Ok(file.encode())
        }
        Err(e) => {
            let mapped = map_card_error(e, CardOp::Wrap);
            log::info!("C_WrapKey: the card refuses to export key {id} ({mapped:?})");
            Err(Error::KeyUnextractable)
        }
    }
}

pub fn unwrap_key(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    unwrapping_key: CK_OBJECT_HANDLE,
    wrapped: &[u8],
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    let s = session_ref(session)?;
    if !matches!(mechanism.param, crate::token::api::MechanismParam::None)
        && mechanism.kind == CKM_SCHSM_DKEK_WRAP
    {
        return Err(Error::MechanismParamInvalid);
    }
    match mechanism.kind {
        CKM_SCHSM_DKEK_WRAP => {
            s.require_user()?;
            s.require_rw()?;
            let dkek = dkek_object(&s, unwrapping_key, true)?;
            unwrap::unwrap_envelope(&s, &dkek, wrapped, template)
        }
        CKM_SCHSM_PKCS8_IMPORT => {
            s.require_user()?;
            s.require_rw()?;
            let dkek = dkek_object(&s, unwrapping_key, true)?;
            import::import_pkcs8(&s, &dkek, wrapped, template)
        }
        other => {
            log::info!(
                "C_UnwrapKey with mechanism {other:#x}: only CKM_SCHSM_DKEK_WRAP \
                 ({CKM_SCHSM_DKEK_WRAP:#x}) and CKM_SCHSM_PKCS8_IMPORT ({CKM_SCHSM_PKCS8_IMPORT:#x})"
            );
            Err(Error::MechanismInvalid)
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
