//! General-purpose functions: C_Initialize, C_Finalize, C_GetInfo, and the legacy parallel
//! functions C_GetFunctionStatus and C_CancelFunction.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::marshal::{out, padded, store, version};
use super::{guard, unavailable};
use crate::token::api::{self, Error, InitOptions, Result};

/// The version of the PKCS#11 interface this library implements (CK_INFO, the function list).
pub(crate) const CRYPTOKI_VERSION: CK_VERSION = CK_VERSION {
    major: 2,
    minor: 40,
};

#[no_mangle]
pub unsafe extern "C" fn C_Initialize(p_init_args: *mut c_void) -> CK_RV {
    guard("C_Initialize", || {
        // SAFETY: NULL or a CK_C_INITIALIZE_ARGS, per the caller.
        let args = unsafe { p_init_args.cast::<CK_C_INITIALIZE_ARGS>().as_ref() };
        api::initialize(init_options(args)?)
    })
}

/// Validates CK_C_INITIALIZE_ARGS (PKCS#11 2.40 §5.4). pReserved must be NULL (configuration
/// comes from the environment, and some callers put strings there we must not dereference).
/// Mutex callbacks come all or none; we always lock with OS primitives, so callbacks are only
/// acceptable together with CKF_OS_LOCKING_OK.
fn init_options(args: Option<&CK_C_INITIALIZE_ARGS>) -> Result<InitOptions> {
    let Some(args) = args else {
        return Ok(InitOptions {
            may_create_threads: true,
        });
    };
    if !args.pReserved.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let callbacks = [
        args.CreateMutex.is_some(),
        args.DestroyMutex.is_some(),
        args.LockMutex.is_some(),
        args.UnlockMutex.is_some(),
    ];
    match callbacks.iter().filter(|&&given| given).count() {
        0 => {}
        4 if args.flags & CKF_OS_LOCKING_OK != 0 => {}
        4 => {
            log::warn!("C_Initialize: mutex callbacks without CKF_OS_LOCKING_OK are not supported");
            return Err(Error::CantLock);
        }
        _ => return Err(Error::ArgumentsBad),
    }
    let may_create_threads = args.flags & CKF_LIBRARY_CANT_CREATE_OS_THREADS == 0;
    log::debug!(
        "C_Initialize: flags {:#x}, may create threads: {may_create_threads}",
        args.flags
    );
    Ok(InitOptions { may_create_threads })
}

#[no_mangle]
pub unsafe extern "C" fn C_Finalize(p_reserved: *mut c_void) -> CK_RV {
    guard("C_Finalize", || {
        if !p_reserved.is_null() {
            return Err(Error::ArgumentsBad);
        }
        api::finalize()
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetInfo(p_info: *mut CK_INFO) -> CK_RV {
    guard("C_GetInfo", || {
        let p_info = out(p_info)?;
        let lib = api::library_info()?;
        let info = CK_INFO {
            cryptokiVersion: CRYPTOKI_VERSION,
            manufacturerID: padded(&lib.manufacturer),
            flags: 0,
            libraryDescription: padded(&lib.description),
            libraryVersion: version(lib.version),
        };
        // SAFETY: checked out-pointer.
        unsafe { store(p_info, info) };
        Ok(())
    })
}

/// Legacy: PKCS#11 2.40 says these simply answer CKR_FUNCTION_NOT_PARALLEL.
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionStatus(_h_session: CK_SESSION_HANDLE) -> CK_RV {
    unavailable("C_GetFunctionStatus", Error::FunctionNotParallel)
}

#[no_mangle]
pub unsafe extern "C" fn C_CancelFunction(_h_session: CK_SESSION_HANDLE) -> CK_RV {
    unavailable("C_CancelFunction", Error::FunctionNotParallel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    unsafe extern "C" fn create(_: *mut *mut c_void) -> CK_RV {
        CKR_OK
    }
    unsafe extern "C" fn other(_: *mut c_void) -> CK_RV {
        CKR_OK
    }

    fn args(flags: CK_FLAGS, callbacks: usize) -> CK_C_INITIALIZE_ARGS {
        CK_C_INITIALIZE_ARGS {
            CreateMutex: (callbacks > 0).then_some(create as _),
            DestroyMutex: (callbacks > 1).then_some(other as _),
            LockMutex: (callbacks > 2).then_some(other as _),
            UnlockMutex: (callbacks > 3).then_some(other as _),
            flags,
            pReserved: ptr::null_mut(),
        }
    }

    fn init(a: &mut CK_C_INITIALIZE_ARGS) -> CK_RV {
        unsafe { C_Initialize((a as *mut CK_C_INITIALIZE_ARGS).cast()) }
    }

    // These answers come before the token is asked, so they touch no library state.
    #[test]
    fn reserved_must_be_null() {
        let mut a = args(0, 0);
        a.pReserved = ptr::dangling_mut::<c_void>(); // pkcs11test passes (void *)1
        assert_eq!(init(&mut a), CKR_ARGUMENTS_BAD);
    }

    #[test]
    fn callbacks_all_or_none() {
        for n in 1..4 {
            assert_eq!(
                init(&mut args(CKF_OS_LOCKING_OK, n)),
                CKR_ARGUMENTS_BAD,
                "{n} callbacks"
            );
        }
    }

    #[test]
    fn callbacks_without_os_locking_cant_lock() {
        assert_eq!(init(&mut args(0, 4)), CKR_CANT_LOCK);
    }

    #[test]
    fn finalize_reserved_must_be_null() {
        assert_eq!(
            unsafe { C_Finalize(ptr::dangling_mut::<c_void>()) },
            CKR_ARGUMENTS_BAD
        );
    }

    #[test]
    fn options_from_flags() {
        let o = init_options(None).unwrap();
        assert!(o.may_create_threads);
        let o = init_options(Some(&args(CKF_OS_LOCKING_OK, 4))).unwrap();
        assert!(o.may_create_threads);
        let flags = CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS;
        let o = init_options(Some(&args(flags, 4))).unwrap();
        assert!(!o.may_create_threads);
        let o = init_options(Some(&args(CKF_LIBRARY_CANT_CREATE_OS_THREADS, 0))).unwrap();
        assert!(!o.may_create_threads);
    }
}
