//! INITIALIZE DEVICE (`80 50 00 00`, PROTOCOL.md §4.5) and the initialisation it performs, which
//! `schsm-sim new --init` shares.
//!
//! SW choice for a wrong SO-PIN on a device initialised before: `6985`, after counting the failed
//! try (`6983` once blocked). CardContact's own OpenSC driver turns SC_ERROR_NOT_ALLOWED from
//! INITIALIZE (6900/6985/6986) into "wrong PIN", which says the real card answers a NOT_ALLOWED
//! class SW here rather than 63Cx or 6982. The remaining tries show in `00 20 00 88`.

use crate::apdu::{self, Command, Response};
use crate::card::{CmdResult, Ctx};
use crate::crypto;
use crate::pin::{self, PIN_LEN, SO_PIN_LEN};
use crate::state::{DeviceState, Domain, SoPin, UserPin, SO_PIN_TRIES};
use crate::tlv;

/// EF.C_DevAut, the factory device certificate chain (survives re-initialisation).
pub const EF_DEVAUT: u16 = 0x2F02;
pub const MAX_KEY_DOMAINS: u8 = 32;
pub const MAX_PIN_TRIES: u8 = 15;

/// The content of an INITIALIZE DEVICE command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitParams {
    pub options: u16,
    pub pin: Vec<u8>,
    pub so_pin: Vec<u8>,
    pub retry: u8,
    /// `None`: no DKEK; `Some(0)`: random DKEK; `Some(n)`: n shares to import.
    pub dkek_shares: Option<u8>,
    pub key_domains: u8,
}

impl InitParams {
    /// Checks the values a host may get wrong (`6A80` over the wire).
    pub fn validate(&self) -> Result<(), &'static str> {
        if !PIN_LEN.contains(&self.pin.len()) {
            return Err("the user PIN must have 6 to 16 characters");
        }
        if self.so_pin.len() != SO_PIN_LEN {
            return Err("the SO-PIN must be 8 bytes (16 hex digits)");
        }
        if !(1..=MAX_PIN_TRIES).contains(&self.retry) {
            return Err("the PIN retry counter must be 1 to 15");
        }
        if !(1..=MAX_KEY_DOMAINS).contains(&self.key_domains) {
            return Err("the number of key domains must be 1 to 32");
        }
        Ok(())
    }
}

fn parse(data: &[u8], ctx: &Ctx) -> Result<InitParams, u16> {
    let tlvs = tlv::parse_all(data).map_err(|_| apdu::SW_WRONG_DATA)?;
    let one_byte = |tag| match tlv::find(&tlvs, tag) {
        None => Ok(None),
        Some([b]) => Ok(Some(*b)),
        Some(_) => Err(apdu::SW_WRONG_DATA),
    };
    let options = match tlv::find(&tlvs, 0x80) {
        None => 0,
        Some([hi, lo]) => u16::from_be_bytes([*hi, *lo]),
        Some(_) => return Err(apdu::SW_WRONG_DATA),
    };
    if tlv::find(&tlvs, 0x93).is_some() {
        // Public key authentication is not simulated; accepting it would promise a protection
        // the device does not enforce.
        return Err(apdu::SW_WRONG_DATA);
    }
    let key_domains = if ctx.profile.key_domains {
        one_byte(0x97)?.unwrap_or(1)
    } else {
        1
    };
    let params = InitParams {
        options,
        pin: tlv::find(&tlvs, 0x81).ok_or(apdu::SW_WRONG_DATA)?.to_vec(),
        so_pin: tlv::find(&tlvs, 0x82).ok_or(apdu::SW_WRONG_DATA)?.to_vec(),
        retry: one_byte(0x91)?.unwrap_or(3),
        dkek_shares: one_byte(0x92)?,
        key_domains,
    };
    params.validate().map_err(|_| apdu::SW_WRONG_DATA)?;
    Ok(params)
}

pub fn initialize(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if cmd.p1 != 0x00 || cmd.p2 != 0x00 {
        return Err(apdu::SW_WRONG_P1P2);
    }
    if cmd.data.is_empty() {
        return Err(apdu::SW_WRONG_LENGTH);
    }
    let params = parse(&cmd.data, ctx)?;
    if ctx.state().so_pin.is_some() {
        match pin::check_so_pin(ctx, &params.so_pin) {
            Ok(()) => {}
            Err(apdu::SW_AUTH_BLOCKED) => return Err(apdu::SW_AUTH_BLOCKED),
            Err(_) => return Err(apdu::SW_CONDITIONS),
        }
    }
    apply(ctx.state_mut(), &params);
    ctx.session.current_ef = None;
    ctx.session.user_epoch = None;
    ctx.session.so_epoch = None;
    Ok(Response::ok(Vec::new()))
}

/// Initialises (or re-initialises) the device: every key and file goes except the factory
/// ones (CC00 is kept apart, EF 2F02 stays); PINs, options and the DKEK set-up are replaced.
pub fn apply(state: &mut DeviceState, p: &InitParams) {
    state.keys.clear();
    state.files.retain(|f| f.fid == EF_DEVAUT);
    state.options = p.options;
    state.user_pin = Some(UserPin {
        value: p.pin.clone(),
        max_tries: p.retry,
        tries_left: p.retry,
        transport: p.options & pin::OPT_TRANSPORT_PIN != 0,
    });
    state.so_pin = Some(SoPin {
        value: p.so_pin.clone(),
        tries_left: SO_PIN_TRIES,
    });
    state.pin_epoch += 1;
    state.so_epoch += 1;
    state.domains = (0..p.key_domains.max(1)).map(|_| Domain::none()).collect();
    state.domains[0] = match p.dkek_shares {
        None => Domain::none(),
        // "Randomly generated DKEK": usable at once, but no one else can ever have it.
        Some(0) => Domain {
            shares: Some(0),
            outstanding: 0,
            dkek: crypto::random_bytes(32),
        },
        Some(n) => Domain {
            shares: Some(n),
            outstanding: n,
            dkek: vec![0; 32],
        },
    };
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;

    fn init_data(so: &[u8; 8], shares: Option<u8>) -> Vec<u8> {
        let mut d = vec![0x80, 0x02, 0x00, 0x01, 0x81, 0x06];
        d.extend_from_slice(PIN);
        d.extend([0x82, 0x08]);
        d.extend_from_slice(so);
        d.extend([0x91, 0x01, 0x05]);
        if let Some(n) = shares {
            d.extend([0x92, 0x01, n]);
        }
        d
    }

    fn enumerate(card: &mut crate::Card) -> Vec<u8> {
        let (list, sw) = tx(card, &[0x80, 0x58, 0x00, 0x00, 0x00, 0x00, 0x00]);
        assert_eq!(sw, OK);
        list
    }

    #[test]
    fn reinitialise_wipes_keys_files_and_dkek() {
        let (_d, mut card) = device("3.5", true, Some(1));
        login(&mut card);
        generate(&mut card, 1, gakp_ec_body("secp256r1"), &[]);
        let write = apdu(
            0x00,
            0xD7,
            0xC4,
            0x01,
            &[0x54, 0x02, 0x00, 0x00, 0x53, 0x01, 0xAA],
            None,
        );
        assert_eq!(sw(&mut card, &write), OK);
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x80, 0x52, 0x00, 0x00, &[7; 32], Some(256))
            ),
            OK
        );
        assert_eq!(
            enumerate(&mut card),
            vec![0x2F, 0x02, 0xCE, 0x01, 0xC4, 0x01, 0xCC, 0x00, 0xCC, 0x01]
        );

        let init = apdu(0x80, 0x50, 0x00, 0x00, &init_data(&SO_PIN, Some(2)), None);
        assert_eq!(sw(&mut card, &init), OK);
        assert_eq!(enumerate(&mut card), vec![0x2F, 0x02, 0xCC, 0x00]);
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x81]),
            0x63C5,
            "logged out, retry 5"
        );
        let (status, sw2) = tx(&mut card, &[0x80, 0x52, 0x00, 0x00, 0x00]);
        assert_eq!(
            (sw2, status[..2].to_vec()),
            (OK, vec![2, 2]),
            "DKEK reset to 2 shares"
        );
    }

    #[test]
    fn wrong_so_pin_is_refused_and_counted() {
        let (_d, mut card) = device("3.5", true, None);
        select_applet(&mut card);
        let wrong = apdu(0x80, 0x50, 0x00, 0x00, &init_data(&[9; 8], None), None);
        assert_eq!(sw(&mut card, &wrong), 0x6985);
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x88]), 0x63CE);
        for _ in 0..14 {
            assert_eq!(sw(&mut card, &wrong), 0x6985);
        }
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x88]), 0x6983);
        let right = apdu(0x80, 0x50, 0x00, 0x00, &init_data(&SO_PIN, None), None);
        assert_eq!(sw(&mut card, &right), 0x6983, "SO-PIN blocked");
    }

    #[test]
    fn blank_device_takes_any_so_pin_and_checks_tlvs() {
        let (_d, mut card) = device("3.1", false, None);
        select_applet(&mut card);
        assert_eq!(sw(&mut card, &[0x80, 0x50, 0x00, 0x00]), 0x6700);
        let mut no_pin = vec![0x82, 0x08];
        no_pin.extend([1; 8]);
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x50, 0x00, 0x00, &no_pin, None)),
            0x6A80
        );
        let mut pka = init_data(&[1; 8], None);
        pka.extend([0x93, 0x02, 0x01, 0x01]);
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x50, 0x00, 0x00, &pka, None)),
            0x6A80
        );
        let init = apdu(0x80, 0x50, 0x00, 0x00, &init_data(&[1; 8], None), None);
        assert_eq!(sw(&mut card, &init), OK);
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x20, 0x00, 0x88, &[1; 8], None)),
            OK
        );
        // The options word shows in tag 85 of the SELECT response.
        let fcp = select_applet(&mut card);
        assert!(
            fcp.ends_with(&[0x85, 0x05, 0x00, 0x01, 0x00, 0x03, 0x01]),
            "{fcp:02X?}"
        );
    }
}
