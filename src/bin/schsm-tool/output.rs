//! What the user reads: the failure type with its message and exit code, card errors in
//! words, hex, algorithm ids by name.

use std::fmt;

use schsm_pkcs11::card;
use schsm_pkcs11::transport::TransportError;

/// Why a command failed: a message for stderr and the exit code (1 = failure, 2 = usage).
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Outcome<T = ()> = Result<T, Failure>;

/// Adds what was being done to a card error: `.doing("verify the user PIN")?`.
pub trait Doing<T> {
    fn doing(self, what: &str) -> Outcome<T>;
}

impl<T> Doing<T> for Result<T, card::Error> {
    fn doing(self, what: &str) -> Outcome<T> {
        self.map_err(|e| Failure::new(format!("cannot {what}: {}", explain(&e))))
    }
}

impl<T> Doing<T> for std::io::Result<T> {
    fn doing(self, what: &str) -> Outcome<T> {
        self.map_err(|e| Failure::new(format!("cannot {what}: {e}")))
    }
}

/// A card error in words a user can act on.
pub fn explain(e: &card::Error) -> String {
    use card::Error as E;
    match e {
        E::PinIncorrect { tries_left: 0 } => "wrong PIN; it is now blocked".into(),
        E::PinIncorrect { tries_left } => format!("wrong PIN ({tries_left} tries left)"),
        E::AuthenticationBlocked => "the PIN is blocked (the SO can unblock it)".into(),
        E::SecurityStatusNotSatisfied => "the device wants the PIN first".into(),
        E::ReferenceDataNotUsable => {
            "the PIN is a transport PIN (change it first) or the key's use counter is exhausted"
                .into()
        }
        E::ReferencedDataNotFound => {
            "the device is not initialized, or has no DKEK, or no such key".into()
        }
        E::NotFound => "no such key or file".into(),
        E::NotEnoughMemory => "the device's memory is full".into(),
        E::InsNotSupported => "this firmware does not have the command".into(),
        E::IncorrectData => "the device refused the data (wrong DKEK, bad length or key)".into(),
        E::ConditionsNotSatisfied | E::CommandNotAllowed => {
            "the device does not allow this (key not exportable, option disabled, or \
             wrong SO-PIN)"
                .into()
        }
        E::InternalError => "the device failed (SW 6F00)".into(),
        E::WrongPassword => "wrong password".into(),
        E::KcvMismatch { expected, found } => format!(
            "made under another DKEK (KCV {}, expected {})",
            hex(found),
            hex(expected)
        ),
        E::BlobMacMismatch => "the key blob is damaged or not made with this DKEK".into(),
        E::Transport(TransportError::NoService) => {
            "the PC/SC service is not running (start pcscd, or use --sim DIR)".into()
        }
        E::Transport(TransportError::NoCard) => "no card in the reader".into(),
        E::Transport(t) => t.to_string(),
        other => other.to_string(),
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if t.len() % 2 != 0 {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok())
        .collect()
}

/// The name of a card algorithm id (PROTOCOL.md §4.14–4.19).
pub fn algorithm_name(id: u8) -> String {
    let hash = |base: u8| ["SHA1", "SHA224", "SHA256", "SHA384", "SHA512"][usize::from(id - base)];
    match id {
        0x10 => "AES-CBC-ENC".into(),
        0x11 => "AES-CBC-DEC".into(),
        0x18 => "AES-CMAC".into(),
        0x20 => "RSA-RAW".into(),
        0x21 => "RSA-DECRYPT".into(),
        0x22 => "RSA-DECRYPT-V15".into(),
        0x23 => "RSA-DECRYPT-OAEP".into(),
        0x30 => "RSA-V15-DI".into(),
        0x31..=0x35 => format!("RSA-V15-{}", hash(0x31)),
        0x40 => "RSA-PSS".into(),
        0x41..=0x45 => format!("RSA-PSS-{}", hash(0x41)),
        0x70 => "ECDSA".into(),
        0x71..=0x75 => format!("ECDSA-{}", hash(0x71)),
        0x80 => "ECDH".into(),
        0x83 => "ECDH-AUTPUK".into(),
        0x84 => "ECDH-XKEK".into(),
        0x92 => "WRAP".into(),
        0x93 => "UNWRAP".into(),
        0x98 => "EC-DERIVE".into(),
        0x99 => "AES-DERIVE".into(),
        other => format!("{other:02X}"),
    }
}

/// A list of algorithm ids for a table; "any" when unrestricted.
pub fn algorithm_list(ids: Option<&[u8]>) -> String {
    match ids {
        None | Some([]) => "any".into(),
        Some(ids) => ids
            .iter()
            .map(|&i| algorithm_name(i))
            .collect::<Vec<_>>()
            .join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_hex() {
        assert_eq!(algorithm_name(0x73), "ECDSA-SHA256");
        assert_eq!(algorithm_name(0x92), "WRAP");
        assert_eq!(algorithm_list(Some(&[0x31, 0x92])), "RSA-V15-SHA1,WRAP");
        assert_eq!(algorithm_list(None), "any");
        assert_eq!(parse_hex("01:ab CD"), Some(vec![1, 0xAB, 0xCD]));
        assert_eq!(parse_hex("1"), None);
        let f = card::Error::PinIncorrect { tries_left: 2 };
        assert!(explain(&f).contains("2 tries"));
    }
}
