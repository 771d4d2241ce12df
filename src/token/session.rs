//! A session, and [`SessionRef`]: the way every per-session call (here and in the crypto
//! helper's files) reaches its session, token and card. See the CONTRACT in `token/mod.rs`.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cryptoki_sys::{CK_OBJECT_HANDLE, CK_SESSION_HANDLE, CK_SLOT_ID};
use parking_lot::Mutex;

use super::api::{Attribute, Operation};
use super::card_error::CardOp;
use super::error::{Error, Result};
use super::find::FindState;
use super::library::{self, Library};
use super::objects::{self, KeyHandles, KeyInfo, NewKey};
use super::token_state::{LoginState, Token};
use crate::card::{self, Device, FirmwareProfile};
use crate::config::Config;

/// The per-operation states the crypto helper keeps (downcast to its own types).
pub type Operations = HashMap<Operation, Box<dyn Any + Send>>;

pub struct Session {
    pub handle: CK_SESSION_HANDLE,
    pub slot_id: CK_SLOT_ID,
    pub rw: bool,
    /// The token (card insertion) this session was opened on.
    pub token: Arc<Token>,
    pub find: Mutex<Option<FindState>>,
    operations: Mutex<Operations>,
    /// Whether this session has re-read the card's object list (see `find.rs`).
    pub refreshed: AtomicBool,
}

impl Session {
    pub fn new(
        handle: CK_SESSION_HANDLE,
        slot_id: CK_SLOT_ID,
        rw: bool,
        token: Arc<Token>,
    ) -> Self {
        Session {
            handle,
            slot_id,
            rw,
            token,
            find: Mutex::new(None),
            operations: Mutex::new(HashMap::new()),
            refreshed: AtomicBool::new(false),
        }
    }
}

/// A session with its token and the library, valid for one API call.
#[derive(Clone)]
pub struct SessionRef {
    pub lib: Arc<Library>,
    pub session: Arc<Session>,
}

/// Finds a session: `SessionHandleInvalid` for an unknown handle, `DeviceRemoved` when its
/// card went away (the session is then closed).
pub fn session_ref(handle: CK_SESSION_HANDLE) -> Result<SessionRef> {
    let lib = library::get()?;
    let session = lib
        .sessions
        .read()
        .get(&handle)
        .cloned()
        .ok_or(Error::SessionHandleInvalid)?;
    if session.token.is_removed() {
        lib.sessions.write().remove(&handle);
        return Err(Error::DeviceRemoved);
    }
    Ok(SessionRef { lib, session })
}

impl SessionRef {
    pub fn handle(&self) -> CK_SESSION_HANDLE {
        self.session.handle
    }

    pub fn slot_id(&self) -> CK_SLOT_ID {
        self.session.slot_id
    }

    pub fn token(&self) -> &Arc<Token> {
        &self.session.token
    }

    pub fn is_rw(&self) -> bool {
        self.session.rw
    }

    pub fn config(&self) -> &Config {
        &self.lib.config
    }

    /// The card's firmware profile (from the SELECT that opened it).
    pub fn profile(&self) -> FirmwareProfile {
        self.token().profile.clone()
    }

    /// The token serial (device CHR without its sequence number); reads EF 2F02 at most once.
    pub fn serial(&self) -> Result<String> {
        let cached = self.token().info.read().serial.clone();
        match cached {
            Some(s) => Ok(s),
            None => Ok(super::token_info::ensure_info(self.token())?
                .serial
                .unwrap_or_default()),
        }
    }

    pub fn login_state(&self) -> LoginState {
        self.token().login_state()
    }

    pub fn require_user(&self) -> Result<()> {
        match self.login_state() {
            LoginState::User => Ok(()),
            _ => Err(Error::UserNotLoggedIn),
        }
    }

    pub fn require_rw(&self) -> Result<()> {
        if self.is_rw() {
            Ok(())
        } else {
            Err(Error::SessionReadOnly)
        }
    }

    /// Runs `f` on this session's card; see `Token::with_card`.
    pub fn with_card<T>(
        &self,
        op: CardOp,
        f: impl FnOnce(&mut Device) -> card::Result<T>,
    ) -> Result<T> {
        self.token().with_card(op, f)
    }

    /// Runs `f`, which sends exactly one APDU, on this session's card without a PC/SC
    /// transaction; see `Token::with_card_one_apdu`.
    pub fn with_card_one_apdu<T>(
        &self,
        op: CardOp,
        f: impl Fn(&mut Device) -> card::Result<T>,
    ) -> Result<T> {
        self.token().with_card_one_apdu(op, f)
    }

    /// The session's operation states.
    pub fn with_operations<T>(&self, f: impl FnOnce(&mut Operations) -> T) -> T {
        f(&mut self.session.operations.lock())
    }

    /// The key behind a handle, with its public part loaded.
    pub fn key(&self, handle: CK_OBJECT_HANDLE) -> Result<KeyInfo> {
        objects::key_info(self, handle)
    }

    /// Adds a key the caller created on the card (files already written with
    /// `objects::write_key_files`) to the token's objects.
    pub fn add_card_key(&self, key: NewKey) -> Result<KeyHandles> {
        objects::add_card_key(self, key)
    }

    /// A session object (CKA_TOKEN false), as C_CreateObject makes it; a secret key (which
    /// C_CreateObject refuses) becomes a key held in memory (`objects::session_secret`).
    pub fn add_session_object(&self, template: &[Attribute]) -> Result<CK_OBJECT_HANDLE> {
        match objects::attributes::find_ulong(template, cryptoki_sys::CKA_CLASS) {
            Some(cryptoki_sys::CKO_SECRET_KEY) => objects::session_secret::add(self, template),
            _ => objects::create::create_session_object(self, template),
        }
    }

    /// Whether this session may see objects marked CKA_PRIVATE (PKCS#11 2.40 §4.4: only once
    /// the user is logged in).
    pub fn sees_private(&self) -> bool {
        self.login_state() == LoginState::User
    }

    pub fn refreshed(&self) -> bool {
        self.session.refreshed.load(Ordering::Relaxed)
    }
}
