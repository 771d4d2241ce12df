//! Waiting for PC/SC reader events: a card inserted or removed in a reader, a reader plugged in
//! or out. Used by the blocking C_WaitForSlotEvent.
//!
//! The wait is PC/SC's own (`SCardGetStatusChange`), on a context of its own so that another
//! thread can end it with `SCardCancel` ([`WatchCanceller`]) without touching the contexts that
//! talk to cards. pcsc-lite honours a cancel only while a wait is in progress (it is not
//! remembered for the next one), so the caller re-arms with a bounded timeout and checks its
//! own "stop" flag between waits.
//!
//! A wait never misses a change: [`ReaderWatch::snapshot`] records the readers' states *before*
//! the caller looks at its slots, and [`ReaderWatch::wait`] returns at once when anything
//! changed since that snapshot (pcsc-lite also counts insertions and removals per reader, so a
//! quick remove-and-insert is seen too).

use std::ffi::CString;
use std::time::Duration;

use super::pcsc::map_error;
use super::TransportError;

/// A PC/SC context used only for waiting.
pub struct ReaderWatch {
    ctx: pcsc::Context,
}

/// Ends a [`ReaderWatch::wait`] in progress from another thread (`SCardCancel`).
#[derive(Clone)]
pub struct WatchCanceller {
    ctx: pcsc::Context,
}

/// The states of the watched readers (and of the reader list) at one moment.
pub struct ReaderSnapshot {
    states: Vec<pcsc::ReaderState>,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchOutcome {
    /// Something changed since the snapshot (possibly nothing the caller cares about).
    Changed,
    TimedOut,
    /// [`WatchCanceller::cancel`] was called.
    Cancelled,
}

impl ReaderWatch {
    pub fn new() -> Result<Self, TransportError> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(map_error)?;
        Ok(ReaderWatch { ctx })
    }

    pub fn canceller(&self) -> WatchCanceller {
        WatchCanceller {
            ctx: self.ctx.clone(),
        }
    }

    /// The present state of those of `readers` that exist now, plus, with `reader_list`, the
    /// reader list itself (the `\\?PnP?\Notification` pseudo-reader). Readers that are gone
    /// are left out: pcsc-lite would report them as changed on every wait.
    pub fn snapshot(
        &self,
        readers: &[String],
        reader_list: bool,
    ) -> Result<ReaderSnapshot, TransportError> {
        let present: Vec<CString> = match self.ctx.list_readers_owned() {
            Ok(names) => names,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(map_error(e)),
        };
        let mut states: Vec<pcsc::ReaderState> = present
            .into_iter()
            .filter(|n| readers.iter().any(|r| r.as_bytes() == n.as_bytes()))
            .map(|n| pcsc::ReaderState::new(n, pcsc::State::UNAWARE))
            .collect();
        if reader_list {
            states.push(pcsc::ReaderState::new(
                pcsc::PNP_NOTIFICATION(),
                pcsc::State::UNAWARE,
            ));
        }
        if states.is_empty() {
            return Ok(ReaderSnapshot { states });
        }
        // UNAWARE asks for the current state, which is reported at once. The reader-list entry
        // may report "no change" (no readers at all): a timeout then, with the states filled.
        match self.ctx.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(map_error(e)),
        }
        for s in &mut states {
            s.sync_current_state();
        }
        Ok(ReaderSnapshot { states })
    }

    /// Blocks until a reader of the snapshot changes, `timeout` passes, or the wait is
    /// cancelled. With nothing to watch it only waits for the timeout (still cancellable).
    pub fn wait(
        &self,
        snapshot: &mut ReaderSnapshot,
        timeout: Duration,
    ) -> Result<WatchOutcome, TransportError> {
        if snapshot.states.is_empty() {
            // SCardGetStatusChange with no readers returns at once on pcsc-lite; watch the
            // reader list instead, which also honours SCardCancel.
            *snapshot = self.snapshot(&[], true)?;
        }
        match self.ctx.get_status_change(timeout, &mut snapshot.states) {
            Ok(()) => Ok(WatchOutcome::Changed),
            Err(pcsc::Error::Timeout) => Ok(WatchOutcome::TimedOut),
            Err(pcsc::Error::Cancelled) => Ok(WatchOutcome::Cancelled),
            Err(e) => Err(map_error(e)),
        }
    }
}

impl WatchCanceller {
    /// Ends the wait in progress on that context, if any (pcsc-lite: a no-op otherwise).
    pub fn cancel(&self) {
        if let Err(e) = self.ctx.cancel() {
            log::debug!("SCardCancel: {e}");
        }
    }
}
