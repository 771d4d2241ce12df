//! `card::Error`: every status word the SmartCard-HSM uses (PROTOCOL.md §10.1) as a variant,
//! plus transport failures and problems with data the host decodes (files, blobs, shares).
//!
//! The variants say what the card said, not what PKCS#11 should make of it: the same SW means
//! different things in different commands (6A80 is a bad PIN length in VERIFY and a foreign DKEK
//! in UNWRAP), so the token layer, which knows the operation, picks the CKR_ value.

use std::fmt;

use crate::transport::TransportError;

pub type Result<T> = std::result::Result<T, Error>;

/// Errors of the card layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The reader, the connection or the simulated device failed; no status word.
    Transport(TransportError),

    // ---- status words (§10.1) ----
    /// 6282: end of file reached before Le bytes (READ BINARY; data was returned).
    EndOfFile,
    /// 63Cx: PIN / SO-PIN wrong or not verified; `tries_left` = x.
    PinIncorrect { tries_left: u8 },
    /// 6700: wrong Lc/Le.
    WrongLength,
    /// 6982: security status not satisfied (PIN not verified, PKA missing, protected file).
    SecurityStatusNotSatisfied,
    /// 6983: PIN or authentication method blocked.
    AuthenticationBlocked,
    /// 6984: reference data not usable: transport PIN (VERIFY), key use counter exhausted
    /// (SIGN/DECIPHER), device not initialized (fw 1.x).
    ReferenceDataNotUsable,
    /// 6985: conditions of use not satisfied (e.g. algorithm not allowed for the key).
    ConditionsNotSatisfied,
    /// 6986: command not allowed (e.g. RESET RETRY COUNTER disabled).
    CommandNotAllowed,
    /// 6A80: incorrect data (PIN length, blob KCV/MAC mismatch, bad cryptogram, key parameters).
    IncorrectData,
    /// 6A81: function not supported for this key.
    FunctionNotSupported,
    /// 6A82: file or key not found.
    NotFound,
    /// 6A84: not enough memory on the card.
    NotEnoughMemory,
    /// 6A86: incorrect P1/P2 (unknown algorithm id, key domain out of range).
    IncorrectP1P2,
    /// 6A88: referenced data not found (device not initialized, no DKEK, unknown key).
    ReferencedDataNotFound,
    /// 6A89: object already exists.
    AlreadyExists,
    /// 6B00: wrong parameters P1/P2 (offset beyond the end of a file).
    WrongParameters,
    /// 6D00: instruction not supported (old firmware; no DKEK on old firmware).
    InsNotSupported,
    /// 6E00: class not supported.
    ClaNotSupported,
    /// 6F00: internal error without diagnosis (firmware 3.1 bug #168 in UNWRAP).
    InternalError,
    /// Any other status word.
    UnknownStatus(u16),

    // ---- host-side ----
    /// Data from the card or from a file does not have the expected structure.
    Malformed(String),
    /// A key blob's CMAC does not verify under this DKEK (tampered or foreign).
    BlobMacMismatch,
    /// A key blob was made under a DKEK with a different key check value.
    KcvMismatch { expected: [u8; 8], found: [u8; 8] },
    /// A DKEK share file does not decrypt with this password (bad padding).
    WrongPassword,
    /// The caller asked for something this layer or this firmware cannot do.
    Unsupported(String),
    /// A caller-supplied argument is out of range (PIN length, key id, sizes).
    InvalidArgument(String),
}

impl Error {
    /// The error for a status word; `None` for 9000.
    pub fn from_sw(sw: u16) -> Option<Error> {
        Some(match sw {
            0x9000 => return None,
            0x6282 => Error::EndOfFile,
            0x63C0..=0x63CF => Error::PinIncorrect {
                tries_left: (sw & 0x0F) as u8,
            },
            0x6700 => Error::WrongLength,
            0x6982 => Error::SecurityStatusNotSatisfied,
            0x6983 => Error::AuthenticationBlocked,
            0x6984 => Error::ReferenceDataNotUsable,
            0x6985 => Error::ConditionsNotSatisfied,
            0x6986 => Error::CommandNotAllowed,
            0x6A80 => Error::IncorrectData,
            0x6A81 => Error::FunctionNotSupported,
            0x6A82 => Error::NotFound,
            0x6A84 => Error::NotEnoughMemory,
            0x6A86 => Error::IncorrectP1P2,
            0x6A88 => Error::ReferencedDataNotFound,
            0x6A89 => Error::AlreadyExists,
            0x6B00 => Error::WrongParameters,
            0x6D00 => Error::InsNotSupported,
            0x6E00 => Error::ClaNotSupported,
            0x6F00 => Error::InternalError,
            other => Error::UnknownStatus(other),
        })
    }

    /// The status word behind this error, if it came from the card.
    pub fn sw(&self) -> Option<u16> {
        Some(match self {
            Error::EndOfFile => 0x6282,
            Error::PinIncorrect { tries_left } => 0x63C0 | u16::from(*tries_left & 0x0F),
            Error::WrongLength => 0x6700,
            Error::SecurityStatusNotSatisfied => 0x6982,
            Error::AuthenticationBlocked => 0x6983,
            Error::ReferenceDataNotUsable => 0x6984,
            Error::ConditionsNotSatisfied => 0x6985,
            Error::CommandNotAllowed => 0x6986,
            Error::IncorrectData => 0x6A80,
            Error::FunctionNotSupported => 0x6A81,
            Error::NotFound => 0x6A82,
            Error::NotEnoughMemory => 0x6A84,
            Error::IncorrectP1P2 => 0x6A86,
            Error::ReferencedDataNotFound => 0x6A88,
            Error::AlreadyExists => 0x6A89,
            Error::WrongParameters => 0x6B00,
            Error::InsNotSupported => 0x6D00,
            Error::ClaNotSupported => 0x6E00,
            Error::InternalError => 0x6F00,
            Error::UnknownStatus(sw) => *sw,
            _ => return None,
        })
    }

    pub(crate) fn malformed(what: impl Into<String>) -> Error {
        Error::Malformed(what.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::Transport(e) => return write!(f, "transport: {e}"),
            Error::PinIncorrect { tries_left } => {
                return write!(
                    f,
                    "PIN incorrect, {tries_left} tries left (SW 63C{tries_left:X})"
                )
            }
            Error::UnknownStatus(sw) => return write!(f, "card returned status {sw:04X}"),
            Error::Malformed(what) => return write!(f, "malformed data: {what}"),
            Error::KcvMismatch { expected, found } => {
                return write!(
                    f,
                    "key blob was made under DKEK with KCV {} but this DKEK has KCV {}",
                    hex(found),
                    hex(expected)
                )
            }
            Error::Unsupported(what) => return write!(f, "not supported: {what}"),
            Error::InvalidArgument(what) => return write!(f, "invalid argument: {what}"),
            Error::BlobMacMismatch => "key blob MAC does not verify (tampered, or another DKEK)",
            Error::WrongPassword => "DKEK share file does not decrypt (wrong password?)",
            Error::EndOfFile => "end of file reached",
            Error::WrongLength => "wrong length",
            Error::SecurityStatusNotSatisfied => "security status not satisfied (not logged in?)",
            Error::AuthenticationBlocked => "PIN blocked",
            Error::ReferenceDataNotUsable => {
                "reference data not usable (transport PIN, or key use counter exhausted)"
            }
            Error::ConditionsNotSatisfied => "conditions of use not satisfied",
            Error::CommandNotAllowed => "command not allowed",
            Error::IncorrectData => "incorrect data",
            Error::FunctionNotSupported => "function not supported for this key",
            Error::NotFound => "file or key not found",
            Error::NotEnoughMemory => "not enough memory on the card",
            Error::IncorrectP1P2 => "incorrect parameters P1/P2",
            Error::ReferencedDataNotFound => "referenced data not found",
            Error::AlreadyExists => "object already exists",
            Error::WrongParameters => "wrong parameters (offset beyond end of file?)",
            Error::InsNotSupported => "instruction not supported",
            Error::ClaNotSupported => "class not supported",
            Error::InternalError => "internal card error (SW 6F00)",
        };
        match self.sw() {
            Some(sw) => write!(f, "{text} (SW {sw:04X})"),
            None => f.write_str(text),
        }
    }
}

impl std::error::Error for Error {}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_word_of_10_1_round_trips() {
        let sws = [
            0x6282, 0x63C0, 0x63C3, 0x63CF, 0x6700, 0x6982, 0x6983, 0x6984, 0x6985, 0x6986, 0x6A80,
            0x6A81, 0x6A82, 0x6A84, 0x6A86, 0x6A88, 0x6A89, 0x6B00, 0x6D00, 0x6E00, 0x6F00, 0x6400,
            0x6581,
        ];
        for sw in sws {
            let e = Error::from_sw(sw).unwrap();
            assert_eq!(e.sw(), Some(sw), "{e:?}");
            assert!(e.to_string().contains(&format!("{sw:04X}")), "{e}");
        }
        assert_eq!(Error::from_sw(0x9000), None);
    }

    #[test]
    fn named_mappings() {
        assert_eq!(
            Error::from_sw(0x63C2),
            Some(Error::PinIncorrect { tries_left: 2 })
        );
        assert_eq!(Error::from_sw(0x6A82), Some(Error::NotFound));
        assert_eq!(Error::from_sw(0x6F00), Some(Error::InternalError));
        assert_eq!(Error::from_sw(0x6A88), Some(Error::ReferencedDataNotFound));
        assert_eq!(Error::from_sw(0x6400), Some(Error::UnknownStatus(0x6400)));
    }
}
