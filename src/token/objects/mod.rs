//! Objects and attributes: the model (`model.rs`), the attribute table (`attributes.rs`),
//! attribute values (`values.rs`), the cache (`store.rs`), loading from the card (`load.rs`),
//! C_CreateObject (`create.rs`), C_DestroyObject (`destroy.rs`), C_SetAttributeValue
//! (`set.rs`), X.509 fields (`x509.rs`), host-kept key metadata (`key_meta.rs`) and the key
//! interface for the crypto helper (`keys.rs`).
//!
//! The card's objects follow OpenSC's PKCS#15 layout (PROTOCOL.md §7), so keys, certificates
//! and data objects made by either module are seen by the other.

use std::sync::Arc;

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_OBJECT_HANDLE, CK_SESSION_HANDLE, CK_ULONG};

use super::api::{Attribute, AttributeValue};
use super::error::{Error, Result};
use super::session::{session_ref, SessionRef};

pub mod attributes;
pub mod build;
pub mod create;
pub mod destroy;
pub mod dkek_objects;
pub mod key_meta;
pub mod keys;
pub mod load;
pub mod model;
pub mod restriction;
pub mod session_secret;
pub mod set;
pub mod store;
pub mod values;
pub mod x509;

pub use key_meta::KeyMeta;
pub use keys::{
    add_card_key, clear_ghost_descriptions, finish_orphan_keys, key_info, write_key_files,
    KeyHandles, KeyInfo, NewKey,
};
pub use model::{Body, Identity, Object, PublicInfo, PublicKind};

/// The object behind a handle, if this session may see it (`ObjectHandleInvalid` otherwise).
pub fn visible_object(s: &SessionRef, handle: CK_OBJECT_HANDLE) -> Result<Arc<Object>> {
    let obj = s
        .token()
        .objects
        .read()
        .get(handle)
        .ok_or(Error::ObjectHandleInvalid)?;
    if obj.visible(s.sees_private()) {
        Ok(obj)
    } else {
        Err(Error::ObjectHandleInvalid)
    }
}

/// The key behind a handle for a cryptographic operation: `KeyHandleInvalid` when there is no
/// such object, `UserNotLoggedIn` when it is a private key this session may not see yet — an
/// application holding a key handle after a logout (perhaps by another program) is told to log
/// in again rather than to forget its key.
pub fn key_object(s: &SessionRef, handle: CK_OBJECT_HANDLE) -> Result<Arc<Object>> {
    let obj = s
        .token()
        .objects
        .read()
        .get(handle)
        .ok_or(Error::KeyHandleInvalid)?;
    match obj.visible(s.sees_private()) {
        true => Ok(obj),
        false => Err(Error::UserNotLoggedIn),
    }
}

pub fn create_object(
    session: CK_SESSION_HANDLE,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    create::create_object(&session_ref(session)?, template)
}

pub fn destroy_object(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) -> Result<()> {
    destroy::destroy_object(&session_ref(session)?, object)
}

/// The card does not say how much memory an object takes.
pub fn object_size(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
) -> Result<Option<CK_ULONG>> {
    visible_object(&session_ref(session)?, object)?;
    Ok(None)
}

pub fn get_attributes(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    kinds: &[CK_ATTRIBUTE_TYPE],
) -> Result<Vec<AttributeValue>> {
    let s = session_ref(session)?;
    let mut obj = visible_object(&s, object)?;
    if let Body::Key(k) = &obj.body {
        if kinds.iter().any(|&t| values::needs_public(&obj, t)) {
            load::load_public(s.token(), &[k.key_id])?;
            obj = visible_object(&s, object)?;
        }
    }
    if kinds.iter().any(|&t| values::needs_value(&obj, t)) {
        load::load_data_value(s.token(), object)?;
        obj = visible_object(&s, object)?;
    }
    Ok(kinds.iter().map(|&t| values::get(&obj, t)).collect())
}

pub fn set_attributes(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    template: &[Attribute],
) -> Result<()> {
    set::set_attributes(&session_ref(session)?, object, template)
}
