//! The SmartCard-HSM: APDUs, status words, the command set, files, PKCS#15 descriptions, CV
//! requests, the DKEK key blob and share files, and the firmware profile.
//!
//! [`Device`] is one card behind a [`crate::transport::Transport`]; its commands are spread
//! over pin.rs, files.rs, keys.rs, crypto_ops.rs and dkek.rs. Everything else here is pure
//! data: encoders and decoders that never touch the card and never panic on bad input.

pub mod algorithm;
pub mod apdu;
pub mod blob;
pub mod cd_dcod;
mod crypto;
pub mod crypto_ops;
pub mod curves;
pub mod cvc;
pub mod device;
pub mod dkek;
pub mod error;
pub mod fid;
pub mod files;
pub mod firmware;
pub mod keys;
pub mod pin;
pub mod pkcs15;
pub mod private_key;
pub mod prkd;
pub mod secret;
pub mod shamir;
pub mod share_file;
pub mod tlv;
pub mod wrapped_file;

#[cfg(test)]
mod vector_tests;

pub use self::algorithm::{CipherAlgorithm, Hash, SignAlgorithm};
pub use self::device::Device;
pub use self::dkek::{Dkek, DkekShare, DkekStatus};
pub use self::error::{Error, Result};
pub use self::fid::Fid;
pub use self::firmware::{FirmwareProfile, FirmwareVersion};
pub use self::pin::{InitParams, PinStatus, SoPin};
pub use self::secret::SecretBytes;
