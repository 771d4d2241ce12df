//! C_Initialize / C_Finalize through the C entry points, and what every function answers before
//! and after. Library state is process-global: the tests of this file are serialized, and this
//! file is its own test process, apart from the library's unit tests.

use std::ffi::c_void;
use std::ptr;
use std::sync::{Mutex, MutexGuard};

use cryptoki_sys::*;
use schsm_pkcs11::ffi::*;

static SERIAL: Mutex<()> = Mutex::new(());

/// Serializes the test and keeps the library away from PC/SC readers and simulated devices.
fn exclusive() -> MutexGuard<'static, ()> {
    let guard = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::env::set_var("SCHSM_PCSC", "0");
    std::env::remove_var("SCHSM_SIM");
    guard
}

unsafe extern "C" fn create_mutex(_: *mut *mut c_void) -> CK_RV {
    CKR_OK
}
unsafe extern "C" fn mutex_op(_: *mut c_void) -> CK_RV {
    CKR_OK
}

fn args(flags: CK_FLAGS, callbacks: bool) -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: callbacks.then_some(create_mutex as _),
        DestroyMutex: callbacks.then_some(mutex_op as _),
        LockMutex: callbacks.then_some(mutex_op as _),
        UnlockMutex: callbacks.then_some(mutex_op as _),
        flags,
        pReserved: ptr::null_mut(),
    }
}

fn initialize_with(a: &mut CK_C_INITIALIZE_ARGS) -> CK_RV {
    unsafe { C_Initialize((a as *mut CK_C_INITIALIZE_ARGS).cast()) }
}

#[test]
fn initialize_finalize_cycle() {
    let _serial = exclusive();
    unsafe {
        assert_eq!(C_Initialize(ptr::null_mut()), CKR_OK);
        assert_eq!(
            C_Initialize(ptr::null_mut()),
            CKR_CRYPTOKI_ALREADY_INITIALIZED
        );
        assert_eq!(C_Finalize(ptr::dangling_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_Finalize(ptr::null_mut()), CKR_OK);
        assert_eq!(C_Finalize(ptr::null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);
    }
}

#[test]
fn initialize_arguments() {
    let _serial = exclusive();
    let mut bad = args(0, false);
    bad.pReserved = ptr::dangling_mut();
    assert_eq!(initialize_with(&mut bad), CKR_ARGUMENTS_BAD);
    let mut partial = args(CKF_OS_LOCKING_OK, true);
    partial.UnlockMutex = None;
    assert_eq!(initialize_with(&mut partial), CKR_ARGUMENTS_BAD);
    assert_eq!(initialize_with(&mut args(0, true)), CKR_CANT_LOCK);
    // None of those initialized the library.
    assert_eq!(
        unsafe { C_Finalize(ptr::null_mut()) },
        CKR_CRYPTOKI_NOT_INITIALIZED
    );

    // What NSS passes: callbacks, OS locking, and no threads of ours.
    let nss = CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS;
    for mut a in [
        args(nss, true),
        args(CKF_OS_LOCKING_OK, true),
        args(0, false),
    ] {
        assert_eq!(initialize_with(&mut a), CKR_OK, "flags {:#x}", a.flags);
        assert_eq!(unsafe { C_Finalize(ptr::null_mut()) }, CKR_OK);
    }
}

/// The functions the card cannot do, each called with harmless arguments.
fn unsupported_calls() -> Vec<(&'static str, CK_RV)> {
    let mut len: CK_ULONG = 0;
    unsafe {
        vec![
            (
                "C_GetOperationState",
                C_GetOperationState(1, ptr::null_mut(), &mut len),
            ),
            (
                "C_SetOperationState",
                C_SetOperationState(1, ptr::null_mut(), 0, 0, 0),
            ),
            (
                "C_CopyObject",
                C_CopyObject(1, 1, ptr::null_mut(), 0, ptr::null_mut()),
            ),
            ("C_DigestKey", C_DigestKey(1, 1)),
            (
                "C_SignRecoverInit",
                C_SignRecoverInit(1, ptr::null_mut(), 1),
            ),
            (
                "C_SignRecover",
                C_SignRecover(1, ptr::null_mut(), 0, ptr::null_mut(), &mut len),
            ),
            (
                "C_VerifyRecoverInit",
                C_VerifyRecoverInit(1, ptr::null_mut(), 1),
            ),
            (
                "C_VerifyRecover",
                C_VerifyRecover(1, ptr::null_mut(), 0, ptr::null_mut(), &mut len),
            ),
            (
                "C_DigestEncryptUpdate",
                C_DigestEncryptUpdate(1, ptr::null_mut(), 0, ptr::null_mut(), &mut len),
            ),
            (
                "C_DecryptDigestUpdate",
                C_DecryptDigestUpdate(1, ptr::null_mut(), 0, ptr::null_mut(), &mut len),
            ),
            (
                "C_SignEncryptUpdate",
                C_SignEncryptUpdate(1, ptr::null_mut(), 0, ptr::null_mut(), &mut len),
            ),
            (
                "C_DecryptVerifyUpdate",
                C_DecryptVerifyUpdate(1, ptr::null_mut(), 0, ptr::null_mut(), &mut len),
            ),
        ]
    }
}

#[test]
fn everything_answers_not_initialized_before_initialize() {
    let _serial = exclusive();
    let mut info = CK_INFO::default();
    let mut count: CK_ULONG = 0;
    let mut session: CK_SESSION_HANDLE = 0;
    unsafe {
        assert_eq!(C_GetInfo(&mut info), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(
            C_GetSlotList(CK_FALSE, ptr::null_mut(), &mut count),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        assert_eq!(
            C_OpenSession(0, CKF_SERIAL_SESSION, ptr::null_mut(), None, &mut session),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        assert_eq!(C_CloseSession(1), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_GetFunctionStatus(1), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_CancelFunction(1), CKR_CRYPTOKI_NOT_INITIALIZED);
    }
    for (name, rv) in unsupported_calls() {
        assert_eq!(rv, CKR_CRYPTOKI_NOT_INITIALIZED, "{name}");
    }
}

#[test]
fn after_initialize() {
    let _serial = exclusive();
    assert_eq!(unsafe { C_Initialize(ptr::null_mut()) }, CKR_OK);

    for (name, rv) in unsupported_calls() {
        assert_eq!(rv, CKR_FUNCTION_NOT_SUPPORTED, "{name}");
    }
    unsafe {
        assert_eq!(C_GetFunctionStatus(1), CKR_FUNCTION_NOT_PARALLEL);
        assert_eq!(C_CancelFunction(1), CKR_FUNCTION_NOT_PARALLEL);
    }

    let mut info = CK_INFO::default();
    assert_eq!(unsafe { C_GetInfo(&mut info) }, CKR_OK);
    assert_eq!(
        (info.cryptokiVersion.major, info.cryptokiVersion.minor),
        (2, 40)
    );
    assert_eq!(info.flags, 0);
    // Blank-padded, never NUL-terminated, and something to read.
    for field in [&info.manufacturerID[..], &info.libraryDescription[..]] {
        assert!(!field.contains(&0), "{field:?}");
        assert_ne!(field[0], b' ', "{field:?}");
        assert!(std::str::from_utf8(field).is_ok());
    }
    assert_eq!(unsafe { C_GetInfo(ptr::null_mut()) }, CKR_ARGUMENTS_BAD);

    // No readers and no simulated devices: no slots.
    let mut count: CK_ULONG = 99;
    unsafe {
        assert_eq!(C_GetSlotList(CK_FALSE, ptr::null_mut(), &mut count), CKR_OK);
        assert_eq!(count, 0);
        assert_eq!(
            C_GetSlotList(CK_TRUE, ptr::null_mut(), ptr::null_mut()),
            CKR_ARGUMENTS_BAD
        );
    }

    // Only serial sessions exist.
    let mut session: CK_SESSION_HANDLE = 0;
    let rv = unsafe { C_OpenSession(0, 0, ptr::null_mut(), None, &mut session) };
    assert_eq!(rv, CKR_SESSION_PARALLEL_NOT_SUPPORTED);

    assert_eq!(unsafe { C_Finalize(ptr::null_mut()) }, CKR_OK);
}
