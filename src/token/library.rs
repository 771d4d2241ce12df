//! The process-global library state between C_Initialize and C_Finalize.
//!
//! - Initialise twice → `AlreadyInitialized`; anything before → `NotInitialized`.
//! - Fork: the state remembers the pid that initialised it. In a child (pid differs) every call
//!   answers `NotInitialized` until the child calls C_Initialize, which then starts afresh and
//!   *leaks* the inherited state (`mem::forget`): dropping it would disconnect the parent's PC/SC
//!   handles and wipe the parent's login state on shared cards.
//! - Nothing is read from any card here; slots are discovered at the first C_GetSlotList.
//! - We start no thread at all, so `InitOptions::may_create_threads == false` needs nothing, and
//!   no thread of ours can outlive C_Finalize (NSS unloads the module after it). A blocking
//!   C_WaitForSlotEvent runs on the caller's thread; C_Finalize wakes it (`slot_wait.rs`)
//!   without waiting for it to return.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cryptoki_sys::{CK_SESSION_HANDLE, CK_SLOT_ID};
use parking_lot::RwLock;

use super::api::{InitOptions, LibraryInfo};
use super::error::{Error, Result};
use super::session::Session;
use super::slot::Slot;
use super::slot_wait::SlotWaits;
use crate::config::Config;

/// Everything one initialisation owns.
pub struct Library {
    /// The process that initialised (fork detection).
    pub pid: u32,
    pub config: Config,
    pub options: InitOptions,
    /// Slots in ID order (ID = index); they only grow within an initialisation.
    pub slots: RwLock<Vec<Arc<Slot>>>,
    pub sessions: RwLock<HashMap<CK_SESSION_HANDLE, Arc<Session>>>,
    next_session: AtomicU64,
    /// Object handles are unique across all tokens and never reused within an initialisation.
    pub object_handles: Arc<AtomicU64>,
    /// Threads blocked in C_WaitForSlotEvent, woken by C_Finalize.
    pub slot_waits: SlotWaits,
}

static LIBRARY: RwLock<Option<Arc<Library>>> = parking_lot::const_rwlock(None);

/// The current library state; `NotInitialized` before C_Initialize, after C_Finalize, and in
/// a forked child that has not initialised again.
pub fn get() -> Result<Arc<Library>> {
    match &*LIBRARY.read() {
        Some(lib) if lib.pid == std::process::id() => Ok(lib.clone()),
        _ => Err(Error::NotInitialized),
    }
}

pub fn initialize(options: InitOptions) -> Result<()> {
    let mut guard = LIBRARY.write();
    if let Some(old) = guard.take() {
        if old.pid == std::process::id() {
            *guard = Some(old);
            return Err(Error::AlreadyInitialized);
        }
        // A forked child: the parent's state (PC/SC contexts and card handles) must not be
        // dropped here. Leaking it is the only safe choice.
        std::mem::forget(old);
    }
    let config = Config::from_env();
    super::logger::init(&config);
    log::info!(
        "initialize: {} {} (git {}) (pcsc {}, {} simulated device(s), threads allowed {})",
        env!("CARGO_PKG_NAME"),
        crate::vendor::BUILD_VERSION,
        crate::vendor::BUILD_GIT_ID,
        config.pcsc,
        config.sim_dirs.len(),
        options.may_create_threads
    );
    *guard = Some(Arc::new(Library {
        pid: std::process::id(),
        config,
        options,
        slots: RwLock::new(Vec::new()),
        sessions: RwLock::new(HashMap::new()),
        next_session: AtomicU64::new(1),
        object_handles: Arc::new(AtomicU64::new(1)),
        slot_waits: SlotWaits::default(),
    }));
    Ok(())
}

pub fn finalize() -> Result<()> {
    let mut guard = LIBRARY.write();
    match guard.take() {
        Some(lib) if lib.pid == std::process::id() => {
            drop(guard);
            // First the waiters: they hold no lock, and must not start looking at the slots
            // while these are shut down.
            lib.slot_waits.finalize();
            lib.shutdown();
            super::wrap::forget_all();
            super::dkek_holder::forget();
            log::info!("finalize");
            Ok(())
        }
        Some(other) => {
            // The parent's state in a forked child: keep it hidden and leaked.
            std::mem::forget(other);
            Err(Error::NotInitialized)
        }
        None => Err(Error::NotInitialized),
    }
}

pub fn library_info() -> Result<LibraryInfo> {
    get()?;
    let major = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0);
    let minor = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0);
    Ok(LibraryInfo {
        manufacturer: "schsm-pkcs11 project".into(),
        description: "SmartCard-HSM PKCS#11 module".into(),
        version: (major, minor),
    })
}

impl Library {
    /// A new session handle (never reused within this initialisation).
    pub fn new_session_handle(&self) -> CK_SESSION_HANDLE {
        self.next_session.fetch_add(1, Ordering::Relaxed) as CK_SESSION_HANDLE
    }

    pub fn slot(&self, id: CK_SLOT_ID) -> Result<Arc<Slot>> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.slots.read().get(i).cloned())
            .ok_or(Error::SlotIdInvalid)
    }

    /// Sessions of one slot.
    pub fn sessions_of(&self, slot: CK_SLOT_ID) -> Vec<Arc<Session>> {
        self.sessions
            .read()
            .values()
            .filter(|s| s.slot_id == slot)
            .cloned()
            .collect()
    }

    /// C_Finalize: close every session (logging out of the cards we logged in to) and drop
    /// the connections. Other threads still inside a call keep their `Arc`s until they return.
    fn shutdown(&self) {
        let sessions: Vec<_> = self.sessions.write().drain().map(|(_, s)| s).collect();
        drop(sessions);
        for slot in self.slots.read().iter() {
            slot.shutdown();
        }
    }
}
