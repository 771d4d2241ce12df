//! Sessions and PINs: C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,
//! C_Login, C_Logout, C_InitPIN, C_SetPIN, and the unsupported C_Get/SetOperationState.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::marshal::{out, pin, store};
use super::{guard, unavailable};
use crate::token::api::{self, Error};

#[no_mangle]
pub unsafe extern "C" fn C_OpenSession(
    slot_id: CK_SLOT_ID,
    flags: CK_FLAGS,
    _p_application: *mut c_void,
    _notify: CK_NOTIFY,
    ph_session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    // Notify callbacks are optional for a library (2.40 §5.6); we never call them.
    guard("C_OpenSession", || {
        let ph_session = out(ph_session)?;
        // Decided here, for every token alike: PKCS#11 2.40 has only serial sessions.
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        let session = api::open_session(slot_id, flags)?;
        // SAFETY: checked out-pointer.
        unsafe { store(ph_session, session) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_CloseSession(h_session: CK_SESSION_HANDLE) -> CK_RV {
    guard("C_CloseSession", || api::close_session(h_session))
}

#[no_mangle]
pub unsafe extern "C" fn C_CloseAllSessions(slot_id: CK_SLOT_ID) -> CK_RV {
    guard("C_CloseAllSessions", || api::close_all_sessions(slot_id))
}

#[no_mangle]
pub unsafe extern "C" fn C_GetSessionInfo(
    h_session: CK_SESSION_HANDLE,
    p_info: *mut CK_SESSION_INFO,
) -> CK_RV {
    guard("C_GetSessionInfo", || {
        let p_info = out(p_info)?;
        let s = api::session_info(h_session)?;
        let info = CK_SESSION_INFO {
            slotID: s.slot,
            state: s.state,
            flags: s.flags,
            ulDeviceError: s.device_error,
        };
        // SAFETY: checked out-pointer.
        unsafe { store(p_info, info) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetOperationState(
    _h_session: CK_SESSION_HANDLE,
    _p_operation_state: *mut CK_BYTE,
    _pul_operation_state_len: *mut CK_ULONG,
) -> CK_RV {
    unavailable("C_GetOperationState", Error::FunctionNotSupported)
}

#[no_mangle]
pub unsafe extern "C" fn C_SetOperationState(
    _h_session: CK_SESSION_HANDLE,
    _p_operation_state: *mut CK_BYTE,
    _ul_operation_state_len: CK_ULONG,
    _h_encryption_key: CK_OBJECT_HANDLE,
    _h_authentication_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    unavailable("C_SetOperationState", Error::FunctionNotSupported)
}

#[no_mangle]
pub unsafe extern "C" fn C_Login(
    h_session: CK_SESSION_HANDLE,
    user_type: CK_USER_TYPE,
    p_pin: *mut CK_UTF8CHAR,
    ul_pin_len: CK_ULONG,
) -> CK_RV {
    guard("C_Login", || {
        // SAFETY: pointer and length as the caller promises.
        let pin = unsafe { pin(p_pin, ul_pin_len)? };
        api::login(h_session, user_type, pin)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_Logout(h_session: CK_SESSION_HANDLE) -> CK_RV {
    guard("C_Logout", || api::logout(h_session))
}

#[no_mangle]
pub unsafe extern "C" fn C_InitPIN(
    h_session: CK_SESSION_HANDLE,
    p_pin: *mut CK_UTF8CHAR,
    ul_pin_len: CK_ULONG,
) -> CK_RV {
    guard("C_InitPIN", || {
        // SAFETY: pointer and length as the caller promises.
        let pin = unsafe { pin(p_pin, ul_pin_len)? };
        api::init_pin(h_session, pin)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SetPIN(
    h_session: CK_SESSION_HANDLE,
    p_old_pin: *mut CK_UTF8CHAR,
    ul_old_len: CK_ULONG,
    p_new_pin: *mut CK_UTF8CHAR,
    ul_new_len: CK_ULONG,
) -> CK_RV {
    guard("C_SetPIN", || {
        // SAFETY: pointers and lengths as the caller promises.
        let old = unsafe { pin(p_old_pin, ul_old_len)? };
        let new = unsafe { pin(p_new_pin, ul_new_len)? };
        api::set_pin(h_session, old, new)
    })
}
