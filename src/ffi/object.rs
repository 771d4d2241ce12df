//! Object management: C_CreateObject, C_DestroyObject, C_GetObjectSize, C_GetAttributeValue,
//! C_SetAttributeValue, C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal, and the
//! unsupported C_CopyObject.

use std::ptr;

use cryptoki_sys::*;

use super::attributes::{read_template, Query};
use super::marshal::{len, out, store, ulong};
use super::{guard, unavailable};
use crate::token::api::{self, Error};

#[no_mangle]
pub unsafe extern "C" fn C_CreateObject(
    h_session: CK_SESSION_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    ul_count: CK_ULONG,
    ph_object: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_CreateObject", || {
        let ph_object = out(ph_object)?;
        // SAFETY: pointer and count as the caller promises.
        let template = unsafe { read_template(p_template, ul_count)? };
        let object = api::create_object(h_session, &template)?;
        // SAFETY: checked out-pointer.
        unsafe { store(ph_object, object) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_CopyObject(
    _h_session: CK_SESSION_HANDLE,
    _h_object: CK_OBJECT_HANDLE,
    _p_template: *mut CK_ATTRIBUTE,
    _ul_count: CK_ULONG,
    _ph_new_object: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    unavailable("C_CopyObject", Error::FunctionNotSupported)
}

#[no_mangle]
pub unsafe extern "C" fn C_DestroyObject(
    h_session: CK_SESSION_HANDLE,
    h_object: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_DestroyObject", || {
        api::destroy_object(h_session, h_object)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetObjectSize(
    h_session: CK_SESSION_HANDLE,
    h_object: CK_OBJECT_HANDLE,
    pul_size: *mut CK_ULONG,
) -> CK_RV {
    guard("C_GetObjectSize", || {
        let pul_size = out(pul_size)?;
        let size = api::object_size(h_session, h_object)?;
        // SAFETY: checked out-pointer.
        unsafe { store(pul_size, size.unwrap_or(CK_UNAVAILABLE_INFORMATION)) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetAttributeValue(
    h_session: CK_SESSION_HANDLE,
    h_object: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    ul_count: CK_ULONG,
) -> CK_RV {
    guard("C_GetAttributeValue", || {
        // SAFETY: pointer and count as the caller promises.
        let query = unsafe { Query::new(p_template, ul_count)? };
        let values = api::get_attributes(h_session, h_object, &query.kinds())?;
        // SAFETY: the caller's template, checked by Query::new.
        unsafe { query.answer(values) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SetAttributeValue(
    h_session: CK_SESSION_HANDLE,
    h_object: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    ul_count: CK_ULONG,
) -> CK_RV {
    guard("C_SetAttributeValue", || {
        // SAFETY: pointer and count as the caller promises.
        let template = unsafe { read_template(p_template, ul_count)? };
        api::set_attributes(h_session, h_object, &template)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsInit(
    h_session: CK_SESSION_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    ul_count: CK_ULONG,
) -> CK_RV {
    guard("C_FindObjectsInit", || {
        // SAFETY: pointer and count as the caller promises (NULL with 0: find everything).
        let template = unsafe { read_template(p_template, ul_count)? };
        api::find_objects_init(h_session, &template)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjects(
    h_session: CK_SESSION_HANDLE,
    ph_object: *mut CK_OBJECT_HANDLE,
    ul_max_object_count: CK_ULONG,
    pul_object_count: *mut CK_ULONG,
) -> CK_RV {
    guard("C_FindObjects", || {
        let count = out(pul_object_count)?;
        let max = len(ul_max_object_count)?;
        if ph_object.is_null() && max > 0 {
            return Err(Error::ArgumentsBad);
        }
        let found = api::find_objects(h_session, max)?;
        if found.len() > max {
            log::error!("token found {} objects for a maximum of {max}", found.len());
            return Err(Error::GeneralError);
        }
        if !found.is_empty() {
            // SAFETY: non-NULL (max > 0) with room for max >= found.len() handles.
            unsafe { ptr::copy_nonoverlapping(found.as_ptr(), ph_object, found.len()) };
        }
        // SAFETY: checked out-pointer.
        unsafe { store(count, ulong(found.len())?) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsFinal(h_session: CK_SESSION_HANDLE) -> CK_RV {
    guard("C_FindObjectsFinal", || api::find_objects_final(h_session))
}
