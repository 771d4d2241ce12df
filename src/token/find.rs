//! C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal.
//!
//! A find matches every template attribute exactly (an attribute the object does not have
//! never matches; an empty template matches everything visible) and returns handles in
//! ascending order. What is read from the card depends on the template's CKA_CLASS (see
//! `objects/load.rs`). The rule for seeing other processes' changes: the first
//! C_FindObjectsInit of each session ENUMERATEs again (one APDU) and reads only the files
//! that are new; later finds in the same session use the cache.
//!
//! Visibility follows OpenSC on this card: key objects are listed without login; other
//! CKA_PRIVATE objects (private data) only when the user is logged in.

use std::sync::atomic::Ordering;

use cryptoki_sys::*;

use super::api::Attribute;
use super::error::{Error, Result};
use super::objects::attributes::{self as attr, find_ulong};
use super::objects::load::{self, Refresh, Scope};
use super::objects::{values, Body};
use super::session::{session_ref, SessionRef};

/// An active search: the matching handles not yet returned.
#[derive(Debug, Default)]
pub struct FindState {
    handles: Vec<CK_OBJECT_HANDLE>,
    next: usize,
}

pub fn find_objects_init(session: CK_SESSION_HANDLE, template: &[Attribute]) -> Result<()> {
    let s = session_ref(session)?;
    if s.session.find.lock().is_some() {
        return Err(Error::OperationActive);
    }
    let handles = search(&s, template)?;
    let mut find = s.session.find.lock();
    if find.is_some() {
        return Err(Error::OperationActive);
    }
    *find = Some(FindState { handles, next: 0 });
    Ok(())
}

/// The handles of the visible objects matching `template`, in handle order.
pub fn search(s: &SessionRef, template: &[Attribute]) -> Result<Vec<CK_OBJECT_HANDLE>> {
    // A malformed template matches nothing (PKCS#11 lets a find succeed with no results).
    if attr::check_template(template).is_err() {
        return Ok(Vec::new());
    }
    let token = s.token();
    let class = find_ulong(template, CKA_CLASS);
    let scope = Scope::for_class(class);
    let refresh = if s.session.refreshed.swap(true, Ordering::Relaxed) {
        Refresh::Cached
    } else {
        Refresh::Enumerate
    };
    if scope != Scope::default() {
        load::materialize(token, scope, refresh)?;
    }
    let user = s.sees_private();
    let candidates: Vec<_> = token
        .objects
        .read()
        .objects
        .values()
        .filter(|o| o.visible(user))
        .cloned()
        .collect();
    // Attributes that need a key's CExx (e.g. CKA_MODULUS): read those files in one go.
    let lazy_keys: Vec<u8> = candidates
        .iter()
        .filter(|o| template.iter().any(|t| values::needs_public(o, t.kind)))
        .filter_map(|o| match &o.body {
            Body::Key(k) => Some(k.key_id),
            _ => None,
        })
        .collect();
    let candidates = if lazy_keys.is_empty() {
        candidates
    } else {
        load::load_public(token, &lazy_keys)?;
        let st = token.objects.read();
        candidates.iter().filter_map(|o| st.get(o.handle)).collect()
    };
    let mut out = Vec::new();
    for o in candidates {
        let o = if template.iter().any(|t| values::needs_value(&o, t.kind)) {
            load::load_data_value(token, o.handle)?;
            match token.objects.read().get(o.handle) {
                Some(o) => o,
                None => continue,
            }
        } else {
            o
        };
        if values::matches(&o, template) {
            out.push(o.handle);
        }
    }
    Ok(out)
}

pub fn find_objects(session: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
    let s = session_ref(session)?;
    let mut find = s.session.find.lock();
    let state = find.as_mut().ok_or(Error::OperationNotInitialized)?;
    let store = s.token().objects.read();
    let mut out = Vec::new();
    while out.len() < max && state.next < state.handles.len() {
        let h = state.handles[state.next];
        state.next += 1;
        // An object destroyed since the search started is not returned.
        if store.get(h).is_some() {
            out.push(h);
        }
    }
    Ok(out)
}

pub fn find_objects_final(session: CK_SESSION_HANDLE) -> Result<()> {
    let s = session_ref(session)?;
    let active = s.session.find.lock().take();
    active.map(|_| ()).ok_or(Error::OperationNotInitialized)
}
