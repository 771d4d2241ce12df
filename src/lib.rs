//! schsm-pkcs11: a PKCS#11 provider for the CardContact SmartCard-HSM and the Nitrokey HSM 1/2.
//!
//! Data flows one way: [`ffi`] (the C ABI) → [`token`] (the PKCS#11 model) → [`card`] (the
//! SmartCard-HSM command set) → [`transport`] (moving APDU bytes). Nothing lower imports anything
//! higher.

pub mod card;
pub mod config;
pub mod ffi;
pub mod token;
pub mod transport;
pub mod vendor;
