//! The blocking C_WaitForSlotEvent (flags without CKF_DONT_BLOCK), and how C_Finalize ends it.
//!
//! The wait runs on the caller's thread (no thread is started, so
//! CKF_LIBRARY_CANT_CREATE_OS_THREADS needs nothing) and holds no library lock while it
//! blocks: other threads keep using the slots. Each round:
//! 1. snapshot the PC/SC readers' states (and the reader list),
//! 2. look at every slot as C_WaitForSlotEvent(CKF_DONT_BLOCK) does; an event → return it,
//! 3. block in SCardGetStatusChange until something changed since the snapshot.
//!
//! Simulated devices (`SCHSM_SIM`) have no event source: with any of them, step 3 wakes every
//! [`SIM_INTERVAL`]. Without PC/SC (service down, `SCHSM_PCSC=0`) step 3 is a sleep (that
//! long with simulated devices, else 1 s), and PC/SC is asked again each round (pcscd may start
//! later).
//!
//! C_Finalize ([`SlotWaits::finalize`]) sets a flag, wakes sleepers (condvar) and cancels the
//! PC/SC waits (SCardCancel on each waiter's own context). The waiter then answers
//! CKR_CRYPTOKI_NOT_INITIALIZED, judged on the initialisation it started in: NSS
//! (SECMOD_CancelWait) calls C_Finalize and at once C_Initialize again while its wait thread is
//! still returning, and that thread must still see "not initialised", not the new state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cryptoki_sys::CK_SLOT_ID;
use parking_lot::{Condvar, Mutex};

use super::error::{Error, Result};
use super::library::Library;
use super::slot::Source;
use crate::transport::pcsc_watch::{ReaderWatch, WatchCanceller, WatchOutcome};

/// How often slots without an event source (simulated devices, no PC/SC) are looked at.
pub const SIM_INTERVAL: Duration = Duration::from_millis(250);
/// A PC/SC wait is re-armed this often even when nothing happens: pcsc-lite forgets an
/// SCardCancel that comes just before the wait starts, and the flag is checked between waits.
const PCSC_REARM: Duration = Duration::from_secs(2);
/// How long C_Finalize keeps cancelling waits that have not noticed yet (a waiter busy opening
/// a new card notices only afterwards). C_Finalize never waits longer for a waiter.
const FINALIZE_GRACE: Duration = Duration::from_millis(500);

/// The blocked waiters of one initialisation.
#[derive(Default)]
pub struct SlotWaits {
    finalized: Mutex<bool>,
    wake: Condvar,
    pcsc: Mutex<Vec<(u64, WatchCanceller)>>,
    next_id: AtomicU64,
}

impl SlotWaits {
    fn is_finalized(&self) -> bool {
        *self.finalized.lock()
    }

    /// C_Finalize: every blocked waiter returns (soon, without C_Finalize waiting for it).
    pub fn finalize(&self) {
        *self.finalized.lock() = true;
        self.wake.notify_all();
        let until = Instant::now() + FINALIZE_GRACE;
        loop {
            let waiters: Vec<WatchCanceller> =
                self.pcsc.lock().iter().map(|(_, c)| c.clone()).collect();
            if waiters.is_empty() {
                return;
            }
            waiters.iter().for_each(WatchCanceller::cancel);
            if Instant::now() >= until {
                log::debug!(
                    "finalize: {} slot event waiter(s) still busy",
                    waiters.len()
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Sleeps for `d`, or less when C_Finalize comes.
    fn sleep(&self, d: Duration) {
        let mut finalized = self.finalized.lock();
        if !*finalized {
            self.wake.wait_for(&mut finalized, d);
        }
    }

    fn register(&self, canceller: WatchCanceller) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.pcsc.lock().push((id, canceller));
        id
    }

    fn unregister(&self, id: u64) {
        self.pcsc.lock().retain(|(i, _)| *i != id);
    }
}

/// A waiter's PC/SC context, registered for cancelling while it lives.
struct Watch<'a> {
    waits: &'a SlotWaits,
    watch: ReaderWatch,
    id: u64,
}

impl<'a> Watch<'a> {
    fn open(waits: &'a SlotWaits) -> Option<Watch<'a>> {
        match ReaderWatch::new() {
            Ok(watch) => {
                let id = waits.register(watch.canceller());
                Some(Watch { waits, watch, id })
            }
            Err(e) => {
                log::debug!("wait for slot event: PC/SC: {e}");
                None
            }
        }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        self.waits.unregister(self.id);
    }
}

/// Blocks until `take_event` finds a slot event, or C_Finalize.
pub fn block_until_event(
    lib: &Arc<Library>,
    take_event: impl Fn(&Library) -> Option<CK_SLOT_ID>,
) -> Result<CK_SLOT_ID> {
    let waits = &lib.slot_waits;
    let mut watch: Option<Watch> = None;
    loop {
        if lib.config.pcsc && watch.is_none() {
            watch = Watch::open(waits);
        }
        if waits.is_finalized() {
            return Err(Error::NotInitialized);
        }
        // Before looking at the slots: a change after this point ends the wait below at once.
        let readers = pcsc_readers(lib);
        let snapshot = watch.as_ref().map(|w| w.watch.snapshot(&readers, true));
        if let Some(slot) = take_event(lib) {
            log::debug!("wait for slot event: slot {slot}");
            return Ok(slot);
        }
        if waits.is_finalized() {
            return Err(Error::NotInitialized);
        }
        if pcsc_readers(lib).len() != readers.len() {
            // A reader became a slot just now: watch it too.
            continue;
        }
        let has_sim = lib.slots.read().iter().any(|s| s.is_simulated());
        // Without a PC/SC wait (no service, an error): look again after this long.
        let fallback = if has_sim {
            SIM_INTERVAL
        } else {
            Duration::from_secs(1)
        };
        match (&watch, snapshot) {
            (Some(w), Some(Ok(mut snapshot))) => {
                let rearm = if has_sim { SIM_INTERVAL } else { PCSC_REARM };
                match w.watch.wait(&mut snapshot, rearm) {
                    Ok(WatchOutcome::Cancelled) => log::debug!("wait for slot event: cancelled"),
                    Ok(_) => {}
                    Err(e) => {
                        log::debug!("wait for slot event: PC/SC: {e}");
                        watch = None;
                        waits.sleep(fallback);
                    }
                }
            }
            (_, Some(Err(e))) => {
                log::debug!("wait for slot event: PC/SC: {e}");
                watch = None;
                waits.sleep(fallback);
            }
            _ => waits.sleep(fallback),
        }
    }
}

/// The reader names of our PC/SC slots.
fn pcsc_readers(lib: &Library) -> Vec<String> {
    lib.slots
        .read()
        .iter()
        .filter_map(|s| match &s.source {
            Source::Pcsc(name) => Some(name.clone()),
            Source::Sim(_) => None,
        })
        .collect()
}
