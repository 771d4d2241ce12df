//! VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER (PROTOCOL.md §3.1, §4.2-§4.4).
//!
//! Status-word choices for points the documentation leaves open:
//! - the wrong attempt that uses up the last try answers `63C0` (ISO 7816-4); later attempts and
//!   status queries answer `6983`;
//! - RESET RETRY COUNTER without option 0x0001 (or a new-PIN form with option 0x0020) answers
//!   `6986`; a wrong SO-PIN in it answers `63Cx` like VERIFY 88.

use crate::apdu::{self, sw_tries_left, Command, Response};
use crate::card::{CmdResult, Ctx};
use crate::state::SO_PIN_TRIES;

pub const PIN_LEN: std::ops::RangeInclusive<usize> = 6..=16;
pub const SO_PIN_LEN: usize = 8;
/// Device option: RESET RETRY COUNTER enabled.
pub const OPT_RRC: u16 = 0x0001;
/// Device option: transport PIN (must be changed before first use).
pub const OPT_TRANSPORT_PIN: u16 = 0x0002;
/// Device option: RESET RETRY COUNTER only resets the counter, never sets a new PIN.
pub const OPT_RRC_COUNTER_ONLY: u16 = 0x0020;

/// Compares secrets without an early exit on the first differing byte.
pub fn secret_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What VERIFY answers on a device that was never initialised (fw 1.x: 6984, later 6A88).
fn not_initialized(ctx: &Ctx) -> u16 {
    if ctx.profile.uninitialized_sw_6984 {
        apdu::SW_REF_DATA_NOT_USABLE
    } else {
        apdu::SW_REF_NOT_FOUND
    }
}

pub fn verify(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if cmd.p1 != 0x00 {
        return Err(apdu::SW_WRONG_P1P2);
    }
    match cmd.p2 {
        0x81 => verify_user(ctx, cmd),
        0x88 => verify_so(ctx, cmd),
        // Biometric / PIN-pad templates: absent on a normal device, or OpenSC assumes a PIN pad.
        0x85 | 0x86 => Err(apdu::SW_REF_NOT_FOUND),
        _ => Err(apdu::SW_WRONG_P1P2),
    }
}

fn verify_user(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    let Some(pin) = ctx.state().user_pin.clone() else {
        return Err(not_initialized(ctx));
    };
    if cmd.data.is_empty() {
        // Status query (case 1, or case 2 with Le as OpenSC sends under SM).
        return if pin.tries_left == 0 {
            Err(apdu::SW_AUTH_BLOCKED)
        } else if pin.transport {
            Err(apdu::SW_REF_DATA_NOT_USABLE)
        } else if ctx.user_verified() {
            Ok(Response::ok(Vec::new()))
        } else {
            Err(sw_tries_left(pin.tries_left))
        };
    }
    if !PIN_LEN.contains(&cmd.data.len()) {
        return Err(apdu::SW_WRONG_DATA);
    }
    if pin.tries_left == 0 {
        return Err(apdu::SW_AUTH_BLOCKED);
    }
    if pin.transport {
        return Err(apdu::SW_REF_DATA_NOT_USABLE);
    }
    check_user_pin(ctx, &cmd.data)?;
    ctx.session.user_epoch = Some(ctx.state().pin_epoch);
    Ok(Response::ok(Vec::new()))
}

/// Checks `candidate` against the user PIN, counting a failure (the caller has checked that
/// the PIN is set and not blocked). A failure also drops this session's user authentication.
fn check_user_pin(ctx: &mut Ctx, candidate: &[u8]) -> Result<(), u16> {
    let pin = ctx.state().user_pin.clone().ok_or(apdu::SW_REF_NOT_FOUND)?;
    if secret_eq(&pin.value, candidate) {
        if pin.tries_left != pin.max_tries {
            if let Some(p) = ctx.state_mut().user_pin.as_mut() {
                p.tries_left = p.max_tries;
            }
        }
        return Ok(());
    }
    ctx.session.user_epoch = None;
    let left = pin.tries_left.saturating_sub(1);
    if let Some(p) = ctx.state_mut().user_pin.as_mut() {
        p.tries_left = left;
    }
    Err(sw_tries_left(left))
}

fn verify_so(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    let Some(so) = ctx.state().so_pin.clone() else {
        return Err(apdu::SW_REF_NOT_FOUND);
    };
    if cmd.data.is_empty() {
        return if so.tries_left == 0 {
            Err(apdu::SW_AUTH_BLOCKED)
        } else if ctx.so_verified() {
            Ok(Response::ok(Vec::new()))
        } else {
            Err(sw_tries_left(so.tries_left))
        };
    }
    if cmd.data.len() != SO_PIN_LEN {
        return Err(apdu::SW_WRONG_DATA);
    }
    check_so_pin(ctx, &cmd.data)?;
    ctx.session.so_epoch = Some(ctx.state().so_epoch);
    Ok(Response::ok(Vec::new()))
}

/// Checks the SO-PIN: `6983` when blocked, `63Cx` (counted) when wrong, `6A88` when the device
/// has none. Used by VERIFY 88, CHANGE 88, RESET RETRY COUNTER and INITIALIZE.
pub fn check_so_pin(ctx: &mut Ctx, candidate: &[u8]) -> Result<(), u16> {
    let so = ctx.state().so_pin.clone().ok_or(apdu::SW_REF_NOT_FOUND)?;
    if so.tries_left == 0 {
        return Err(apdu::SW_AUTH_BLOCKED);
    }
    if secret_eq(&so.value, candidate) {
        if so.tries_left != SO_PIN_TRIES {
            if let Some(s) = ctx.state_mut().so_pin.as_mut() {
                s.tries_left = SO_PIN_TRIES;
            }
        }
        return Ok(());
    }
    ctx.session.so_epoch = None;
    let left = so.tries_left.saturating_sub(1);
    if let Some(s) = ctx.state_mut().so_pin.as_mut() {
        s.tries_left = left;
    }
    Err(sw_tries_left(left))
}

pub fn change_reference_data(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if cmd.p1 != 0x00 {
        return Err(apdu::SW_WRONG_P1P2);
    }
    match cmd.p2 {
        0x81 => change_user_pin(ctx, cmd),
        0x88 => change_so_pin(ctx, cmd),
        _ => Err(apdu::SW_WRONG_P1P2),
    }
}

fn change_user_pin(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    let Some(pin) = ctx.state().user_pin.clone() else {
        return Err(not_initialized(ctx));
    };
    // No separator: the card splits old ‖ new by the length of the current PIN.
    let old_len = pin.value.len();
    if cmd.data.len() <= old_len || !PIN_LEN.contains(&(cmd.data.len() - old_len)) {
        return Err(apdu::SW_WRONG_DATA);
    }
    if pin.tries_left == 0 {
        return Err(apdu::SW_AUTH_BLOCKED);
    }
    let (old, new) = cmd.data.split_at(old_len);
    check_user_pin(ctx, old)?;
    let state = ctx.state_mut();
    state.pin_epoch += 1;
    if let Some(p) = state.user_pin.as_mut() {
        p.value = new.to_vec();
        p.tries_left = p.max_tries;
        p.transport = false;
    }
    // A successful change with the old PIN authenticates, as a VERIFY would.
    ctx.session.user_epoch = Some(ctx.state().pin_epoch);
    Ok(Response::ok(Vec::new()))
}

fn change_so_pin(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if ctx.state().so_pin.is_none() {
        return Err(apdu::SW_REF_NOT_FOUND);
    }
    if cmd.data.len() != 2 * SO_PIN_LEN {
        return Err(apdu::SW_WRONG_DATA);
    }
    let (old, new) = cmd.data.split_at(SO_PIN_LEN);
    check_so_pin(ctx, old)?;
    let state = ctx.state_mut();
    state.so_epoch += 1;
    if let Some(s) = state.so_pin.as_mut() {
        s.value = new.to_vec();
    }
    ctx.session.so_epoch = Some(ctx.state().so_epoch);
    Ok(Response::ok(Vec::new()))
}

pub fn reset_retry_counter(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if cmd.p2 != 0x81 || cmd.p1 > 0x03 {
        return Err(apdu::SW_WRONG_P1P2);
    }
    if !ctx.state().initialized() {
        return Err(apdu::SW_REF_NOT_FOUND);
    }
    let options = ctx.state().options;
    let sets_pin = matches!(cmd.p1, 0x00 | 0x02);
    if options & OPT_RRC == 0 || (sets_pin && options & OPT_RRC_COUNTER_ONLY != 0) {
        return Err(apdu::SW_NOT_ALLOWED);
    }
    let new_pin: Option<&[u8]> = match cmd.p1 {
        0x00 => {
            if cmd.data.len() <= SO_PIN_LEN {
                return Err(apdu::SW_WRONG_DATA);
            }
            Some(&cmd.data[SO_PIN_LEN..])
        }
        0x01 => {
            if cmd.data.len() != SO_PIN_LEN {
                return Err(apdu::SW_WRONG_DATA);
            }
            None
        }
        0x02 => Some(&cmd.data[..]),
        _ => {
            if !cmd.data.is_empty() {
                return Err(apdu::SW_WRONG_DATA);
            }
            None
        }
    };
    if let Some(p) = new_pin {
        if !PIN_LEN.contains(&p.len()) {
            return Err(apdu::SW_WRONG_DATA);
        }
    }
    match cmd.p1 {
        // The SO-PIN comes with the command.
        0x00 | 0x01 => check_so_pin(ctx, &cmd.data[..SO_PIN_LEN])?,
        // The SO-PIN was verified before (VERIFY 88) in this session.
        _ if ctx.so_verified() => {}
        _ => return Err(apdu::SW_SECURITY_STATUS),
    }
    let state = ctx.state_mut();
    if let Some(p) = state.user_pin.as_mut() {
        p.tries_left = p.max_tries;
        if let Some(new) = new_pin {
            p.value = new.to_vec();
        }
    }
    if new_pin.is_some() {
        // The old PIN is gone: whoever verified it is logged out.
        state.pin_epoch += 1;
    }
    Ok(Response::ok(Vec::new()))
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;

    fn init_apdu(options: u16, pin: &[u8], so: &[u8; 8]) -> Vec<u8> {
        let mut d = vec![0x80, 0x02];
        d.extend(options.to_be_bytes());
        d.extend([0x81, pin.len() as u8]);
        d.extend_from_slice(pin);
        d.extend([0x82, 0x08]);
        d.extend_from_slice(so);
        d.extend([0x91, 0x01, 0x03]);
        apdu(0x80, 0x50, 0x00, 0x00, &d, None)
    }

    #[test]
    fn status_verify_and_logout_by_select() {
        let (_d, mut card) = device("3.5", false, None);
        select_applet(&mut card);
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x81]),
            0x6A88,
            "uninitialised"
        );
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x88]), 0x6A88);
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x85]),
            0x6A88,
            "no PIN pad"
        );
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x86]), 0x6A88);
        assert_eq!(sw(&mut card, &init_apdu(0x0001, PIN, &SO_PIN)), OK);
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x81]), 0x63C3);
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x81, 0x00]),
            0x63C3,
            "case 2 form"
        );
        assert_eq!(verify_pin(&mut card, b"000000"), 0x63C2);
        assert_eq!(verify_pin(&mut card, b"12345"), 0x6A80, "too short");
        assert_eq!(verify_pin(&mut card, &[b'1'; 17]), 0x6A80, "too long");
        assert_eq!(verify_pin(&mut card, PIN), OK);
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x81]), OK);
        select_applet(&mut card);
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x81]),
            0x63C3,
            "SELECT logs out"
        );
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x87]), 0x6A86);
    }

    #[test]
    fn old_firmware_reports_uninitialised_as_6984() {
        let (_d, mut card) = device("1.2", false, None);
        select_applet(&mut card);
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x81]), 0x6984);
    }

    #[test]
    fn block_and_unblock() {
        let (_d, mut card) = device("3.5", true, None);
        select_applet(&mut card);
        assert_eq!(verify_pin(&mut card, b"000000"), 0x63C2);
        assert_eq!(verify_pin(&mut card, b"000000"), 0x63C1);
        assert_eq!(verify_pin(&mut card, b"000000"), 0x63C0);
        assert_eq!(verify_pin(&mut card, PIN), 0x6983, "blocked");
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x81]), 0x6983);
        // RESET RETRY COUNTER with a wrong SO-PIN counts down the SO tries.
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x2C, 0x01, 0x81, &[0u8; 8], None)),
            0x63CE
        );
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x88]), 0x63CE);
        // Unblock only (P1 01), then a new PIN (P1 00).
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x2C, 0x01, 0x81, &SO_PIN, None)),
            OK
        );
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x88]),
            0x63CF,
            "SO tries restored"
        );
        assert_eq!(verify_pin(&mut card, PIN), OK);
        let mut data = SO_PIN.to_vec();
        data.extend_from_slice(b"11223344");
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x2C, 0x00, 0x81, &data, None)),
            OK
        );
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x81]),
            0x63C3,
            "new PIN logs out"
        );
        assert_eq!(verify_pin(&mut card, PIN), 0x63C2);
        assert_eq!(verify_pin(&mut card, b"11223344"), OK);
        // P1 02/03 need a verified SO-PIN.
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x2C, 0x02, 0x81, b"654321", None)),
            0x6982
        );
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x20, 0x00, 0x88, &SO_PIN, None)),
            OK
        );
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x88]), OK);
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x2C, 0x02, 0x81, b"654321", None)),
            OK
        );
        assert_eq!(sw(&mut card, &[0x00, 0x2C, 0x03, 0x81]), OK);
        assert_eq!(verify_pin(&mut card, b"654321"), OK);
        assert_eq!(sw(&mut card, &[0x00, 0x2C, 0x04, 0x81]), 0x6A86);
    }

    #[test]
    fn reset_retry_counter_needs_option_0001() {
        let (_d, mut card) = device("3.5", false, None);
        select_applet(&mut card);
        assert_eq!(sw(&mut card, &init_apdu(0x0000, PIN, &SO_PIN)), OK);
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x2C, 0x01, 0x81, &SO_PIN, None)),
            0x6986
        );
    }

    #[test]
    fn transport_pin_must_be_changed() {
        let (_d, mut card) = device("3.5", false, None);
        select_applet(&mut card);
        assert_eq!(sw(&mut card, &init_apdu(0x0003, PIN, &SO_PIN)), OK);
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x81]), 0x6984);
        assert_eq!(verify_pin(&mut card, PIN), 0x6984);
        let mut change = PIN.to_vec();
        change.extend_from_slice(b"a-new-pin");
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x24, 0x00, 0x81, &change, None)),
            OK
        );
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x81]),
            OK,
            "change authenticates"
        );
        select_applet(&mut card);
        assert_eq!(verify_pin(&mut card, b"a-new-pin"), OK);
    }

    #[test]
    fn change_pins() {
        let (_d, mut card) = device("3.5", true, None);
        select_applet(&mut card);
        let mut bad = b"000000".to_vec();
        bad.extend_from_slice(b"7654321");
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x24, 0x00, 0x81, &bad, None)),
            0x63C2
        );
        let mut short = PIN.to_vec();
        short.extend_from_slice(b"123");
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x24, 0x00, 0x81, &short, None)),
            0x6A80
        );
        let mut so = SO_PIN.to_vec();
        so.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(sw(&mut card, &apdu(0x00, 0x24, 0x00, 0x88, &so, None)), OK);
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x20, 0x00, 0x88, &SO_PIN, None)),
            0x63CE
        );
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0x20, 0x00, 0x88, &[1, 2, 3, 4, 5, 6, 7, 8], None)
            ),
            OK
        );
    }
}
