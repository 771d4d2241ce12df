//! Moving APDU bytes: the `Transport` trait, PC/SC readers ([`pcsc`]), in-process simulated
//! devices ([`sim`]) and a scripted mock for tests ([`mock`]); [`pcsc_watch`] waits for reader
//! events.
//!
//! A transport knows nothing of the SmartCard-HSM: it sends a command APDU and returns the
//! response bytes including SW1 SW2. Status words are the card layer's business.

use std::fmt;

pub mod mock;
pub mod pcsc;
pub mod pcsc_watch;
pub mod sim;

pub use self::mock::MockTransport;
pub use self::pcsc::PcscTransport;
pub use self::sim::SimTransport;

/// One connection to one card (or simulated device).
///
/// Transactions nest: every `begin_transaction` must be matched by one `end_transaction`; only
/// the outermost pair locks and unlocks the card for other processes.
pub trait Transport: Send {
    /// A name for slot descriptions and logs (the PC/SC reader name, or the simulator directory).
    fn name(&self) -> &str;

    /// Sends one command APDU; returns the response data followed by SW1 SW2.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// Starts exclusive access: other processes' APDUs wait until the matching end.
    fn begin_transaction(&mut self) -> Result<(), TransportError>;

    /// Ends the transaction started by the matching `begin_transaction`.
    fn end_transaction(&mut self) -> Result<(), TransportError>;

    /// Whether a card is in the reader now.
    fn is_card_present(&mut self) -> Result<bool, TransportError>;

    /// The card's answer to reset.
    fn atr(&mut self) -> Result<Vec<u8>, TransportError>;

    /// Resets the card (cold/warm reset). All card-side session state — the selected applet,
    /// verified PINs — is lost.
    fn reset(&mut self) -> Result<(), TransportError>;

    /// A name for the current insertion of the card, the same in every process and different
    /// after the card was removed or the PC/SC service restarted: the key under which facts
    /// that cannot change while the card stays in (serial, label) are shared between
    /// processes (`token/info_store.rs`). `None`: not known, nothing is shared.
    fn insertion_id(&mut self) -> Option<String> {
        None
    }

    /// The largest command APDU the reader can carry, when it is known to be smaller than what
    /// any card takes (e.g. 1014 on Reiner SCT readers). `None`: no reader limit known.
    fn max_apdu_len(&self) -> Option<usize> {
        None
    }
}

/// Why bytes could not be moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The PC/SC service (pcscd) is not running or not reachable.
    NoService,
    /// The PC/SC service has no readers.
    NoReaders,
    /// No reader of that name.
    UnknownReader(String),
    /// The reader went away (unplugged).
    ReaderUnavailable,
    /// No card in the reader.
    NoCard,
    /// The card was removed; this connection is dead.
    CardRemoved,
    /// The card was reset (by another process, or a power glitch). The connection was
    /// re-established, but the applet must be selected again and PINs verified again.
    CardReset,
    /// Another process holds the card exclusively.
    SharingViolation,
    /// The card or the reader did not answer in time.
    Timeout,
    /// The card does not answer, or speaks no usable protocol.
    UnresponsiveCard,
    /// A response that is not an APDU response (fewer than two bytes).
    InvalidResponse(String),
    /// The simulated device failed (state file unreadable, locked, ...).
    Simulator(String),
    /// Anything else, with the underlying message.
    Other(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::NoService => f.write_str("PC/SC service not available"),
            TransportError::NoReaders => f.write_str("no smart card readers"),
            TransportError::UnknownReader(r) => write!(f, "unknown reader {r:?}"),
            TransportError::ReaderUnavailable => f.write_str("reader unavailable"),
            TransportError::NoCard => f.write_str("no card in the reader"),
            TransportError::CardRemoved => f.write_str("card removed"),
            TransportError::CardReset => f.write_str("card was reset"),
            TransportError::SharingViolation => {
                f.write_str("card in exclusive use by another process")
            }
            TransportError::Timeout => f.write_str("timeout"),
            TransportError::UnresponsiveCard => f.write_str("card unresponsive"),
            TransportError::InvalidResponse(m) => write!(f, "invalid response: {m}"),
            TransportError::Simulator(m) => write!(f, "simulated device: {m}"),
            TransportError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for TransportError {}
