//! Key management and random numbers: C_GenerateKey, C_GenerateKeyPair, C_WrapKey,
//! C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom.

use std::ptr;

use cryptoki_sys::*;

use super::attributes::read_template;
use super::guard;
use super::marshal::{bytes, len, out, store, OutBuf};
use super::mechanism::read_mechanism;
use crate::token::api::{self, Error};

#[no_mangle]
pub unsafe extern "C" fn C_GenerateKey(
    h_session: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    p_template: *mut CK_ATTRIBUTE,
    ul_count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_GenerateKey", || {
        let ph_key = out(ph_key)?;
        // SAFETY: pointers and counts as the caller promises; NULLs checked.
        let mechanism = unsafe { read_mechanism(p_mechanism)? };
        let template = unsafe { read_template(p_template, ul_count)? };
        let key = api::generate_key(h_session, &mechanism, &template)?;
        // SAFETY: checked out-pointer.
        unsafe { store(ph_key, key) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GenerateKeyPair(
    h_session: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    p_public_key_template: *mut CK_ATTRIBUTE,
    ul_public_key_attribute_count: CK_ULONG,
    p_private_key_template: *mut CK_ATTRIBUTE,
    ul_private_key_attribute_count: CK_ULONG,
    ph_public_key: *mut CK_OBJECT_HANDLE,
    ph_private_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_GenerateKeyPair", || {
        let ph_public_key = out(ph_public_key)?;
        let ph_private_key = out(ph_private_key)?;
        // SAFETY: pointers and counts as the caller promises; NULLs checked.
        let mechanism = unsafe { read_mechanism(p_mechanism)? };
        let public =
            unsafe { read_template(p_public_key_template, ul_public_key_attribute_count)? };
        let private =
            unsafe { read_template(p_private_key_template, ul_private_key_attribute_count)? };
        let (public_key, private_key) =
            api::generate_key_pair(h_session, &mechanism, &public, &private)?;
        // SAFETY: checked out-pointers.
        unsafe {
            store(ph_public_key, public_key);
            store(ph_private_key, private_key);
        }
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_WrapKey(
    h_session: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    h_wrapping_key: CK_OBJECT_HANDLE,
    h_key: CK_OBJECT_HANDLE,
    p_wrapped_key: *mut CK_BYTE,
    pul_wrapped_key_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_WrapKey", || {
        // SAFETY: pointers as the caller promises; NULLs checked.
        let output = unsafe { OutBuf::new(p_wrapped_key, pul_wrapped_key_len)? };
        let mechanism = unsafe { read_mechanism(p_mechanism)? };
        let answer = api::wrap_key(
            h_session,
            &mechanism,
            h_wrapping_key,
            h_key,
            output.capacity(),
        )?;
        unsafe { output.deliver(answer) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_UnwrapKey(
    h_session: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    h_unwrapping_key: CK_OBJECT_HANDLE,
    p_wrapped_key: *mut CK_BYTE,
    ul_wrapped_key_len: CK_ULONG,
    p_template: *mut CK_ATTRIBUTE,
    ul_attribute_count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_UnwrapKey", || {
        let ph_key = out(ph_key)?;
        // SAFETY: pointers, lengths and counts as the caller promises; NULLs checked.
        let mechanism = unsafe { read_mechanism(p_mechanism)? };
        let wrapped = unsafe { bytes(p_wrapped_key, ul_wrapped_key_len)? };
        let template = unsafe { read_template(p_template, ul_attribute_count)? };
        let key = api::unwrap_key(h_session, &mechanism, h_unwrapping_key, wrapped, &template)?;
        // SAFETY: checked out-pointer.
        unsafe { store(ph_key, key) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_DeriveKey(
    h_session: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    h_base_key: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    ul_attribute_count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_DeriveKey", || {
        let ph_key = out(ph_key)?;
        // SAFETY: pointers and counts as the caller promises; NULLs checked.
        let mechanism = unsafe { read_mechanism(p_mechanism)? };
        let template = unsafe { read_template(p_template, ul_attribute_count)? };
        let key = api::derive_key(h_session, &mechanism, h_base_key, &template)?;
        // SAFETY: checked out-pointer.
        unsafe { store(ph_key, key) };
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SeedRandom(
    h_session: CK_SESSION_HANDLE,
    p_seed: *mut CK_BYTE,
    ul_seed_len: CK_ULONG,
) -> CK_RV {
    guard("C_SeedRandom", || {
        // SAFETY: pointer and length as the caller promises; NULL checked.
        let seed = unsafe { bytes(p_seed, ul_seed_len)? };
        api::seed_random(h_session, seed)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GenerateRandom(
    h_session: CK_SESSION_HANDLE,
    p_random_data: *mut CK_BYTE,
    ul_random_len: CK_ULONG,
) -> CK_RV {
    guard("C_GenerateRandom", || {
        let n = len(ul_random_len)?;
        if p_random_data.is_null() && n > 0 {
            return Err(Error::ArgumentsBad);
        }
        let random = api::generate_random(h_session, n)?;
        if random.len() != n {
            log::error!(
                "token generated {} random bytes for {n} asked",
                random.len()
            );
            return Err(Error::GeneralError);
        }
        if n > 0 {
            // SAFETY: non-NULL with room for n bytes, per the caller.
            unsafe { ptr::copy_nonoverlapping(random.as_ptr(), p_random_data, n) };
        }
        Ok(())
    })
}
