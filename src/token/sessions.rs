//! C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo; C_Login and C_Logout
//! are in `login.rs`.

use std::sync::Arc;

use cryptoki_sys::*;

use super::api::SessionInfo;
use super::error::{Error, Result};
use super::library::{self, Library};
use super::session::{session_ref, Session};
use super::slots::present_token;
use super::token_state::{LoginState, Token};

pub fn open_session(slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
    let lib = library::get()?;
    if flags & CKF_SERIAL_SESSION == 0 {
        return Err(Error::SessionParallelNotSupported);
    }
    let token = present_token(&lib, slot)?;
    let rw = flags & CKF_RW_SESSION != 0;
    if !rw && token.login_state() == LoginState::So {
        return Err(Error::SessionReadWriteSoExists);
    }
    let handle = lib.new_session_handle();
    let session = Arc::new(Session::new(handle, slot, rw, token));
    lib.sessions.write().insert(handle, session);
    log::debug!(
        "open session {handle} on slot {slot} ({})",
        if rw { "rw" } else { "ro" }
    );
    Ok(handle)
}

pub fn close_session(session: CK_SESSION_HANDLE) -> Result<()> {
    let lib = library::get()?;
    let removed = lib
        .sessions
        .write()
        .remove(&session)
        .ok_or(Error::SessionHandleInvalid)?;
    after_close(&lib, &[removed]);
    Ok(())
}

pub fn close_all_sessions(slot: CK_SLOT_ID) -> Result<()> {
    let lib = library::get()?;
    lib.slot(slot)?;
    let closed: Vec<Arc<Session>> = {
        let mut map = lib.sessions.write();
        let handles: Vec<_> = map
            .values()
            .filter(|s| s.slot_id == slot)
            .map(|s| s.handle)
            .collect();
        handles.iter().filter_map(|h| map.remove(h)).collect()
    };
    after_close(&lib, &closed);
    Ok(())
}

/// Drops the closed sessions' session objects; logs out of a token whose last session closed.
fn after_close(lib: &Library, closed: &[Arc<Session>]) {
    for s in closed {
        s.token.objects.write().remove_session_objects(s.handle);
        super::wrap::forget_session(s.handle);
    }
    let mut tokens: Vec<&Arc<Token>> = closed.iter().map(|s| &s.token).collect();
    tokens.dedup_by(|a, b| Arc::ptr_eq(a, b));
    for t in tokens {
        let still_open = lib
            .sessions
            .read()
            .values()
            .any(|s| Arc::ptr_eq(&s.token, t));
        if !still_open && t.login_state() != LoginState::Public {
            log::debug!("slot {}: last session closed, logging out", t.slot_id);
            t.logout_quietly();
        }
    }
}

pub fn session_info(session: CK_SESSION_HANDLE) -> Result<SessionInfo> {
    let s = session_ref(session)?;
    let state = match (s.login_state(), s.is_rw()) {
        (LoginState::Public, false) => CKS_RO_PUBLIC_SESSION,
        (LoginState::Public, true) => CKS_RW_PUBLIC_SESSION,
        (LoginState::User, false) => CKS_RO_USER_FUNCTIONS,
        (LoginState::User, true) => CKS_RW_USER_FUNCTIONS,
        (LoginState::So, _) => CKS_RW_SO_FUNCTIONS,
    };
    let mut flags = CKF_SERIAL_SESSION;
    if s.is_rw() {
        flags |= CKF_RW_SESSION;
    }
    Ok(SessionInfo {
        slot: s.slot_id(),
        state,
        flags,
        device_error: 0,
    })
}

pub fn login(session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: Option<&[u8]>) -> Result<()> {
    super::login::login(session, user, pin)
}

pub fn logout(session: CK_SESSION_HANDLE) -> Result<()> {
    super::login::logout(session)
}
