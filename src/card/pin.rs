//! PIN commands and device initialization: VERIFY (and its status form), CHANGE REFERENCE
//! DATA, RESET RETRY COUNTER, INITIALIZE DEVICE (PROTOCOL.md §3.1, §4.2–4.5).

use super::apdu::Command;
use super::device::Device;
use super::error::{Error, Result};
use super::secret::{SecretArray, SecretBytes};
use super::tlv;

/// PIN references.
pub const USER_PIN: u8 = 0x81;
pub const SO_PIN: u8 = 0x88;

/// The 8-byte SO-PIN ("initialization code"), which hosts take as 16 hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct SoPin(SecretArray<8>);

impl SoPin {
    pub fn new(bytes: [u8; 8]) -> Self {
        SoPin(SecretArray::new(bytes))
    }

    /// From 16 hex digits (e.g. the factory default "3537363231383830").
    pub fn from_hex(text: &str) -> Result<Self> {
        let t = text.trim().as_bytes();
        if t.len() != 16 {
            return Err(Error::InvalidArgument(
                "SO-PIN must be 16 hexadecimal digits".into(),
            ));
        }
        let mut b = [0u8; 8];
        for (i, pair) in t.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16);
            let lo = (pair[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(h), Some(l)) => b[i] = (h * 16 + l) as u8,
                _ => {
                    return Err(Error::InvalidArgument(
                        "SO-PIN must be 16 hexadecimal digits".into(),
                    ))
                }
            }
        }
        let pin = SoPin::new(b);
        zeroize::Zeroize::zeroize(&mut b);
        Ok(pin)
    }

    pub fn expose(&self) -> &[u8; 8] {
        self.0.expose()
    }
}

impl std::fmt::Debug for SoPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SoPin(<masked>)")
    }
}

/// What VERIFY without data says about a PIN (§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinStatus {
    /// Verified in this session (9000).
    Verified,
    /// Not verified; this many tries left (63Cx).
    NotVerified { tries_left: u8 },
    /// Blocked (6983).
    Blocked,
    /// Transport PIN: must be changed before use (6984, fw ≥ 2.0).
    TransportPin,
    /// The device has not been initialized (6A88; 6984 on fw 1.x).
    NotInitialized,
}

/// Parameters of INITIALIZE DEVICE (§4.5).
#[derive(Debug, Clone)]
pub struct InitParams {
    /// Device options (tag 80); OpenSC and sc-hsm-tool use 0x0001 (RESET RETRY COUNTER on).
    pub options: u16,
    /// Initial user PIN, 6..=16 bytes (tag 81).
    pub user_pin: SecretBytes,
    /// The SO-PIN (tag 82): the current one for a re-initialization, any 8 bytes on a blank
    /// device.
    pub so_pin: SoPin,
    /// User PIN retry counter, 1..=15 (tag 91).
    pub retry_counter: u8,
    /// Number of DKEK shares (tag 92): `None` = no DKEK (no wrap/unwrap), `Some(0)` = random
    /// DKEK, `Some(n)` = n shares to import.
    pub dkek_shares: Option<u8>,
    /// Number of key domains (tag 97, fw ≥ 3.0).
    pub key_domains: Option<u8>,
    /// Public key authentication: (total keys, required for authentication) (tag 93).
    pub public_key_auth: Option<(u8, u8)>,
}

impl InitParams {
    /// sc-hsm-tool's defaults: options 0001, retry counter 3, no DKEK.
    pub fn new(so_pin: SoPin, user_pin: &[u8]) -> Self {
        InitParams {
            options: 0x0001,
            user_pin: SecretBytes::from_slice(user_pin),
            so_pin,
            retry_counter: 3,
            dkek_shares: None,
            key_domains: None,
            public_key_auth: None,
        }
    }

    /// The command data (TLVs 80, 81, 82, 91, 92, 93, 97).
    pub fn encode(&self) -> Result<SecretBytes> {
        check_pin_len(self.user_pin.expose())?;
        if !(1..=15).contains(&self.retry_counter) {
            return Err(Error::InvalidArgument("retry counter must be 1..15".into()));
        }
        // Room for every TLV at once (at most 45 bytes): a growing vector would free its old
        // buffer, with the PINs in it, unwiped.
        let mut d = Vec::with_capacity(64);
        tlv::write(&mut d, 0x80, &self.options.to_be_bytes());
        tlv::write(&mut d, 0x81, self.user_pin.expose());
        tlv::write(&mut d, 0x82, self.so_pin.expose());
        tlv::write(&mut d, 0x91, &[self.retry_counter]);
        if let Some(n) = self.dkek_shares {
            tlv::write(&mut d, 0x92, &[n]);
        }
        if let Some((total, required)) = self.public_key_auth {
            tlv::write(&mut d, 0x93, &[total, required]);
        }
        if let Some(n) = self.key_domains {
            tlv::write(&mut d, 0x97, &[n]);
        }
        Ok(SecretBytes::new(d))
    }
}

fn check_pin_len(pin: &[u8]) -> Result<()> {
    if (6..=16).contains(&pin.len()) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "PIN must have 6 to 16 characters, not {}",
            pin.len()
        )))
    }
}

impl Device {
    /// The user PIN's state (VERIFY `00 20 00 81` without data).
    pub fn pin_status(&mut self) -> Result<PinStatus> {
        self.reference_status(USER_PIN)
    }

    /// The SO-PIN's state (VERIFY `00 20 00 88` without data).
    pub fn so_pin_status(&mut self) -> Result<PinStatus> {
        self.reference_status(SO_PIN)
    }

    fn reference_status(&mut self, reference: u8) -> Result<PinStatus> {
        let r = self.transmit(&Command::new(0x00, 0x20, 0x00, reference))?;
        Ok(match r.sw {
            0x9000 => PinStatus::Verified,
            0x63C0..=0x63CF => PinStatus::NotVerified {
                tries_left: (r.sw & 0x0F) as u8,
            },
            0x6983 => PinStatus::Blocked,
            0x6984 if self.profile().uninitialized_is_6984 => PinStatus::NotInitialized,
            0x6984 => PinStatus::TransportPin,
            0x6A88 => PinStatus::NotInitialized,
            sw => return Err(Error::from_sw(sw).unwrap_or(Error::UnknownStatus(sw))),
        })
    }

    /// VERIFY the user PIN. A wrong PIN is `PinIncorrect { tries_left }`, a blocked one
    /// `AuthenticationBlocked`, a bad length `IncorrectData` (6A80).
    pub fn verify_pin(&mut self, pin: &[u8]) -> Result<()> {
        if pin.is_empty() || pin.len() > 255 {
            return Err(Error::InvalidArgument("empty or overlong PIN".into()));
        }
        let cmd = Command::new(0x00, 0x20, 0x00, USER_PIN)
            .data(pin.to_vec())
            .sensitive();
        let r = self.execute(&cmd).map(|_| ());
        wipe(cmd);
        r
    }

    /// VERIFY the SO-PIN (`00 20 00 88 <8 bytes>`).
    pub fn verify_so_pin(&mut self, so_pin: &SoPin) -> Result<()> {
        let cmd = Command::new(0x00, 0x20, 0x00, SO_PIN)
            .data(so_pin.expose().to_vec())
            .sensitive();
        let r = self.execute(&cmd).map(|_| ());
        wipe(cmd);
        r
    }

    /// CHANGE REFERENCE DATA for the user PIN: `old ‖ new` (the card splits them by the
    /// current PIN's length). Also replaces a transport PIN.
    pub fn change_pin(&mut self, old: &[u8], new: &[u8]) -> Result<()> {
        check_pin_len(new)?;
        let cmd = Command::new(0x00, 0x24, 0x00, USER_PIN)
            .data([old, new].concat())
            .sensitive();
        let r = self.execute(&cmd).map(|_| ());
        wipe(cmd);
        r
    }

    /// CHANGE REFERENCE DATA for the SO-PIN: `old(8) ‖ new(8)`.
    pub fn change_so_pin(&mut self, old: &SoPin, new: &SoPin) -> Result<()> {
        let cmd = Command::new(0x00, 0x24, 0x00, SO_PIN)
            .data([old.expose().as_slice(), new.expose().as_slice()].concat())
            .sensitive();
        let r = self.execute(&cmd).map(|_| ());
        wipe(cmd);
        r
    }

    /// RESET RETRY COUNTER with the SO-PIN in the command: P1=00 sets `new_pin` and resets the
    /// counter, P1=01 (no new PIN) only unblocks. Needs device option 0001.
    pub fn reset_retry_counter(&mut self, so_pin: &SoPin, new_pin: Option<&[u8]>) -> Result<()> {
        if !self.profile().reset_retry_counter {
            return Err(Error::Unsupported(format!(
                "RESET RETRY COUNTER does not exist on firmware {}",
                self.profile().version
            )));
        }
        let (p1, data) = match new_pin {
            Some(pin) => {
                check_pin_len(pin)?;
                (0x00, [so_pin.expose().as_slice(), pin].concat())
            }
            None => (0x01, so_pin.expose().to_vec()),
        };
        let cmd = Command::new(0x00, 0x2C, p1, USER_PIN)
            .data(data)
            .sensitive();
        let r = self.execute(&cmd).map(|_| ());
        wipe(cmd);
        r
    }

    /// INITIALIZE DEVICE (`80 50 00 00`). Erases every key and file except the device key and
    /// its certificate. Afterwards the applet is selected again to refresh the profile.
    pub fn initialize(&mut self, params: &InitParams) -> Result<()> {
        let data = params.encode()?;
        let cmd = Command::new(0x80, 0x50, 0x00, 0x00)
            .data(data.expose().to_vec())
            .sensitive();
        let r = self.execute(&cmd).map(|_| ());
        wipe(cmd);
        r?;
        self.select_applet().map(|_| ())
    }
}

/// Overwrites a command's data (PINs) before it is freed.
fn wipe(mut cmd: Command) {
    zeroize::Zeroize::zeroize(&mut cmd.data);
}

#[cfg(test)]
mod tests {
    use super::super::device::tests::mock_device;
    use super::*;

    #[test]
    fn pin_status_forms() {
        let (mut d, m) = mock_device(3, 5);
        for (sw, st) in [
            ("9000", PinStatus::Verified),
            ("63C3", PinStatus::NotVerified { tries_left: 3 }),
            ("6983", PinStatus::Blocked),
            ("6984", PinStatus::TransportPin),
            ("6A88", PinStatus::NotInitialized),
        ] {
            m.expect_hex("00200081", sw);
            assert_eq!(d.pin_status().unwrap(), st);
        }
        m.expect_hex("00200088", "63CF");
        assert_eq!(
            d.so_pin_status().unwrap(),
            PinStatus::NotVerified { tries_left: 15 }
        );
        m.assert_done();

        let (mut old, m) = mock_device(1, 3);
        m.expect_hex("00200081", "6984");
        assert_eq!(old.pin_status().unwrap(), PinStatus::NotInitialized);
    }

    #[test]
    fn verify_and_change() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("0020008106 363438323139", "9000");
        d.verify_pin(b"648219").unwrap();
        m.expect_hex("0020008106 313131313131", "63C2");
        assert_eq!(
            d.verify_pin(b"111111"),
            Err(Error::PinIncorrect { tries_left: 2 })
        );
        m.expect_hex("002400810C 363438323139 313233343536", "9000");
        d.change_pin(b"648219", b"123456").unwrap();
        let so = SoPin::from_hex("3537363231383830").unwrap();
        m.expect_hex("0020008808 3537363231383830", "9000");
        d.verify_so_pin(&so).unwrap();
        m.expect_hex("002C00810E 3537363231383830 313233343536", "9000");
        d.reset_retry_counter(&so, Some(b"123456")).unwrap();
        m.expect_hex("002C018108 3537363231383830", "9000");
        d.reset_retry_counter(&so, None).unwrap();
        m.assert_done();
        assert!(d.change_pin(b"648219", b"123").is_err());
        assert!(SoPin::from_hex("35373632313838").is_err());
        assert!(SoPin::from_hex("353736323138383Z").is_err());
        assert_eq!(format!("{so:?}"), "SoPin(<masked>)");
    }

    #[test]
    fn initialize_encodes_a2() {
        // §A.2: 80 50 00 00 1C 80 02 00 01 81 06 <PIN> 82 08 <SO> 91 01 03 92 01 02
        let (mut d, m) = mock_device(3, 5);
        let mut p = InitParams::new(SoPin::from_hex("3537363231383830").unwrap(), b"648219");
        p.dkek_shares = Some(2);
        m.expect_hex(
            "805000001C 80020001 8106363438323139 82083537363231383830 910103 920102",
            "9000",
        );
        m.expect_hex(
            super::super::device::tests::SELECT,
            "620785050001000305 9000",
        );
        d.initialize(&p).unwrap();
        m.assert_done();
        p.retry_counter = 0;
        assert!(p.encode().is_err());
    }
}
