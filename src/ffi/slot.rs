//! Slot and token management: C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo,
//! C_WaitForSlotEvent, C_GetMechanismList, C_GetMechanismInfo, C_InitToken.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::guard;
use super::marshal::{bytes, deliver_list, out, padded, pin, store, version};
use crate::token::api::{self, Error};

/// The label argument of C_InitToken: 32 blank-padded bytes.
const LABEL_LEN: CK_ULONG = 32;

#[no_mangle]
pub unsafe extern "C" fn C_GetSlotList(
    token_present: CK_BBOOL,
    p_slot_list: *mut CK_SLOT_ID,
    pul_count: *mut CK_ULONG,
) -> CK_RV {
    guard("C_GetSlotList", || {
        let count = out(pul_count)?;
        let slots = api::slot_list(token_present != CK_FALSE)?;
        // SAFETY: pointers as the caller promises; `count` checked.
        unsafe { deliver_list(&slots, p_slot_list, count) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetSlotInfo(slot_id: CK_SLOT_ID, p_info: *mut CK_SLOT_INFO) -> CK_RV {
    guard("C_GetSlotInfo", || {
        let p_info = out(p_info)?;
        let slot = api::slot_info(slot_id)?;
        let info = CK_SLOT_INFO {
            slotDescription: padded(&slot.description),
            manufacturerID: padded(&slot.manufacturer),
            flags: slot.flags,
            hardwareVersion: version(slot.hardware_version),
            firmwareVersion: version(slot.firmware_version),
        };
        // SAFETY: checked out-pointer.
        unsafe { store(p_info, info) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetTokenInfo(slot_id: CK_SLOT_ID, p_info: *mut CK_TOKEN_INFO) -> CK_RV {
    guard("C_GetTokenInfo", || {
        let p_info = out(p_info)?;
        let token = api::token_info(slot_id)?;
        let unavailable = |v: Option<CK_ULONG>| v.unwrap_or(CK_UNAVAILABLE_INFORMATION);
        let info = CK_TOKEN_INFO {
            label: padded(&token.label),
            manufacturerID: padded(&token.manufacturer),
            model: padded(&token.model),
            serialNumber: padded(&token.serial),
            flags: token.flags,
            ulMaxSessionCount: token.max_session_count,
            ulSessionCount: token.session_count,
            ulMaxRwSessionCount: token.max_rw_session_count,
            ulRwSessionCount: token.rw_session_count,
            ulMaxPinLen: token.max_pin_len,
            ulMinPinLen: token.min_pin_len,
            ulTotalPublicMemory: unavailable(token.total_public_memory),
            ulFreePublicMemory: unavailable(token.free_public_memory),
            ulTotalPrivateMemory: unavailable(token.total_private_memory),
            ulFreePrivateMemory: unavailable(token.free_private_memory),
            hardwareVersion: version(token.hardware_version),
            firmwareVersion: version(token.firmware_version),
            // Meaningful only with CKF_CLOCK_ON_TOKEN, which the card does not have.
            utcTime: [b' '; 16],
        };
        // SAFETY: checked out-pointer.
        unsafe { store(p_info, info) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    flags: CK_FLAGS,
    p_slot: *mut CK_SLOT_ID,
    p_reserved: *mut c_void,
) -> CK_RV {
    guard("C_WaitForSlotEvent", || {
        if !p_reserved.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let p_slot = out(p_slot)?;
        let slot = api::wait_for_slot_event(flags & CKF_DONT_BLOCK != 0)?;
        // SAFETY: checked out-pointer.
        unsafe { store(p_slot, slot) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismList(
    slot_id: CK_SLOT_ID,
    p_mechanism_list: *mut CK_MECHANISM_TYPE,
    pul_count: *mut CK_ULONG,
) -> CK_RV {
    guard("C_GetMechanismList", || {
        let count = out(pul_count)?;
        let mechanisms = api::mechanism_list(slot_id)?;
        // SAFETY: pointers as the caller promises; `count` checked.
        unsafe { deliver_list(&mechanisms, p_mechanism_list, count) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slot_id: CK_SLOT_ID,
    kind: CK_MECHANISM_TYPE,
    p_info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard("C_GetMechanismInfo", || {
        let p_info = out(p_info)?;
        let m = api::mechanism_info(slot_id, kind)?;
        let info = CK_MECHANISM_INFO {
            ulMinKeySize: m.min_key_size,
            ulMaxKeySize: m.max_key_size,
            flags: m.flags,
        };
        // SAFETY: checked out-pointer.
        unsafe { store(p_info, info) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_InitToken(
    slot_id: CK_SLOT_ID,
    p_pin: *mut CK_UTF8CHAR,
    ul_pin_len: CK_ULONG,
    p_label: *mut CK_UTF8CHAR,
) -> CK_RV {
    guard("C_InitToken", || {
        // SAFETY: pointers and lengths as the caller promises; NULL checked.
        let so_pin = unsafe { pin(p_pin, ul_pin_len)? };
        if p_label.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let label = unsafe { bytes(p_label, LABEL_LEN)? };
        // A NULL PIN (protected authentication path) reaches the token as an empty one.
        api::init_token(slot_id, so_pin.unwrap_or(&[]), label)
    })
}
