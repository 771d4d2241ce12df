//! Tests of the guard and the error mapping.

use std::collections::HashSet;

use super::*;

#[test]
fn guard_maps_ok_and_errors() {
    assert_eq!(guard("C_Test", || Ok(())), CKR_OK);
    assert_eq!(
        guard("C_Test", || Err(Error::PinIncorrect)),
        CKR_PIN_INCORRECT
    );
    assert_eq!(
        guard("C_Test", || Err(Error::BufferTooSmall)),
        CKR_BUFFER_TOO_SMALL
    );
}

#[test]
fn guard_turns_panics_into_general_error() {
    assert_eq!(guard("C_Test", || panic!("boom")), CKR_GENERAL_ERROR);
    let message = String::from("formatted boom");
    assert_eq!(guard("C_Test", || panic!("{message}")), CKR_GENERAL_ERROR);
    assert_eq!(
        guard("C_Test", || std::panic::panic_any(42u32)),
        CKR_GENERAL_ERROR
    );
    // The guard stays usable after a panic.
    assert_eq!(guard("C_Test", || Ok(())), CKR_OK);
}

/// Every variant once; the exhaustive match in `rv` makes sure none is forgotten there.
const ALL: [Error; 72] = [
    Error::GeneralError,
    Error::HostMemory,
    Error::FunctionFailed,
    Error::ArgumentsBad,
    Error::CantLock,
    Error::NotInitialized,
    Error::AlreadyInitialized,
    Error::FunctionNotSupported,
    Error::FunctionNotParallel,
    Error::NeedToCreateThreads,
    Error::NoEvent,
    Error::SlotIdInvalid,
    Error::TokenNotPresent,
    Error::TokenNotRecognized,
    Error::TokenWriteProtected,
    Error::DeviceError,
    Error::DeviceMemory,
    Error::DeviceRemoved,
    Error::SessionHandleInvalid,
    Error::SessionCount,
    Error::SessionParallelNotSupported,
    Error::SessionReadOnly,
    Error::SessionExists,
    Error::SessionReadOnlyExists,
    Error::SessionReadWriteSoExists,
    Error::UserAlreadyLoggedIn,
    Error::UserNotLoggedIn,
    Error::UserPinNotInitialized,
    Error::UserTypeInvalid,
    Error::UserAnotherAlreadyLoggedIn,
    Error::PinIncorrect,
    Error::PinInvalid,
    Error::PinLenRange,
    Error::PinExpired,
    Error::PinLocked,
    Error::ObjectHandleInvalid,
    Error::AttributeReadOnly,
    Error::AttributeSensitive,
    Error::AttributeTypeInvalid,
    Error::AttributeValueInvalid,
    Error::TemplateIncomplete,
    Error::TemplateInconsistent,
    Error::ActionProhibited,
    Error::OperationActive,
    Error::OperationNotInitialized,
    Error::MechanismInvalid,
    Error::MechanismParamInvalid,
    Error::KeyHandleInvalid,
    Error::KeySizeRange,
    Error::KeyTypeInconsistent,
    Error::KeyFunctionNotPermitted,
    Error::KeyNotWrappable,
    Error::KeyUnextractable,
    Error::KeyNeeded,
    Error::KeyIndigestible,
    Error::DataInvalid,
    Error::DataLenRange,
    Error::EncryptedDataInvalid,
    Error::EncryptedDataLenRange,
    Error::SignatureInvalid,
    Error::SignatureLenRange,
    Error::WrappedKeyInvalid,
    Error::WrappedKeyLenRange,
    Error::WrappingKeyHandleInvalid,
    Error::WrappingKeyTypeInconsistent,
    Error::UnwrappingKeyHandleInvalid,
    Error::UnwrappingKeyTypeInconsistent,
    Error::CurveNotSupported,
    Error::DomainParamsInvalid,
    Error::RandomNoRng,
    Error::RandomSeedNotSupported,
    Error::BufferTooSmall,
];

#[test]
fn every_error_has_its_own_code_and_none_is_ok() {
    let errors: HashSet<Error> = ALL.iter().copied().collect();
    assert_eq!(errors.len(), ALL.len());
    let codes: HashSet<CK_RV> = ALL.iter().map(|&e| rv(e)).collect();
    assert_eq!(codes.len(), ALL.len(), "two errors share a CK_RV");
    assert!(!codes.contains(&CKR_OK));
    assert_eq!(rv(Error::NotInitialized), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_eq!(
        rv(Error::AlreadyInitialized),
        CKR_CRYPTOKI_ALREADY_INITIALIZED
    );
}
