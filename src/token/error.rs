//! The token layer's error: what went wrong in PKCS#11 terms. Each variant corresponds to one
//! CKR_* code; the CK_RV value itself is chosen in one place, at the C boundary (`ffi`).
//! Card errors become token errors in `From<card::Error>` (see `card_error.rs`), where the
//! context (which command failed) is known.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    // General
    GeneralError,
    HostMemory,
    FunctionFailed,
    ArgumentsBad,
    CantLock,
    NotInitialized,
    AlreadyInitialized,
    FunctionNotSupported,
    FunctionNotParallel,
    NeedToCreateThreads,
    NoEvent,
    // Slots, tokens, devices
    SlotIdInvalid,
    TokenNotPresent,
    TokenNotRecognized,
    TokenWriteProtected,
    DeviceError,
    DeviceMemory,
    DeviceRemoved,
    // Sessions and users
    SessionHandleInvalid,
    SessionCount,
    SessionParallelNotSupported,
    SessionReadOnly,
    SessionExists,
    SessionReadOnlyExists,
    SessionReadWriteSoExists,
    UserAlreadyLoggedIn,
    UserNotLoggedIn,
    UserPinNotInitialized,
    UserTypeInvalid,
    UserAnotherAlreadyLoggedIn,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinExpired,
    PinLocked,
    // Objects and attributes
    ObjectHandleInvalid,
    AttributeReadOnly,
    AttributeSensitive,
    AttributeTypeInvalid,
    AttributeValueInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
    ActionProhibited,
    // Operations and mechanisms
    OperationActive,
    OperationNotInitialized,
    MechanismInvalid,
    MechanismParamInvalid,
    KeyHandleInvalid,
    KeySizeRange,
    KeyTypeInconsistent,
    KeyFunctionNotPermitted,
    KeyNotWrappable,
    KeyUnextractable,
    KeyNeeded,
    KeyIndigestible,
    DataInvalid,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    SignatureInvalid,
    SignatureLenRange,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    WrappingKeyHandleInvalid,
    WrappingKeyTypeInconsistent,
    UnwrappingKeyHandleInvalid,
    UnwrappingKeyTypeInconsistent,
    CurveNotSupported,
    DomainParamsInvalid,
    RandomNoRng,
    RandomSeedNotSupported,
    BufferTooSmall,
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Error {}
