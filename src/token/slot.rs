//! One slot: a PC/SC reader or a simulated device, and what is in it.
//!
//! A slot's state is `Empty`, `Foreign` (a card that is not a SmartCard-HSM) or `Present` with
//! a [`Token`] (one insertion of a SmartCard-HSM). Looking at a slot ([`Slot::refresh`]) costs
//! no APDU once the card is known: a `SCardStatus` on our handle (PC/SC) tells whether the card
//! we talk to is still the one in the reader (removed or reset → an error); for a simulated
//! device the directory must still exist. Only a new card costs a SELECT (in `Device::open`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cryptoki_sys::CK_SLOT_ID;
use parking_lot::Mutex;

use super::library::Library;
use super::token_state::{Presence, Token};
use crate::card::Device;
use crate::transport::{PcscTransport, SimTransport, Transport, TransportError};

/// Where a slot's card comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A PC/SC reader, by name.
    Pcsc(String),
    /// A simulated device directory (`SCHSM_SIM`), served in-process.
    Sim(PathBuf),
}

enum SlotState {
    /// Not looked at yet (what is found first is no event).
    Unknown,
    Empty,
    /// A card that does not answer the SmartCard-HSM applet SELECT, with its ATR (a new ATR
    /// means a new card, worth one more SELECT).
    Foreign(Vec<u8>),
    Present(Arc<Token>),
}

/// What a look at the slot found.
#[derive(Clone)]
pub enum Content {
    Empty,
    Foreign,
    Token(Arc<Token>),
}

pub struct Slot {
    pub id: CK_SLOT_ID,
    pub source: Source,
    state: Mutex<SlotState>,
    /// Set when a card came or went (or the slot is new); C_WaitForSlotEvent reports and clears it.
    event: AtomicBool,
}

impl Slot {
    pub fn new(id: CK_SLOT_ID, source: Source) -> Slot {
        Slot {
            id,
            source,
            state: Mutex::new(SlotState::Unknown),
            event: AtomicBool::new(false),
        }
    }

    /// The slot description; simulated devices say so plainly.
    pub fn description(&self) -> String {
        match &self.source {
            Source::Pcsc(name) => name.clone(),
            Source::Sim(dir) => format!("schsm-sim {}", dir.display()),
        }
    }

    pub fn is_simulated(&self) -> bool {
        matches!(self.source, Source::Sim(_))
    }

    /// The token as last seen, without looking at the reader (sessions use this).
    pub fn known_token(&self) -> Option<Arc<Token>> {
        match &*self.state.lock() {
            SlotState::Present(t) if !t.is_removed() => Some(t.clone()),
            _ => None,
        }
    }

    /// Looks at the reader and returns what is in it now. A token that went away is dropped
    /// (with the sessions on it); a new card is opened (one SELECT).
    pub fn refresh(&self, lib: &Library) -> Content {
        let mut st = self.state.lock();
        let mut gone = None;
        match &*st {
            SlotState::Present(t) => {
                let presence = if t.is_removed() {
                    Presence::Gone
                } else {
                    t.check_presence(self.is_simulated())
                };
                match presence {
                    Presence::Same => return Content::Token(t.clone()),
                    Presence::Reset => {
                        log::info!("slot {}: card was reset; login state cleared", self.id);
                        return Content::Token(t.clone());
                    }
                    Presence::Gone => {
                        log::info!("slot {}: token removed", self.id);
                        t.mark_removed();
                        gone = Some(t.clone());
                        *st = SlotState::Empty;
                        self.event.store(true, Ordering::Relaxed);
                    }
                }
            }
            SlotState::Foreign(_) | SlotState::Empty | SlotState::Unknown => {}
        }
        if let Some(t) = gone {
            // Sessions on a removed token are closed (their handles become invalid).
            lib.sessions
                .write()
                .retain(|_, s| !Arc::ptr_eq(&s.token, &t));
        }
        let known_atr = match &*st {
            SlotState::Foreign(atr) => Some(atr.clone()),
            _ => None,
        };
        let quiet = matches!(*st, SlotState::Empty);
        let next = self.open(lib, known_atr.as_deref(), quiet);
        let content = match &next {
            SlotState::Empty | SlotState::Unknown => Content::Empty,
            SlotState::Foreign(_) => Content::Foreign,
            SlotState::Present(t) => Content::Token(t.clone()),
        };
        let changed = !matches!(
            (&*st, &next),
            (SlotState::Unknown, _)
                | (SlotState::Empty, SlotState::Empty)
                | (SlotState::Foreign(_), SlotState::Foreign(_))
        );
        if changed {
            self.event.store(true, Ordering::Relaxed);
        }
        *st = next;
        content
    }

    /// Connects to the card and selects the applet.
    /// `quiet`: the slot was empty before, so a failure to open is no news worth a warning.
    fn open(&self, lib: &Library, known_foreign_atr: Option<&[u8]>, quiet: bool) -> SlotState {
        let transport: Box<dyn Transport> = match &self.source {
            Source::Pcsc(reader) => match PcscTransport::connect(reader) {
                Ok(t) => Box::new(t),
                Err(e) => {
                    if !matches!(e, TransportError::NoCard) {
                        log::debug!("slot {}: {e}", self.id);
                    }
                    return SlotState::Empty;
                }
            },
            Source::Sim(dir) => match SimTransport::open(dir) {
                Ok(t) => Box::new(t),
                Err(e) => {
                    if quiet {
                        log::debug!("slot {}: {e}", self.id);
                    } else {
                        log::warn!("slot {}: {e}", self.id);
                    }
                    return SlotState::Empty;
                }
            },
        };
        let mut transport = transport;
        let atr = transport.atr().unwrap_or_default();
        if known_foreign_atr == Some(atr.as_slice()) {
            return SlotState::Foreign(atr);
        }
        match Device::open(transport) {
            Ok(device) => {
                log::info!(
                    "slot {}: {} ({})",
                    self.id,
                    device.profile().applet_name(),
                    self.description()
                );
                SlotState::Present(Arc::new(Token::new(
                    self.id,
                    self.is_simulated(),
                    device,
                    lib.object_handles.clone(),
                )))
            }
            Err(e) if super::card_error::is_removal(&e) => SlotState::Empty,
            Err(e) => {
                log::info!("slot {}: not a SmartCard-HSM ({e})", self.id);
                SlotState::Foreign(atr)
            }
        }
    }

    /// Marks an event (a new slot) for C_WaitForSlotEvent.
    pub fn note_event(&self) {
        self.event.store(true, Ordering::Relaxed);
    }

    /// Reports and clears a pending card event.
    pub fn take_event(&self) -> bool {
        self.event.swap(false, Ordering::Relaxed)
    }

    /// C_Finalize: drop the token (and with it the card connection).
    pub fn shutdown(&self) {
        let mut st = self.state.lock();
        if let SlotState::Present(t) = &*st {
            // The card's PIN state outlives our connection (other applications share the
            // card): leave it logged out.
            t.logout_quietly();
            t.mark_removed();
        }
        *st = SlotState::Empty;
    }
}
