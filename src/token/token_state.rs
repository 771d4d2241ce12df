//! One insertion of a SmartCard-HSM: the `card::Device`, the login state and the caches.
//!
//! Everything cached here (token info, files, objects, handles) lives exactly as long as the
//! card stays in the reader: a removed card drops its `Token`, a new card gets a new one (and
//! new object handles). Our own writes update or invalidate the caches they touch.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use cryptoki_sys::CK_SLOT_ID;
use parking_lot::{Mutex, RwLock};

use super::card_error::{is_removal, map_card_error, CardOp};
use super::error::{Error, Result};
use super::objects::store::ObjectStore;
use super::token_info::InfoCache;
use crate::card::{self, Device, FirmwareProfile, SoPin};
use crate::transport::TransportError;

/// Who is logged in, token-wide (PKCS#11 login state is per token, not per session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginState {
    Public = 0,
    User = 1,
    So = 2,
}

/// What a look at the reader found about the card we talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Same,
    /// Still there but reset by someone: verified PINs are gone.
    Reset,
    Gone,
}

pub struct Token {
    pub slot_id: CK_SLOT_ID,
    pub simulated: bool,
    device: Mutex<Device>,
    /// The firmware profile from the SELECT that opened the card.
    pub profile: FirmwareProfile,
    removed: AtomicBool,
    login: AtomicU8,
    /// The SO-PIN, kept only while the SO is logged in (for C_InitPIN and C_SetPIN).
    so_pin: Mutex<Option<SoPin>>,
    pub info: RwLock<InfoCache>,
    pub objects: RwLock<ObjectStore>,
    /// This insertion's name for sharing serial and label with other processes
    /// (`info_store.rs`); `None` when the transport cannot tell one.
    pub insertion: Option<String>,
    /// The library's object handle counter (handles are unique across tokens).
    handles: Arc<AtomicU64>,
}

impl Token {
    pub fn new(
        slot_id: CK_SLOT_ID,
        simulated: bool,
        mut device: Device,
        handles: Arc<AtomicU64>,
    ) -> Token {
        let insertion = device.transport_mut().insertion_id();
        Token {
            slot_id,
            simulated,
            profile: device.profile().clone(),
            device: Mutex::new(device),
            removed: AtomicBool::new(false),
            login: AtomicU8::new(LoginState::Public as u8),
            so_pin: Mutex::new(None),
            info: RwLock::new(InfoCache::default()),
            objects: RwLock::new(ObjectStore::default()),
            insertion,
            handles,
        }
    }

    /// Runs `f` on the card: takes this token's card lock, opens a PC/SC transaction, maps a
    /// failure with the context `op`. A card that went away marks the token removed; a reset
    /// card clears the login state (the card forgot the PINs) and is selected again.
    pub fn with_card<T>(
        &self,
        op: CardOp,
        f: impl FnOnce(&mut Device) -> card::Result<T>,
    ) -> Result<T> {
        if self.is_removed() {
            return Err(Error::DeviceRemoved);
        }
        let mut dev = self.device.lock();
        let result = dev.transaction(f);
        self.settle(&mut dev, result, op)
    }

    /// Like [`Token::with_card`] for a closure that sends exactly ONE APDU (SIGN, DECIPHER),
    /// but without a PC/SC transaction: pcscd runs one APDU atomically anyway, and a
    /// transaction per signature makes a second process that signs at the same time wait for
    /// pcsc-lite's lock poll (100 ms per try; measured: two processes got about 60 % of one
    /// process's rate). While another process holds a transaction, pcscd refuses the APDU
    /// (sharing violation): we retry after a short pause, and after a second fall back to a
    /// transaction (which waits as long as it takes). The per-token lock is still held, so
    /// our own threads never interleave inside each other's operations.
    pub fn with_card_one_apdu<T>(
        &self,
        op: CardOp,
        f: impl Fn(&mut Device) -> card::Result<T>,
    ) -> Result<T> {
        if self.is_removed() {
            return Err(Error::DeviceRemoved);
        }
        let mut dev = self.device.lock();
        let mut pause = std::time::Duration::from_micros(200);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        loop {
            match f(&mut dev) {
                Err(card::Error::Transport(TransportError::SharingViolation))
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(10));
                }
                Err(card::Error::Transport(TransportError::SharingViolation)) => {
                    let result = dev.transaction(&f);
                    return self.settle(&mut dev, result, op);
                }
                result => return self.settle(&mut dev, result, op),
            }
        }
    }

    /// The common end of a card operation: a card that went away marks the token removed; a
    /// reset card clears the login state and is selected again; errors get the context `op`.
    fn settle<T>(&self, dev: &mut Device, result: card::Result<T>, op: CardOp) -> Result<T> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                if is_removal(&e) {
                    self.mark_removed();
                } else if e == card::Error::Transport(TransportError::CardReset) {
                    self.forget_login();
                    // The transport reconnected; make sure the applet is selected again.
                    if dev.select_applet().is_err() {
                        let _ = dev.select_applet();
                    }
                }
                let mapped = map_card_error(e, op);
                if mapped == Error::UserNotLoggedIn && self.login_state() == LoginState::User {
                    // The PIN state is the card's, shared by every application: another one
                    // logged out (SELECT) or reset the card. Say so, so the application can
                    // C_Login again (it would get CKR_USER_ALREADY_LOGGED_IN otherwise).
                    log::info!(
                        "slot {}: the card no longer has the user PIN verified (another \
                         application logged out); logged out here too",
                        self.slot_id
                    );
                    self.forget_login();
                }
                Err(mapped)
            }
        }
    }

    /// Whether the card is still the one we opened (no APDU). A busy card (another thread is
    /// in `with_card`) counts as present: whoever holds it will find out if it is not.
    pub fn check_presence(&self, simulated: bool) -> Presence {
        let Some(mut dev) = self.device.try_lock() else {
            return Presence::Same;
        };
        let t = dev.transport_mut();
        let r = if simulated {
            t.is_card_present()
                .map(|p| if p { Presence::Same } else { Presence::Gone })
        } else {
            t.atr().map(|_| Presence::Same)
        };
        match r {
            Ok(p) => p,
            Err(TransportError::CardReset) => {
                self.forget_login();
                // The first command after a reset reconnects and reselects (see Device).
                if dev.select_applet().is_err() && dev.select_applet().is_err() {
                    return Presence::Gone;
                }
                Presence::Reset
            }
            Err(e) if is_removal(&card::Error::Transport(e.clone())) => Presence::Gone,
            Err(e) => {
                log::debug!("slot {}: presence check: {e}", self.slot_id);
                Presence::Same
            }
        }
    }

    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    pub fn mark_removed(&self) {
        self.removed.store(true, Ordering::Release);
        self.forget_login();
    }

    pub fn login_state(&self) -> LoginState {
        match self.login.load(Ordering::Acquire) {
            1 => LoginState::User,
            2 => LoginState::So,
            _ => LoginState::Public,
        }
    }

    /// Sets the login state; `so_pin` is kept only for `LoginState::So`.
    pub fn set_login(&self, state: LoginState, so_pin: Option<SoPin>) {
        *self.so_pin.lock() = if state == LoginState::So {
            so_pin
        } else {
            None
        };
        self.login.store(state as u8, Ordering::Release);
        if state != LoginState::User {
            self.objects.write().forget_private_values();
        }
    }

    /// Back to public (logout, reset, removal); wipes the SO-PIN.
    pub fn forget_login(&self) {
        self.set_login(LoginState::Public, None);
    }

    /// A copy of the SO-PIN while the SO is logged in.
    pub fn so_pin(&self) -> Option<SoPin> {
        self.so_pin.lock().clone()
    }

    /// Logs out on the card (SELECT) if anyone is logged in; errors are only logged.
    pub fn logout_quietly(&self) {
        if self.login_state() != LoginState::Public && !self.is_removed() {
            if let Err(e) = self.with_card(CardOp::Logout, |d| d.logout()) {
                log::debug!("slot {}: logout: {e:?}", self.slot_id);
            }
        }
        self.forget_login();
    }

    /// A new object handle, never used before in this initialisation.
    pub fn new_handle(&self) -> cryptoki_sys::CK_OBJECT_HANDLE {
        self.handles.fetch_add(1, Ordering::Relaxed) as cryptoki_sys::CK_OBJECT_HANDLE
    }

    /// Forgets everything read from the card (after C_InitToken wiped it).
    pub fn clear_caches(&self) {
        *self.info.write() = InfoCache::default();
        *self.objects.write() = ObjectStore::default();
        if let Some(id) = &self.insertion {
            super::info_store::forget(id);
        }
    }
}
