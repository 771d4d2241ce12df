//! Cryptographic operations: encrypt, decrypt, digest, sign, verify (init, single-part, update,
//! final), and the functions the card cannot do (digesting a key, recover forms, dual-function
//! updates). The five operations share one shape, so each C_* is a one-line call of a helper.

use cryptoki_sys::*;

use super::marshal::{bytes, no_output, OutBuf};
use super::mechanism::read_mechanism;
use super::{guard, unavailable};
use crate::token::api::{self, Error, Operation};

unsafe fn init(
    name: &'static str,
    h_session: CK_SESSION_HANDLE,
    op: Operation,
    p_mechanism: *mut CK_MECHANISM,
    key: Option<CK_OBJECT_HANDLE>,
) -> CK_RV {
    guard(name, || {
        // SAFETY: pointer as the caller promises; NULL checked.
        let mechanism = unsafe { read_mechanism(p_mechanism)? };
        api::operation_init(h_session, op, &mechanism, key)
    })
}

/// C_Encrypt, C_Decrypt, C_Digest, C_Sign.
unsafe fn single(
    name: &'static str,
    h_session: CK_SESSION_HANDLE,
    op: Operation,
    p_data: *mut CK_BYTE,
    ul_data_len: CK_ULONG,
    p_out: *mut CK_BYTE,
    pul_out_len: *mut CK_ULONG,
) -> CK_RV {
    guard(name, || {
        // SAFETY: pointers and lengths as the caller promises; NULLs checked.
        let output = unsafe { OutBuf::new(p_out, pul_out_len)? };
        let data = unsafe { bytes(p_data, ul_data_len)? };
        let answer = api::operation_single(h_session, op, data, output.capacity())?;
        unsafe { output.deliver(answer) }
    })
}

/// C_EncryptUpdate, C_DecryptUpdate.
unsafe fn update_with_output(
    name: &'static str,
    h_session: CK_SESSION_HANDLE,
    op: Operation,
    p_part: *mut CK_BYTE,
    ul_part_len: CK_ULONG,
    p_out: *mut CK_BYTE,
    pul_out_len: *mut CK_ULONG,
) -> CK_RV {
    guard(name, || {
        // SAFETY: pointers and lengths as the caller promises; NULLs checked.
        let output = unsafe { OutBuf::new(p_out, pul_out_len)? };
        let part = unsafe { bytes(p_part, ul_part_len)? };
        let answer = api::operation_update(h_session, op, part, output.capacity())?;
        unsafe { output.deliver(answer) }
    })
}

/// C_DigestUpdate, C_SignUpdate, C_VerifyUpdate.
unsafe fn update(
    name: &'static str,
    h_session: CK_SESSION_HANDLE,
    op: Operation,
    p_part: *mut CK_BYTE,
    ul_part_len: CK_ULONG,
) -> CK_RV {
    guard(name, || {
        // SAFETY: pointer and length as the caller promises; NULL checked.
        let part = unsafe { bytes(p_part, ul_part_len)? };
        // No output buffer: room for nothing.
        no_output(api::operation_update(h_session, op, part, Some(0))?)
    })
}

/// C_EncryptFinal, C_DecryptFinal, C_DigestFinal, C_SignFinal.
unsafe fn finish(
    name: &'static str,
    h_session: CK_SESSION_HANDLE,
    op: Operation,
    p_out: *mut CK_BYTE,
    pul_out_len: *mut CK_ULONG,
) -> CK_RV {
    guard(name, || {
        // SAFETY: pointers as the caller promises; NULLs checked.
        let output = unsafe { OutBuf::new(p_out, pul_out_len)? };
        let answer = api::operation_final(h_session, op, output.capacity())?;
        unsafe { output.deliver(answer) }
    })
}

// ---- encrypt ------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_EncryptInit(
    h_session: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    h_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    unsafe {
        init(
            "C_EncryptInit",
            h_session,
            Operation::Encrypt,
            p_mechanism,
            Some(h_key),
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_Encrypt(
    h_session: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    ul_data_len: CK_ULONG,
    p_encrypted: *mut CK_BYTE,
    pul_encrypted_len: *mut CK_ULONG,
) -> CK_RV {
    let op = Operation::Encrypt;
    unsafe {
        single(
            "C_Encrypt",
            h_session,
            op,
            p_data,
            ul_data_len,
            p_encrypted,
            pul_encrypted_len,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_EncryptUpdate(
    h_session: CK_SESSION_HANDLE,
    p_part: *mut CK_BYTE,
    ul_part_len: CK_ULONG,
    p_encrypted: *mut CK_BYTE,
    pul_encrypted_len: *mut CK_ULONG,
) -> CK_RV {
    let (name, op) = ("C_EncryptUpdate", Operation::Encrypt);
    unsafe {
        update_with_output(
            name,
            h_session,
            op,
            p_part,
            ul_part_len,
            p_encrypted,
            pul_encrypted_len,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_EncryptFinal(
    h_session: CK_SESSION_HANDLE,
    p_last: *mut CK_BYTE,
    pul_last_len: *mut CK_ULONG,
) -> CK_RV {
    unsafe {
        finish(
            "C_EncryptFinal",
            h_session,
            Operation::Encrypt,
            p_last,
            pul_last_len,
        )
    }
}

// ---- decrypt ------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_DecryptInit(
    h_session: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    h_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    unsafe {
        init(
            "C_DecryptInit",
            h_session,
            Operation::Decrypt,
            p_mechanism,
            Some(h_key),
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_Decrypt(
    h_session: CK_SESSION_HANDLE,
    p_encrypted: *mut CK_BYTE,
    ul_encrypted_len: CK_ULONG,
    p_data: *mut CK_BYTE,
    pul_data_len: *mut CK_ULONG,
) -> CK_RV {
    let op = Operation::Decrypt;
    unsafe {
        single(
            "C_Decrypt",
            h_session,
            op,
            p_encrypted,
            ul_encrypted_len,
            p_data,
            pul_data_len,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_DecryptUpdate(
    h_session: CK_SESSION_HANDLE,
    p_encrypted: *mut CK_BYTE,
    ul_encrypted_len: CK_ULONG,
    p_part: *mut CK_BYTE,
    pul_part_len: *mut CK_ULONG,
) -> CK_RV {
    let (name, op) = ("C_DecryptUpdate", Operation::Decrypt);
    unsafe {
        update_with_output(
            name,
            h_session,
            op,
            p_encrypted,
            ul_encrypted_len,
            p_part,
            pul_part_len,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_DecryptFinal(
    h_session: CK_SESSION_HANDLE,
    p_last: *mut CK_BYTE,
    pul_last_len: *mut CK_ULONG,
) -> CK_RV {
    unsafe {
        finish(
            "C_DecryptFinal",
            h_session,
            Operation::Decrypt,
            p_last,
            pul_last_len,
        )
    }
}

// ---- digest -------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_DigestInit(
    h_session: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
) -> CK_RV {
    unsafe {
        init(
            "C_DigestInit",
            h_session,
            Operation::Digest,
            p_mechanism,
            None,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_Digest(
    h_session: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    ul_data_len: CK_ULONG,
    p_digest: *mut CK_BYTE,
    pul_digest_len: *mut CK_ULONG,
) -> CK_RV {
    let op = Operation::Digest;
    unsafe {
        single(
            "C_Digest",
            h_session,
            op,
            p_data,
            ul_data_len,
            p_digest,
            pul_digest_len,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_DigestUpdate(
    h_session: CK_SESSION_HANDLE,
    p_part: *mut CK_BYTE,
    ul_part_len: CK_ULONG,
) -> CK_RV {
    unsafe {
        update(
            "C_DigestUpdate",
            h_session,
            Operation::Digest,
            p_part,
            ul_part_len,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_DigestKey(
    _h_session: CK_SESSION_HANDLE,
    _h_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    unavailable("C_DigestKey", Error::FunctionNotSupported)
}

#[no_mangle]
pub unsafe extern "C" fn C_DigestFinal(
    h_session: CK_SESSION_HANDLE,
    p_digest: *mut CK_BYTE,
    pul_digest_len: *mut CK_ULONG,
) -> CK_RV {
    unsafe {
        finish(
            "C_DigestFinal",
            h_session,
            Operation::Digest,
            p_digest,
            pul_digest_len,
        )
    }
}

// ---- sign ---------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_SignInit(
    h_session: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    h_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    unsafe {
        init(
            "C_SignInit",
            h_session,
            Operation::Sign,
            p_mechanism,
            Some(h_key),
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_Sign(
    h_session: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    ul_data_len: CK_ULONG,
    p_signature: *mut CK_BYTE,
    pul_signature_len: *mut CK_ULONG,
) -> CK_RV {
    let op = Operation::Sign;
    unsafe {
        single(
            "C_Sign",
            h_session,
            op,
            p_data,
            ul_data_len,
            p_signature,
            pul_signature_len,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_SignUpdate(
    h_session: CK_SESSION_HANDLE,
    p_part: *mut CK_BYTE,
    ul_part_len: CK_ULONG,
) -> CK_RV {
    unsafe {
        update(
            "C_SignUpdate",
            h_session,
            Operation::Sign,
            p_part,
            ul_part_len,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_SignFinal(
    h_session: CK_SESSION_HANDLE,
    p_signature: *mut CK_BYTE,
    pul_signature_len: *mut CK_ULONG,
) -> CK_RV {
    unsafe {
        finish(
            "C_SignFinal",
            h_session,
            Operation::Sign,
            p_signature,
            pul_signature_len,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_SignRecoverInit(
    _h_session: CK_SESSION_HANDLE,
    _p_mechanism: *mut CK_MECHANISM,
    _h_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    unavailable("C_SignRecoverInit", Error::FunctionNotSupported)
}

#[no_mangle]
pub unsafe extern "C" fn C_SignRecover(
    _h_session: CK_SESSION_HANDLE,
    _p_data: *mut CK_BYTE,
    _ul_data_len: CK_ULONG,
    _p_signature: *mut CK_BYTE,
    _pul_signature_len: *mut CK_ULONG,
) -> CK_RV {
    unavailable("C_SignRecover", Error::FunctionNotSupported)
}

// ---- verify -------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_VerifyInit(
    h_session: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    h_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    unsafe {
        init(
            "C_VerifyInit",
            h_session,
            Operation::Verify,
            p_mechanism,
            Some(h_key),
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_Verify(
    h_session: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    ul_data_len: CK_ULONG,
    p_signature: *mut CK_BYTE,
    ul_signature_len: CK_ULONG,
) -> CK_RV {
    guard("C_Verify", || {
        // SAFETY: pointers and lengths as the caller promises; NULLs checked.
        let data = unsafe { bytes(p_data, ul_data_len)? };
        let signature = unsafe { bytes(p_signature, ul_signature_len)? };
        api::verify(h_session, data, signature)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_VerifyUpdate(
    h_session: CK_SESSION_HANDLE,
    p_part: *mut CK_BYTE,
    ul_part_len: CK_ULONG,
) -> CK_RV {
    unsafe {
        update(
            "C_VerifyUpdate",
            h_session,
            Operation::Verify,
            p_part,
            ul_part_len,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_VerifyFinal(
    h_session: CK_SESSION_HANDLE,
    p_signature: *mut CK_BYTE,
    ul_signature_len: CK_ULONG,
) -> CK_RV {
    guard("C_VerifyFinal", || {
        // SAFETY: pointer and length as the caller promises; NULL checked.
        let signature = unsafe { bytes(p_signature, ul_signature_len)? };
        api::verify_final(h_session, signature)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_VerifyRecoverInit(
    _h_session: CK_SESSION_HANDLE,
    _p_mechanism: *mut CK_MECHANISM,
    _h_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    unavailable("C_VerifyRecoverInit", Error::FunctionNotSupported)
}

#[no_mangle]
pub unsafe extern "C" fn C_VerifyRecover(
    _h_session: CK_SESSION_HANDLE,
    _p_signature: *mut CK_BYTE,
    _ul_signature_len: CK_ULONG,
    _p_data: *mut CK_BYTE,
    _pul_data_len: *mut CK_ULONG,
) -> CK_RV {
    unavailable("C_VerifyRecover", Error::FunctionNotSupported)
}

// ---- dual-function updates: the card has no pipeline to do two operations in one pass --------

#[no_mangle]
pub unsafe extern "C" fn C_DigestEncryptUpdate(
    _h_session: CK_SESSION_HANDLE,
    _p_part: *mut CK_BYTE,
    _ul_part_len: CK_ULONG,
    _p_encrypted_part: *mut CK_BYTE,
    _pul_encrypted_part_len: *mut CK_ULONG,
) -> CK_RV {
    unavailable("C_DigestEncryptUpdate", Error::FunctionNotSupported)
}

#[no_mangle]
pub unsafe extern "C" fn C_DecryptDigestUpdate(
    _h_session: CK_SESSION_HANDLE,
    _p_encrypted_part: *mut CK_BYTE,
    _ul_encrypted_part_len: CK_ULONG,
    _p_part: *mut CK_BYTE,
    _pul_part_len: *mut CK_ULONG,
) -> CK_RV {
    unavailable("C_DecryptDigestUpdate", Error::FunctionNotSupported)
}

#[no_mangle]
pub unsafe extern "C" fn C_SignEncryptUpdate(
    _h_session: CK_SESSION_HANDLE,
    _p_part: *mut CK_BYTE,
    _ul_part_len: CK_ULONG,
    _p_encrypted_part: *mut CK_BYTE,
    _pul_encrypted_part_len: *mut CK_ULONG,
) -> CK_RV {
    unavailable("C_SignEncryptUpdate", Error::FunctionNotSupported)
}

#[no_mangle]
pub unsafe extern "C" fn C_DecryptVerifyUpdate(
    _h_session: CK_SESSION_HANDLE,
    _p_encrypted_part: *mut CK_BYTE,
    _ul_encrypted_part_len: CK_ULONG,
    _p_part: *mut CK_BYTE,
    _pul_part_len: *mut CK_ULONG,
) -> CK_RV {
    unavailable("C_DecryptVerifyUpdate", Error::FunctionNotSupported)
}
