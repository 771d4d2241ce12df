//! `Device`: one SmartCard-HSM behind a transport, with its firmware profile.
//!
//! This file holds the plumbing every command uses — sending an APDU, turning the status word
//! into a result, transactions, applet selection. The commands themselves are `impl Device`
//! blocks in pin.rs, files.rs, keys.rs, crypto_ops.rs and dkek.rs.

use super::apdu::{hex, Command, Le, Response};
use super::error::{Error, Result};
use super::firmware::FirmwareProfile;
use crate::transport::{Transport, TransportError};

/// The applet AID: E8 ‖ 2B 06 01 04 01 81 C3 1F 02 01 (OID 1.3.6.1.4.1.24991.2.1).
pub const AID: [u8; 11] = [
    0xE8, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x81, 0xC3, 0x1F, 0x02, 0x01,
];

/// A SmartCard-HSM with the applet selected.
pub struct Device {
    transport: Box<dyn Transport>,
    profile: FirmwareProfile,
    /// Set after an extended-length READ BINARY failed: the reader cannot carry extended
    /// APDUs, so files are read in short chunks from then on.
    pub(crate) short_reads_only: bool,
}

impl Device {
    /// Selects the applet on the card behind `transport` and reads its firmware profile.
    pub fn open(transport: Box<dyn Transport>) -> Result<Device> {
        let mut device = Device {
            transport,
            profile: FirmwareProfile::for_version(super::firmware::FirmwareVersion::new(3, 0)),
            short_reads_only: false,
        };
        device.select_applet()?;
        Ok(device)
    }

    /// The firmware profile from the last applet SELECT.
    pub fn profile(&self) -> &FirmwareProfile {
        &self.profile
    }

    /// The transport's name (reader name or simulator directory).
    pub fn name(&self) -> &str {
        self.transport.name()
    }

    /// The transport, for presence checks and the ATR.
    pub fn transport_mut(&mut self) -> &mut dyn Transport {
        self.transport.as_mut()
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> Box<dyn Transport> {
        self.transport
    }

    /// SELECT the applet (`00 A4 04 04 0B <AID> 00`) and refresh the profile. Selecting again
    /// drops every authentication (user PIN, SO-PIN): this is also "logout".
    pub fn select_applet(&mut self) -> Result<&FirmwareProfile> {
        let cmd = Command::new(0x00, 0xA4, 0x04, 0x04)
            .data(AID.to_vec())
            .le(Le::Max);
        let fcp = self.execute(&cmd)?;
        self.profile = FirmwareProfile::from_select_response(&fcp)?;
        log::debug!(
            "{}: {} (options {:?})",
            self.name(),
            self.profile.applet_name(),
            self.profile.options
        );
        Ok(&self.profile)
    }

    /// Logs out by re-selecting the applet.
    pub fn logout(&mut self) -> Result<()> {
        self.select_applet().map(|_| ())
    }

    /// The largest command APDU this device and reader take.
    pub fn max_apdu_len(&self) -> usize {
        let card = self.profile.max_apdu;
        self.transport.max_apdu_len().map_or(card, |r| r.min(card))
    }

    /// Sends a command and returns the response with whatever status word the card gave.
    ///
    /// A card reset observed here (another process reset the card) re-selects the applet, so
    /// that the device is usable again, and still reports `CardReset`: verified PINs are gone
    /// and the caller must know.
    pub fn transmit(&mut self, cmd: &Command) -> Result<Response> {
        let mut bytes = cmd.encode()?;
        log::trace!("{} > {}", self.transport.name(), cmd.log_line());
        let sent = self.transport.transmit(&bytes);
        if cmd.sensitive {
            zeroize::Zeroize::zeroize(&mut bytes);
        }
        let raw = match sent {
            Ok(raw) => raw,
            Err(TransportError::CardReset) => {
                self.reselect_after_reset();
                return Err(Error::Transport(TransportError::CardReset));
            }
            Err(e) => return Err(Error::Transport(e)),
        };
        let response = Response::parse(raw)?;
        if cmd.sensitive {
            log::trace!(
                "{} < [{} bytes masked] {:04X}",
                self.transport.name(),
                response.data.len(),
                response.sw
            );
        } else {
            log::trace!(
                "{} < {} {:04X}",
                self.transport.name(),
                hex(&response.data),
                response.sw
            );
        }
        Ok(response)
    }

    /// Sends a command; SW 9000 gives the data, any other SW the matching `Error`.
    pub fn execute(&mut self, cmd: &Command) -> Result<Vec<u8>> {
        self.transmit(cmd)?.into_result()
    }

    fn reselect_after_reset(&mut self) {
        let cmd = Command::new(0x00, 0xA4, 0x04, 0x04)
            .data(AID.to_vec())
            .le(Le::Max);
        let ok = cmd
            .encode()
            .ok()
            .and_then(|b| self.transport.transmit(&b).ok())
            .and_then(|raw| Response::parse(raw).ok())
            .and_then(|r| r.into_result().ok())
            .and_then(|fcp| FirmwareProfile::from_select_response(&fcp).ok());
        match ok {
            Some(p) => self.profile = p,
            None => log::warn!(
                "{}: re-selecting the applet after a reset failed",
                self.name()
            ),
        }
    }

    /// Starts exclusive access to the card (nests).
    pub fn begin_transaction(&mut self) -> Result<()> {
        self.transport.begin_transaction().map_err(Error::Transport)
    }

    /// Ends the matching `begin_transaction`.
    pub fn end_transaction(&mut self) -> Result<()> {
        self.transport.end_transaction().map_err(Error::Transport)
    }

    /// Runs `f` inside a transaction, so that no other process interleaves APDUs (e.g. between
    /// writing EF 2F10 and UNWRAP KEY, or between VERIFY and SIGN).
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Device) -> Result<T>) -> Result<T> {
        self.begin_transaction()?;
        let result = f(self);
        let end = self.end_transaction();
        let value = result?;
        end?;
        Ok(value)
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("transport", &self.transport.name())
            .field("version", &self.profile.version)
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::transport::mock::MockTransport;

    pub const SELECT: &str = "00A404040BE82B0601040181C31F020100";

    /// A device on a mock transport that has answered SELECT with firmware `major.minor`.
    pub fn mock_device(major: u8, minor: u8) -> (Device, MockTransport) {
        let m = MockTransport::new();
        m.expect_hex(
            SELECT,
            &format!("620785050001 00 {major:02X}{minor:02X} 9000"),
        );
        let d = Device::open(Box::new(m.clone())).unwrap();
        (d, m)
    }

    #[test]
    fn open_selects_and_reads_profile() {
        let (d, m) = mock_device(3, 1);
        assert_eq!(d.profile().version.to_string(), "3.1");
        assert!(d.profile().bug_168_unwrap_restricted);
        assert_eq!(d.max_apdu_len(), 1232);
        m.assert_done();
    }

    #[test]
    fn status_words_become_errors() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("00E40200022F03", "6A82");
        let r = d.execute(&Command::new(0, 0xE4, 2, 0).data(vec![0x2F, 0x03]));
        assert_eq!(r, Err(Error::NotFound));
        m.assert_done();
    }

    #[test]
    fn card_reset_reselects_and_reports() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_error(&[0, 0x84, 0, 0, 8], TransportError::CardReset);
        m.expect_hex(SELECT, "620785050001000305 9000");
        let r = d.execute(&Command::new(0, 0x84, 0, 0).le(Le::Exactly(8)));
        assert_eq!(r, Err(Error::Transport(TransportError::CardReset)));
        m.assert_done();
    }

    #[test]
    fn transactions_are_balanced_even_on_error() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("0084000008", "6D00");
        let r: Result<Vec<u8>> =
            d.transaction(|d| d.execute(&Command::new(0, 0x84, 0, 0).le(Le::Exactly(8))));
        assert_eq!(r, Err(Error::InsNotSupported));
        m.assert_done();
    }
}
