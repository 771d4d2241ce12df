//! An in-process simulated device (`SCHSM_SIM=DIR`): the `schsm-sim` crate's card, called
//! directly instead of through pcscd and vpcd.
//!
//! The simulator locks its state file for every APDU, so several processes may share a device;
//! a transaction here only tracks nesting, it does not hold that lock between APDUs.

use std::path::{Path, PathBuf};

use super::{Transport, TransportError};

/// A connection to a simulated device directory made by `schsm-sim new`.
pub struct SimTransport {
    card: schsm_sim::Card,
    dir: PathBuf,
    name: String,
    transaction_depth: u32,
}

impl SimTransport {
    /// Opens the device in `dir`.
    pub fn open(dir: &Path) -> Result<Self, TransportError> {
        let card = schsm_sim::Card::open(dir)
            .map_err(|e| TransportError::Simulator(format!("{}: {e}", dir.display())))?;
        Ok(SimTransport {
            card,
            dir: dir.to_path_buf(),
            name: format!("schsm-sim {}", dir.display()),
            transaction_depth: 0,
        })
    }

    /// The device directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Transport for SimTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let response = self.card.transmit(command);
        if response.len() < 2 {
            return Err(TransportError::InvalidResponse(format!(
                "simulator answered {} bytes",
                response.len()
            )));
        }
        Ok(response)
    }

    fn begin_transaction(&mut self) -> Result<(), TransportError> {
        self.transaction_depth += 1;
        Ok(())
    }

    fn end_transaction(&mut self) -> Result<(), TransportError> {
        self.transaction_depth = self.transaction_depth.saturating_sub(1);
        Ok(())
    }

    fn is_card_present(&mut self) -> Result<bool, TransportError> {
        // The device is present as long as its directory is.
        Ok(self.dir.is_dir())
    }

    fn atr(&mut self) -> Result<Vec<u8>, TransportError> {
        Ok(self.card.atr())
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        self.card.reset();
        Ok(())
    }
}

impl std::fmt::Debug for SimTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimTransport({})", self.dir.display())
    }
}
