//! `card::Error` → `token::Error`: the one place where a status word becomes a PKCS#11 error.
//!
//! The same status word means different things in different commands (6A80 is a bad PIN length
//! in VERIFY and a bad cryptogram in DECIPHER), so the mapping takes the operation as context.
//! It follows PROTOCOL.md §10.3's recommendation (the union of OpenSC's and sc-hsm-embedded's
//! mappings). Transport failures: a card or reader that went away → `DeviceRemoved`, no PC/SC
//! service / no reader → `TokenNotPresent`, anything else → `DeviceError`.

use super::error::Error;
use crate::card::Error as CardError;
use crate::transport::TransportError;

/// What the token layer was doing when the card failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardOp {
    /// Opening the device, reading token info, files, ENUMERATE.
    Read,
    /// UPDATE BINARY / DELETE FILE of host files (descriptions, certificates, data).
    Write,
    /// VERIFY of the user PIN (C_Login).
    Login,
    /// VERIFY of the SO-PIN (C_Login CKU_SO).
    SoLogin,
    /// CHANGE REFERENCE DATA (C_SetPIN).
    ChangePin,
    /// RESET RETRY COUNTER (C_InitPIN).
    InitPin,
    /// INITIALIZE DEVICE (C_InitToken).
    InitToken,
    /// SELECT for logout.
    Logout,
    Sign,
    Decrypt,
    Encrypt,
    KeyGen,
    Derive,
    Wrap,
    Unwrap,
    Random,
}

/// Maps a card error in the context of `op`, logging what the card said.
pub fn map_card_error(e: CardError, op: CardOp) -> Error {
    let mapped = map(&e, op);
    match mapped {
        Error::PinIncorrect | Error::PinLocked | Error::UserNotLoggedIn => {
            log::info!("{op:?}: {e} -> {mapped:?}")
        }
        _ => log::warn!("{op:?}: {e} -> {mapped:?}"),
    }
    mapped
}

fn map(e: &CardError, op: CardOp) -> Error {
    use CardOp as Op;
    let pin_op = matches!(op, Op::Login | Op::SoLogin | Op::ChangePin | Op::InitPin);
    let crypto = matches!(op, Op::Sign | Op::Decrypt | Op::Encrypt | Op::Derive);
    match e {
        CardError::Transport(t) => transport(t),
        CardError::PinIncorrect { .. } => Error::PinIncorrect,
        CardError::AuthenticationBlocked => Error::PinLocked,
        CardError::ReferenceDataNotUsable if pin_op => Error::PinExpired,
        CardError::ReferenceDataNotUsable if crypto => Error::KeyFunctionNotPermitted,
        CardError::SecurityStatusNotSatisfied if op == Op::InitToken => Error::PinIncorrect,
        CardError::SecurityStatusNotSatisfied => Error::UserNotLoggedIn,
        CardError::IncorrectData if pin_op => Error::PinLenRange,
        CardError::IncorrectData => match op {
            Op::Decrypt => Error::EncryptedDataInvalid,
            Op::Unwrap => Error::WrappedKeyInvalid,
            Op::Sign | Op::Encrypt | Op::Derive => Error::DataInvalid,
            Op::InitToken => Error::PinLenRange,
            Op::KeyGen => Error::TemplateInconsistent,
            _ => Error::DeviceError,
        },
        CardError::FunctionNotSupported | CardError::ConditionsNotSatisfied if crypto => {
            Error::KeyFunctionNotPermitted
        }
        // INITIALIZE with a wrong SO-PIN answers "not allowed" (OpenSC reports it as wrong PIN).
        CardError::CommandNotAllowed | CardError::ConditionsNotSatisfied if op == Op::InitToken => {
            Error::PinIncorrect
        }
        CardError::CommandNotAllowed if op == Op::InitPin => Error::FunctionNotSupported,
        CardError::NotEnoughMemory => Error::DeviceMemory,
        CardError::NotFound | CardError::ReferencedDataNotFound if crypto => {
            Error::KeyHandleInvalid
        }
        CardError::ReferencedDataNotFound if pin_op => Error::UserPinNotInitialized,
        CardError::WrongLength if crypto => Error::DataLenRange,
        CardError::InvalidArgument(_) if pin_op || op == Op::InitToken => Error::PinLenRange,
        CardError::InvalidArgument(_) => Error::ArgumentsBad,
        CardError::Unsupported(_) => Error::FunctionNotSupported,
        CardError::Malformed(_) => Error::DeviceError,
        CardError::BlobMacMismatch | CardError::KcvMismatch { .. } => Error::WrappedKeyInvalid,
        CardError::WrongPassword => Error::PinIncorrect,
        _ => Error::DeviceError,
    }
}

/// Transport failures in PKCS#11 terms.
pub fn transport(t: &TransportError) -> Error {
    match t {
        TransportError::CardRemoved
        | TransportError::NoCard
        | TransportError::ReaderUnavailable
        | TransportError::UnknownReader(_) => Error::DeviceRemoved,
        TransportError::NoService | TransportError::NoReaders => Error::TokenNotPresent,
        _ => Error::DeviceError,
    }
}

/// Whether a card error says the card (or its reader) is gone for good.
pub fn is_removal(e: &CardError) -> bool {
    matches!(e, CardError::Transport(t) if transport(t) != Error::DeviceError)
}

/// Without context (prefer [`map_card_error`]).
impl From<CardError> for Error {
    fn from(e: CardError) -> Self {
        map_card_error(e, CardOp::Read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_decides() {
        let m = |e: CardError, op| map(&e, op);
        assert_eq!(
            m(CardError::IncorrectData, CardOp::Login),
            Error::PinLenRange
        );
        assert_eq!(
            m(CardError::IncorrectData, CardOp::Decrypt),
            Error::EncryptedDataInvalid
        );
        assert_eq!(
            m(CardError::IncorrectData, CardOp::Sign),
            Error::DataInvalid
        );
        assert_eq!(
            m(CardError::ReferenceDataNotUsable, CardOp::Login),
            Error::PinExpired
        );
        assert_eq!(
            m(CardError::ReferenceDataNotUsable, CardOp::Sign),
            Error::KeyFunctionNotPermitted
        );
        assert_eq!(
            m(CardError::PinIncorrect { tries_left: 2 }, CardOp::SoLogin),
            Error::PinIncorrect
        );
        assert_eq!(
            m(CardError::AuthenticationBlocked, CardOp::Login),
            Error::PinLocked
        );
        assert_eq!(
            m(CardError::SecurityStatusNotSatisfied, CardOp::Write),
            Error::UserNotLoggedIn
        );
        assert_eq!(
            m(CardError::NotEnoughMemory, CardOp::KeyGen),
            Error::DeviceMemory
        );
        assert_eq!(
            m(CardError::FunctionNotSupported, CardOp::Sign),
            Error::KeyFunctionNotPermitted
        );
        assert_eq!(
            m(CardError::InternalError, CardOp::Unwrap),
            Error::DeviceError
        );
        assert_eq!(
            m(CardError::CommandNotAllowed, CardOp::InitToken),
            Error::PinIncorrect
        );
        assert_eq!(m(CardError::WrongLength, CardOp::Sign), Error::DataLenRange);
    }

    #[test]
    fn transport_errors() {
        let m = |t| map(&CardError::Transport(t), CardOp::Read);
        assert_eq!(m(TransportError::CardRemoved), Error::DeviceRemoved);
        assert_eq!(m(TransportError::NoService), Error::TokenNotPresent);
        assert_eq!(m(TransportError::Timeout), Error::DeviceError);
        assert!(is_removal(&CardError::Transport(TransportError::NoCard)));
        assert!(!is_removal(&CardError::Transport(
            TransportError::CardReset
        )));
        assert!(!is_removal(&CardError::NotFound));
    }
}
