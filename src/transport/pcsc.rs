//! Real readers through PC/SC (pcsc-lite on Linux and macOS, WinSCard on Windows).
//!
//! The card is opened in shared mode so that other applications (OpenSC, another process of
//! this module) can use it between our transactions; exclusive access is taken per operation
//! with SCardBeginTransaction / SCardEndTransaction.

use std::ffi::CString;
use std::ptr::NonNull;
use std::time::Duration;

use super::{Transport, TransportError};

/// The names of the PC/SC readers present now. No service or no readers gives an empty list
/// only for "no readers"; a missing service is an error, so callers can tell the two apart.
pub fn list_readers() -> Result<Vec<String>, TransportError> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(map_error)?;
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(map_error(e)),
    }
}

/// The PC/SC readers present now, each with whether a card is in it (for `schsm-tool readers`).
pub fn readers_with_cards() -> Result<Vec<(String, bool)>, TransportError> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(map_error)?;
    let names = match ctx.list_readers_owned() {
        Ok(names) => names,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(map_error(e)),
    };
    let mut states: Vec<pcsc::ReaderState> = names
        .into_iter()
        .map(|n| pcsc::ReaderState::new(n, pcsc::State::UNAWARE))
        .collect();
    // UNAWARE: the present state is reported at once.
    match ctx.get_status_change(Duration::ZERO, &mut states) {
        Ok(()) | Err(pcsc::Error::Timeout) => {}
        Err(e) => return Err(map_error(e)),
    }
    Ok(states
        .iter()
        .map(|s| {
            let name = s.name().to_string_lossy().into_owned();
            (name, s.event_state().contains(pcsc::State::PRESENT))
        })
        .collect())
}

/// A shared connection to the card in one PC/SC reader.
pub struct PcscTransport {
    ctx: pcsc::Context,
    reader: CString,
    name: String,
    conn: Connection,
    /// The response buffer, kept between APDUs (allocating and zeroing 64 KiB per APDU was a
    /// measurable part of a C_Sign); the part a response used is wiped after each APDU.
    buf: Vec<u8>,
}

impl PcscTransport {
    /// Connects to the card in `reader` (shared mode, T=1 or T=0).
    pub fn connect(reader: &str) -> Result<Self, TransportError> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(map_error)?;
        let creader =
            CString::new(reader).map_err(|_| TransportError::UnknownReader(reader.to_string()))?;
        let card = ctx
            .connect(&creader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .map_err(|e| match e {
                pcsc::Error::UnknownReader => TransportError::UnknownReader(reader.to_string()),
                other => map_error(other),
            })?;
        Ok(PcscTransport {
            ctx,
            reader: creader,
            name: reader.to_string(),
            conn: Connection::new(card),
            buf: vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED],
        })
    }

    /// Re-establishes the connection after a reset or a re-inserted card.
    pub fn reconnect(&mut self) -> Result<(), TransportError> {
        self.conn
            .reconnect(pcsc::Disposition::LeaveCard)
            .map_err(map_error)
    }
}

impl Transport for PcscTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let buf = &mut self.buf;
        let result = self.conn.card().transmit(command, buf).map(|r| r.to_vec());
        // Responses may carry plaintext (DECIPHER, GET CHALLENGE for shares). Only the response
        // was written into the buffer: wiping all 64 KiB per APDU cost more CPU than the rest
        // of a C_Sign (benchmark, docs/benchmarks.md).
        let used = result.as_ref().map_or(buf.len(), Vec::len);
        zeroize::Zeroize::zeroize(&mut buf[..used]);
        match result {
            Ok(r) if r.len() >= 2 => Ok(r),
            Ok(r) => Err(TransportError::InvalidResponse(format!(
                "{} bytes from the reader",
                r.len()
            ))),
            Err(pcsc::Error::ResetCard) => {
                // Someone reset the card: reconnect so that the next command works, and tell
                // the caller that the applet and PIN state are gone.
                log::info!("{}: card was reset, reconnecting", self.name);
                let _ = self.conn.reconnect(pcsc::Disposition::LeaveCard);
                Err(TransportError::CardReset)
            }
            Err(e) => Err(map_error(e)),
        }
    }

    fn begin_transaction(&mut self) -> Result<(), TransportError> {
        match self.conn.begin() {
            Err(pcsc::Error::ResetCard) => {
                let _ = self.conn.reconnect(pcsc::Disposition::LeaveCard);
                Err(TransportError::CardReset)
            }
            r => r.map_err(map_error),
        }
    }

    fn end_transaction(&mut self) -> Result<(), TransportError> {
        self.conn.end().map_err(map_error)
    }

    fn is_card_present(&mut self) -> Result<bool, TransportError> {
        let mut states = [pcsc::ReaderState::new(
            self.reader.clone(),
            pcsc::State::UNAWARE,
        )];
        self.ctx
            .get_status_change(Duration::ZERO, &mut states)
            .map_err(map_error)?;
        Ok(states[0].event_state().contains(pcsc::State::PRESENT))
    }

    fn atr(&mut self) -> Result<Vec<u8>, TransportError> {
        let status = self.conn.card().status2_owned().map_err(map_error)?;
        Ok(status.atr().to_vec())
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        self.conn
            .reconnect(pcsc::Disposition::ResetCard)
            .map_err(map_error)
    }

    /// Reader name, ATR, the reader's card event counter (pcsc-lite counts insertions and
    /// removals per reader) and the identity of the running pcscd (its socket's inode and
    /// change time: the counter restarts with the service) and of the boot.
    fn insertion_id(&mut self) -> Option<String> {
        let mut states = [pcsc::ReaderState::new(
            self.reader.clone(),
            pcsc::State::UNAWARE,
        )];
        self.ctx
            .get_status_change(Duration::ZERO, &mut states)
            .ok()?;
        if !states[0].event_state().contains(pcsc::State::PRESENT) {
            return None;
        }
        let events = states[0].event_count();
        let atr: String = self
            .atr()
            .ok()?
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let service = service_identity()?;
        Some(format!("{}|{atr}|{events}|{service}", self.name))
    }

    fn max_apdu_len(&self) -> Option<usize> {
        // Reiner SCT readers carry at most 1014-byte APDUs (PROTOCOL.md §1.3, OpenSC #2514).
        let n = self.name.to_ascii_lowercase();
        (n.contains("reiner sct") || n.contains("cyberjack")).then_some(1014)
    }
}

impl std::fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PcscTransport({:?})", self.name)
    }
}

/// Maps PC/SC errors to what a caller can act on.
/// Which pcscd (and boot) we talk to, for [`PcscTransport::insertion_id`]; `None` where it
/// cannot be told (not pcsc-lite, socket elsewhere): then nothing is shared between processes.
#[cfg(unix)]
fn service_identity() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let socket =
        std::env::var_os("PCSCLITE_CSOCK_NAME").unwrap_or_else(|| "/run/pcscd/pcscd.comm".into());
    let m = std::fs::metadata(socket).ok()?;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    Some(format!(
        "{}:{}:{}.{}|{}",
        m.dev(),
        m.ino(),
        m.ctime(),
        m.ctime_nsec(),
        boot.trim()
    ))
}

#[cfg(not(unix))]
fn service_identity() -> Option<String> {
    None
}

pub fn map_error(e: pcsc::Error) -> TransportError {
    use pcsc::Error as E;
    match e {
        E::NoService | E::ServiceStopped => TransportError::NoService,
        E::NoReadersAvailable => TransportError::NoReaders,
        E::UnknownReader => TransportError::UnknownReader(String::new()),
        E::ReaderUnavailable => TransportError::ReaderUnavailable,
        E::NoSmartcard => TransportError::NoCard,
        E::RemovedCard => TransportError::CardRemoved,
        E::ResetCard => TransportError::CardReset,
        E::SharingViolation => TransportError::SharingViolation,
        E::Timeout => TransportError::Timeout,
        E::UnresponsiveCard | E::UnpoweredCard | E::UnsupportedCard | E::ProtoMismatch => {
            TransportError::UnresponsiveCard
        }
        other => TransportError::Other(format!("PC/SC: {other}")),
    }
}

/// The card handle plus, while a transaction is open, the `pcsc::Transaction` that borrows it.
///
/// `pcsc` models a transaction as a value borrowing the card mutably, which cannot outlive one
/// call frame; the `Transport` trait needs begin and end as separate calls. So the card lives
/// on the heap, owned through a raw pointer, and the transaction borrows it with a `'static`
/// lifetime that this struct makes true: the card is freed only in `Drop`, after the
/// transaction, and while a transaction exists the card is reached only through it.
struct Connection {
    card: NonNull<pcsc::Card>,
    tx: Option<pcsc::Transaction<'static>>,
    depth: u32,
}

// SAFETY: `pcsc::Card` is Send; the transaction only holds a reference to that same card, and
// both move together.
unsafe impl Send for Connection {}

impl Connection {
    fn new(card: pcsc::Card) -> Self {
        Connection {
            card: NonNull::from(Box::leak(Box::new(card))),
            tx: None,
            depth: 0,
        }
    }

    fn card(&self) -> &pcsc::Card {
        match &self.tx {
            Some(tx) => tx,
            // SAFETY: no transaction holds the card, and `self.card` is valid until Drop.
            None => unsafe { self.card.as_ref() },
        }
    }

    fn reconnect(&mut self, init: pcsc::Disposition) -> Result<(), pcsc::Error> {
        let (share, protocols) = (pcsc::ShareMode::Shared, pcsc::Protocols::ANY);
        match &mut self.tx {
            Some(tx) => tx.reconnect(share, protocols, init),
            // SAFETY: as in `card`, and `&mut self` makes this the only reference.
            None => unsafe { self.card.as_mut() }.reconnect(share, protocols, init),
        }
    }

    fn begin(&mut self) -> Result<(), pcsc::Error> {
        if self.depth == 0 {
            // SAFETY: no other reference to the card exists (no transaction is open, and
            // `&mut self` excludes callers of `card()`); the reference is stored in `self.tx`,
            // which is always dropped before the card is freed.
            let card: &'static mut pcsc::Card = unsafe { &mut *self.card.as_ptr() };
            self.tx = Some(card.transaction()?);
        }
        self.depth += 1;
        Ok(())
    }

    fn end(&mut self) -> Result<(), pcsc::Error> {
        if self.depth == 0 {
            return Ok(());
        }
        self.depth -= 1;
        if self.depth == 0 {
            if let Some(tx) = self.tx.take() {
                // On error the transaction comes back and its Drop ends it once more.
                tx.end(pcsc::Disposition::LeaveCard).map_err(|(_, e)| e)?;
            }
        }
        Ok(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.tx = None;
        // SAFETY: the pointer came from Box::leak in `new`, the transaction borrowing it is
        // gone, and this is the only place that frees it.
        let card = *unsafe { Box::from_raw(self.card.as_ptr()) };
        // pcsc's own Drop resets the card, which would log out every other application
        // sharing it; leave it as it is (OpenSC's default). Logging out is the caller's job.
        if let Err((card, _)) = card.disconnect(pcsc::Disposition::LeaveCard) {
            drop(card);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_mapping() {
        assert_eq!(map_error(pcsc::Error::NoService), TransportError::NoService);
        assert_eq!(
            map_error(pcsc::Error::RemovedCard),
            TransportError::CardRemoved
        );
        assert_eq!(map_error(pcsc::Error::ResetCard), TransportError::CardReset);
        assert_eq!(map_error(pcsc::Error::NoSmartcard), TransportError::NoCard);
        assert_eq!(
            map_error(pcsc::Error::NoReadersAvailable),
            TransportError::NoReaders
        );
        assert!(matches!(
            map_error(pcsc::Error::InternalError),
            TransportError::Other(_)
        ));
    }

    #[test]
    fn connecting_to_a_missing_reader_is_an_error_not_a_panic() {
        // Works with or without pcscd: either no service or an unknown reader.
        let r = PcscTransport::connect("no such reader 0815");
        assert!(r.is_err());
        let _ = list_readers();
    }
}
