//! The C ABI and nothing else: every C_* entry point of PKCS#11 2.40, the function list, pointer
//! and length checks, marshalling, the panic guard, and `token::Error` -> CK_RV.
//!
//! Every entry point has the same shape: `guard("C_Xxx", || { check and convert the C arguments;
//! call one `token::api` function; convert the answer back })`. The CK_RV for each error is chosen
//! in [`rv`], and nowhere else.

// The C_* functions are the C ABI of this library; their safety contract (valid pointers and
// lengths) is the one the PKCS#11 specification states for each of them, not repeated here.
#![allow(clippy::missing_safety_doc)]
// The entry points carry the names and argument conventions the C API gives them.
#![allow(non_snake_case)]
// Make each raw-pointer access visible (an explicit `unsafe` block) even inside `unsafe fn`.
#![deny(unsafe_op_in_unsafe_fn)]

mod attributes;
mod crypto;
mod function_list;
mod general;
mod keys;
mod marshal;
mod mechanism;
mod object;
mod session;
mod slot;

pub use crypto::*;
pub use function_list::*;
pub use general::*;
pub use keys::*;
pub use object::*;
pub use session::*;
pub use slot::*;

use std::panic::{catch_unwind, AssertUnwindSafe};

use cryptoki_sys::*;

use crate::token::api::{self, Error};

/// Runs the body of the entry point `name`, never letting a panic unwind into C (which would
/// abort the host process): a panic is logged and answered with CKR_GENERAL_ERROR. Logs the call
/// and its CK_RV at trace level (the name only: never arguments, which may hold PINs or data).
pub(crate) fn guard(name: &'static str, body: impl FnOnce() -> api::Result<()>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            log::trace!("{name} -> CKR_OK");
            CKR_OK
        }
        Ok(Err(e)) => {
            let code = rv(e);
            log::trace!("{name} -> {e} ({code:#x})");
            code
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            log::error!("{name}: internal error (panic: {what}); answering CKR_GENERAL_ERROR");
            CKR_GENERAL_ERROR
        }
    }
}

/// For functions the card cannot do: CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize (as for
/// every other function), else `answer`.
pub(crate) fn unavailable(name: &'static str, answer: Error) -> CK_RV {
    guard(name, || {
        api::library_info()?;
        Err(answer)
    })
}

/// The one place where a CK_RV is chosen for an error.
pub fn rv(e: Error) -> CK_RV {
    match e {
        Error::GeneralError => CKR_GENERAL_ERROR,
        Error::HostMemory => CKR_HOST_MEMORY,
        Error::FunctionFailed => CKR_FUNCTION_FAILED,
        Error::ArgumentsBad => CKR_ARGUMENTS_BAD,
        Error::CantLock => CKR_CANT_LOCK,
        Error::NotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
        Error::AlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
        Error::FunctionNotSupported => CKR_FUNCTION_NOT_SUPPORTED,
        Error::FunctionNotParallel => CKR_FUNCTION_NOT_PARALLEL,
        Error::NeedToCreateThreads => CKR_NEED_TO_CREATE_THREADS,
        Error::NoEvent => CKR_NO_EVENT,
        Error::SlotIdInvalid => CKR_SLOT_ID_INVALID,
        Error::TokenNotPresent => CKR_TOKEN_NOT_PRESENT,
        Error::TokenNotRecognized => CKR_TOKEN_NOT_RECOGNIZED,
        Error::TokenWriteProtected => CKR_TOKEN_WRITE_PROTECTED,
        Error::DeviceError => CKR_DEVICE_ERROR,
        Error::DeviceMemory => CKR_DEVICE_MEMORY,
        Error::DeviceRemoved => CKR_DEVICE_REMOVED,
        Error::SessionHandleInvalid => CKR_SESSION_HANDLE_INVALID,
        Error::SessionCount => CKR_SESSION_COUNT,
        Error::SessionParallelNotSupported => CKR_SESSION_PARALLEL_NOT_SUPPORTED,
        Error::SessionReadOnly => CKR_SESSION_READ_ONLY,
        Error::SessionExists => CKR_SESSION_EXISTS,
        Error::SessionReadOnlyExists => CKR_SESSION_READ_ONLY_EXISTS,
        Error::SessionReadWriteSoExists => CKR_SESSION_READ_WRITE_SO_EXISTS,
        Error::UserAlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
        Error::UserNotLoggedIn => CKR_USER_NOT_LOGGED_IN,
        Error::UserPinNotInitialized => CKR_USER_PIN_NOT_INITIALIZED,
        Error::UserTypeInvalid => CKR_USER_TYPE_INVALID,
        Error::UserAnotherAlreadyLoggedIn => CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
        Error::PinIncorrect => CKR_PIN_INCORRECT,
        Error::PinInvalid => CKR_PIN_INVALID,
        Error::PinLenRange => CKR_PIN_LEN_RANGE,
        Error::PinExpired => CKR_PIN_EXPIRED,
        Error::PinLocked => CKR_PIN_LOCKED,
        Error::ObjectHandleInvalid => CKR_OBJECT_HANDLE_INVALID,
        Error::AttributeReadOnly => CKR_ATTRIBUTE_READ_ONLY,
        Error::AttributeSensitive => CKR_ATTRIBUTE_SENSITIVE,
        Error::AttributeTypeInvalid => CKR_ATTRIBUTE_TYPE_INVALID,
        Error::AttributeValueInvalid => CKR_ATTRIBUTE_VALUE_INVALID,
        Error::TemplateIncomplete => CKR_TEMPLATE_INCOMPLETE,
        Error::TemplateInconsistent => CKR_TEMPLATE_INCONSISTENT,
        Error::ActionProhibited => CKR_ACTION_PROHIBITED,
        Error::OperationActive => CKR_OPERATION_ACTIVE,
        Error::OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
        Error::MechanismInvalid => CKR_MECHANISM_INVALID,
        Error::MechanismParamInvalid => CKR_MECHANISM_PARAM_INVALID,
        Error::KeyHandleInvalid => CKR_KEY_HANDLE_INVALID,
        Error::KeySizeRange => CKR_KEY_SIZE_RANGE,
        Error::KeyTypeInconsistent => CKR_KEY_TYPE_INCONSISTENT,
        Error::KeyFunctionNotPermitted => CKR_KEY_FUNCTION_NOT_PERMITTED,
        Error::KeyNotWrappable => CKR_KEY_NOT_WRAPPABLE,
        Error::KeyUnextractable => CKR_KEY_UNEXTRACTABLE,
        Error::KeyNeeded => CKR_KEY_NEEDED,
        Error::KeyIndigestible => CKR_KEY_INDIGESTIBLE,
        Error::DataInvalid => CKR_DATA_INVALID,
        Error::DataLenRange => CKR_DATA_LEN_RANGE,
        Error::EncryptedDataInvalid => CKR_ENCRYPTED_DATA_INVALID,
        Error::EncryptedDataLenRange => CKR_ENCRYPTED_DATA_LEN_RANGE,
        Error::SignatureInvalid => CKR_SIGNATURE_INVALID,
        Error::SignatureLenRange => CKR_SIGNATURE_LEN_RANGE,
        Error::WrappedKeyInvalid => CKR_WRAPPED_KEY_INVALID,
        Error::WrappedKeyLenRange => CKR_WRAPPED_KEY_LEN_RANGE,
        Error::WrappingKeyHandleInvalid => CKR_WRAPPING_KEY_HANDLE_INVALID,
        Error::WrappingKeyTypeInconsistent => CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
        Error::UnwrappingKeyHandleInvalid => CKR_UNWRAPPING_KEY_HANDLE_INVALID,
        Error::UnwrappingKeyTypeInconsistent => CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
        Error::CurveNotSupported => CKR_CURVE_NOT_SUPPORTED,
        Error::DomainParamsInvalid => CKR_DOMAIN_PARAMS_INVALID,
        Error::RandomNoRng => CKR_RANDOM_NO_RNG,
        Error::RandomSeedNotSupported => CKR_RANDOM_SEED_NOT_SUPPORTED,
        Error::BufferTooSmall => CKR_BUFFER_TOO_SMALL,
    }
}

#[cfg(test)]
mod tests;
