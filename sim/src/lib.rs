//! schsm-sim: a simulated CardContact SmartCard-HSM (Nitrokey HSM 1/2).
//!
//! The device lives in a directory made by [`create`] (`schsm-sim new`). A [`Card`] is one
//! connection to it: it holds the per-connection state (selected applet and EF, verified PINs) and
//! answers command APDUs. Every APDU locks the device's state file, reloads it if another process
//! changed it, and writes it back atomically when the command changed anything, so several
//! processes (an in-process module, `schsm-sim serve`, `schsm-sim stat`) can share one device.
//!
//! The simulator shares no card logic with the module's `card/` layer on purpose: the two sides
//! must be able to disagree, or the tests prove nothing.

pub mod apdu;
pub mod crypto;
pub mod keys;
pub mod state;
// Owned by the core: dispatcher, command groups, profiles, persistence, vpcd front end.
mod apdulog;
mod card;
mod device;
mod dkek;
mod error;
/// Fault injection (`serve --fault`, SCHSM_SIM_FAULT): a card misbehaving on purpose.
pub mod fault;
mod files;
mod init;
mod keygen;
mod keyops;
mod pin;
pub mod profile;
mod select;
pub mod serve;
pub mod tlv;
mod wrap;

#[cfg(test)]
mod testutil;

pub use card::Card;
pub use device::{create, stat, InitOptions, NewOptions};
pub use error::SimError;
pub use select::AID;
