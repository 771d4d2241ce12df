//! C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo, C_WaitForSlotEvent.
//!
//! Slot IDs: the PC/SC readers in the order first seen, then the simulated devices
//! (`SCHSM_SIM`), then readers that appear later. IDs are stable for the life of an
//! initialisation and the list only grows (NSS assumes so): a reader that goes away keeps its
//! slot, with no token in it.

use std::sync::Arc;

use cryptoki_sys::CK_SLOT_ID;

use super::api::{SlotInfo, TokenInfo};
use super::error::{Error, Result};
use super::library::{self, Library};
use super::slot::{Content, Slot, Source};
use super::token_state::Token;
use crate::transport::pcsc;

pub fn slot_list(token_present: bool) -> Result<Vec<CK_SLOT_ID>> {
    let lib = library::get()?;
    update_slots(&lib);
    let slots: Vec<Arc<Slot>> = lib.slots.read().clone();
    let mut ids = Vec::with_capacity(slots.len());
    for slot in slots {
        if !token_present || matches!(slot.refresh(&lib), Content::Token(_)) {
            ids.push(slot.id);
        }
    }
    Ok(ids)
}

/// Adds slots for readers (and, the first time, simulated devices) not seen before.
fn update_slots(lib: &Library) {
    let readers = if lib.config.pcsc {
        match pcsc::list_readers() {
            Ok(r) => r,
            Err(e) => {
                log::debug!("PC/SC: {e}");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let mut slots = lib.slots.write();
    let first_time = slots.is_empty();
    let add = |slots: &mut Vec<Arc<Slot>>, source: Source| {
        if !slots.iter().any(|s| s.source == source) {
            let id = slots.len() as CK_SLOT_ID;
            log::info!("slot {id}: {source:?}");
            let slot = Slot::new(id, source);
            if !first_time {
                // A reader plugged in later is news (the first list is not).
                slot.note_event();
            }
            slots.push(Arc::new(slot));
        }
    };
    for r in readers.into_iter().filter(|r| lib.config.reader_wanted(r)) {
        add(&mut slots, Source::Pcsc(r));
    }
    if first_time {
        for dir in &lib.config.sim_dirs {
            add(&mut slots, Source::Sim(dir.clone()));
        }
    }
}

pub fn slot_info(slot: CK_SLOT_ID) -> Result<SlotInfo> {
    let lib = library::get()?;
    let slot = lib.slot(slot)?;
    let present = matches!(slot.refresh(&lib), Content::Token(_));
    Ok(super::token_info::slot_info(&slot, present))
}

pub fn token_info(slot: CK_SLOT_ID) -> Result<TokenInfo> {
    let lib = library::get()?;
    let token = present_token(&lib, slot)?;
    super::token_info::token_info(&lib, &token)
}

/// The token in a slot now: `TokenNotPresent` for an empty slot, `TokenNotRecognized` for a
/// card that is not a SmartCard-HSM.
pub fn present_token(lib: &Library, slot: CK_SLOT_ID) -> Result<Arc<Token>> {
    match lib.slot(slot)?.refresh(lib) {
        Content::Token(t) => Ok(t),
        Content::Empty => Err(Error::TokenNotPresent),
        Content::Foreign => Err(Error::TokenNotRecognized),
    }
}

/// Reports (and clears) one slot event: a card inserted or removed, a reader added. With
/// `dont_block`, `NoEvent` when there is none; else blocks until there is one, or until C_Finalize
/// (`NotInitialized`; `slot_wait.rs`).
pub fn wait_for_slot_event(dont_block: bool) -> Result<CK_SLOT_ID> {
    let lib = library::get()?;
    if dont_block {
        return take_event(&lib).ok_or(Error::NoEvent);
    }
    super::slot_wait::block_until_event(&lib, take_event)
}

/// Looks at every slot and takes the first pending event.
fn take_event(lib: &Library) -> Option<CK_SLOT_ID> {
    update_slots(lib);
    let slots: Vec<Arc<Slot>> = lib.slots.read().clone();
    for slot in &slots {
        slot.refresh(lib);
    }
    slots.iter().find(|s| s.take_event()).map(|s| s.id)
}
