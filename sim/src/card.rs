//! One connection to a simulated device: per-connection session state and the APDU dispatcher.
//!
//! Every APDU: take the device lock, count it, reload the state if another process changed it,
//! check the APDU against the firmware's size limit, run the command, write the state back if
//! the command changed it, release the lock.

use std::path::Path;

use crate::apdu::{self, Command, Response};
use crate::apdulog::ApduLog;
use crate::error::SimError;
use crate::fault::{Faults, Outcome};
use crate::profile::{self, Profile};
use crate::state::{DeviceState, Store};
use crate::{dkek, files, init, keygen, keyops, pin, select, wrap};

/// Storage failure while handling an APDU ("memory failure"; OpenSC: CKR_DEVICE_ERROR).
const SW_MEMORY_FAILURE: u16 = 0x6581;
/// A command failed unexpectedly ("no precise diagnosis").
const SW_INTERNAL_ERROR: u16 = 0x6F00;
/// CLA with the command-chaining bit: not supported (no host uses chaining).
const SW_CHAINING_UNSUPPORTED: u16 = 0x6884;

/// What a connection holds and never persists: cleared by power cycle and by applet SELECT.
#[derive(Debug, Default)]
pub(crate) struct Session {
    /// The applet is selected (the card is not default-selected).
    pub selected: bool,
    /// Current EF for READ/UPDATE BINARY with P1P2 = 0000.
    pub current_ef: Option<u16>,
    /// `pin_epoch` of the device when the user PIN was verified in this session.
    pub user_epoch: Option<u64>,
    /// `so_epoch` of the device when the SO-PIN was verified (VERIFY 88).
    pub so_epoch: Option<u64>,
}

/// A command's view of the card: the state (writes go through `state_mut`, which marks it
/// dirty so it is saved), the session and the firmware profile.
pub(crate) struct Ctx<'a> {
    state: &'a mut DeviceState,
    pub session: &'a mut Session,
    pub profile: &'static Profile,
    dirty: bool,
}

pub(crate) type CmdResult = Result<Response, u16>;

impl Ctx<'_> {
    pub fn state(&self) -> &DeviceState {
        self.state
    }
    pub fn state_mut(&mut self) -> &mut DeviceState {
        self.dirty = true;
        self.state
    }
    pub fn user_verified(&self) -> bool {
        self.state.user_pin.is_some() && self.session.user_epoch == Some(self.state.pin_epoch)
    }
    pub fn so_verified(&self) -> bool {
        self.state.so_pin.is_some() && self.session.so_epoch == Some(self.state.so_epoch)
    }
    /// `6982` unless the user PIN is verified in this session.
    pub fn require_user(&self) -> Result<(), u16> {
        if self.user_verified() {
            Ok(())
        } else {
            Err(apdu::SW_SECURITY_STATUS)
        }
    }
}

/// One connection to a simulated device.
pub struct Card {
    store: Store,
    state: DeviceState,
    profile: &'static Profile,
    session: Session,
    /// The in-memory state may differ from the disk (a failed write): reload before the next APDU.
    stale: bool,
    log: Option<ApduLog>,
    /// Injected faults (`--fault`, SCHSM_SIM_FAULT); `dropped` tells the front end to hang up.
    faults: Option<Faults>,
    dropped: bool,
}

impl Card {
    /// Opens the device in `dir` (made by `create` / `schsm-sim new`).
    pub fn open(dir: &Path) -> Result<Card, SimError> {
        let store = Store::open(dir)?;
        store.lock()?;
        let loaded = store.load();
        store.unlock();
        let state = loaded?;
        let profile = profile::by_name(&state.firmware)
            .ok_or_else(|| SimError::UnknownFirmware(state.firmware.clone()))?;
        Ok(Card {
            store,
            state,
            profile,
            session: Session::default(),
            stale: false,
            log: None,
            faults: Faults::from_env(),
            dropped: false,
        })
    }

    /// The ATR of the simulated hardware (HSM 1 for 1.x/2.x profiles, HSM 2 for 3.x).
    pub fn atr(&self) -> Vec<u8> {
        self.profile.atr.to_vec()
    }

    /// Power cycle: the applet is deselected and every authentication is dropped.
    pub fn reset(&mut self) {
        self.session = Session::default();
    }

    /// Appends every APDU and response to `path`, with PINs, SO-PINs, DKEK shares and random
    /// challenges masked.
    pub fn set_apdu_log(&mut self, path: &Path) -> Result<(), SimError> {
        self.log = Some(ApduLog::open(path)?);
        Ok(())
    }

    /// Replaces the faults to inject (see [`crate::fault`]).
    pub fn set_faults(&mut self, faults: Option<Faults>) {
        self.faults = faults;
    }

    /// Whether a fault dropped the connection since the last call (then the front end must
    /// hang up: the answer of that APDU is empty).
    pub fn take_dropped(&mut self) -> bool {
        std::mem::take(&mut self.dropped)
    }

    /// Processes one command APDU; returns response data ‖ SW1 SW2. Never panics. With faults
    /// set, the answer may be wrong on purpose, or empty when the connection is to be dropped.
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        let Some(mut faults) = self.faults.take() else {
            return self.transmit_faithfully(apdu);
        };
        let outcome = faults.apply(apdu, |a| self.transmit_faithfully(a));
        self.faults = Some(faults);
        match outcome {
            Outcome::Answer(answer) => answer,
            Outcome::Drop => {
                self.dropped = true;
                Vec::new()
            }
        }
    }

    fn transmit_faithfully(&mut self, apdu: &[u8]) -> Vec<u8> {
        let response = match self.store.lock() {
            Ok(()) => {
                let r = self.process_locked(apdu);
                self.store.unlock();
                r
            }
            Err(_) => Response::sw(SW_MEMORY_FAILURE),
        };
        if let Some(log) = &mut self.log {
            log.record(apdu, &response);
        }
        response.to_bytes()
    }

    fn process_locked(&mut self, raw: &[u8]) -> Response {
        // The counter is informational: a failure to update it must not fail the command.
        let _ = self.store.count_apdu();
        if let Err(sw) = self.refresh() {
            return Response::sw(sw);
        }
        if raw.len() > self.profile.max_apdu {
            return Response::sw(apdu::SW_WRONG_LENGTH);
        }
        let cmd = match Command::parse(raw) {
            Ok(c) => c,
            Err(sw) => return Response::sw(sw),
        };
        if cmd.cla & 0x10 != 0 {
            return Response::sw(SW_CHAINING_UNSUPPORTED);
        }
        if cmd.cla != 0x00 && cmd.cla != 0x80 {
            return Response::sw(apdu::SW_CLA_NOT_SUPPORTED);
        }
        let (state, session, profile) = (&mut self.state, &mut self.session, self.profile);
        // A bug in a command must not take the host process down with it: answer 6F00 and
        // reload the state, which the command may have left half-changed, from disk.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut ctx = Ctx {
                state,
                session,
                profile,
                dirty: false,
            };
            let response = dispatch(&mut ctx, &cmd).unwrap_or_else(Response::sw);
            (response, ctx.dirty)
        }));
        let Ok((mut response, dirty)) = outcome else {
            self.stale = true;
            return Response::sw(SW_INTERNAL_ERROR);
        };
        if dirty {
            self.state.generation += 1;
            if self.store.save(&self.state).is_err() {
                self.stale = true;
                return Response::sw(SW_MEMORY_FAILURE);
            }
        }
        if response.data.len() + 2 > self.profile.max_apdu {
            response = Response::sw(apdu::SW_WRONG_LENGTH);
        }
        response
    }

    /// Reloads the state when another process (or a failed write) made ours out of date.
    fn refresh(&mut self) -> Result<(), u16> {
        if !self.stale && self.store.read_generation() == Some(self.state.generation) {
            return Ok(());
        }
        let state = self.store.load().map_err(|_| SW_MEMORY_FAILURE)?;
        self.profile = profile::by_name(&state.firmware).ok_or(SW_MEMORY_FAILURE)?;
        self.state = state;
        self.stale = false;
        Ok(())
    }
}

fn dispatch(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if cmd.ins == 0xA4 {
        return select::select(ctx, cmd);
    }
    // Until the applet is selected the card manager answers, and it knows none of these.
    if !ctx.session.selected {
        return Err(apdu::SW_INS_NOT_SUPPORTED);
    }
    match cmd.ins {
        0x20 => pin::verify(ctx, cmd),
        0x24 => pin::change_reference_data(ctx, cmd),
        0x2C => pin::reset_retry_counter(ctx, cmd),
        0x50 => init::initialize(ctx, cmd),
        0x52 => dkek::manage(ctx, cmd),
        0x46 => keygen::generate_asymmetric(ctx, cmd),
        0x48 => keygen::generate_symmetric(ctx, cmd),
        0x58 => files::enumerate(ctx, cmd),
        0xB1 => files::read_binary(ctx, cmd),
        0xD7 => files::update_binary(ctx, cmd),
        0xE4 => files::delete_file(ctx, cmd),
        0x84 => keyops::get_challenge(ctx, cmd),
        0x68 => keyops::sign(ctx, cmd),
        0x62 => keyops::decipher(ctx, cmd),
        0x78 => keyops::cipher(ctx, cmd),
        0x72 => wrap::wrap(ctx, cmd),
        0x74 => wrap::unwrap(ctx, cmd),
        // Not simulated: MSE/PSO/EXTERNAL and GENERAL AUTHENTICATE (PKA, secure messaging),
        // MANAGE PKA, GENERATE SESSION PIN, DERIVE ASYMMETRIC KEY.
        _ => Err(apdu::SW_INS_NOT_SUPPORTED),
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;
    use crate::{Card, AID};

    #[test]
    fn select_answers_per_profile() {
        let (_d, mut card) = device("3.5", true, None);
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x81]),
            0x6D00,
            "applet not selected yet"
        );
        let fcp = select_applet(&mut card);
        let mut expected = vec![0x62, 0x17, 0x82, 0x01, 0x38, 0x84, 0x0B];
        expected.extend(AID);
        expected.extend([0x85, 0x05, 0x00, 0x01, 0x00, 0x03, 0x05]);
        assert_eq!(fcp, expected);
        assert_eq!(
            tx(&mut card, &apdu(0x00, 0xA4, 0x04, 0x0C, &AID, None)),
            (vec![], OK)
        );
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0xA4, 0x04, 0x00, &[0xA0, 0, 0, 0, 3], Some(256))
            ),
            0x6A82
        );
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x81]),
            0x63C3,
            "still selected"
        );
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0xA4, 0x08, 0x00, &[0x2F, 0x02], Some(256))
            ),
            0x6A86
        );
        assert_eq!(card.atr()[..4], [0x3B, 0xDE, 0x18, 0xFF], "HSM 2 ATR");
        card.reset();
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x81]),
            0x6D00,
            "reset deselects"
        );

        let (_d2, mut hsm1) = device("2.6", false, None);
        assert_eq!(hsm1.atr()[..4], [0x3B, 0xFE, 0x18, 0x00], "HSM 1 ATR");
        assert!(select_applet(&mut hsm1).ends_with(&[0x85, 0x05, 0x00, 0x00, 0x00, 0x02, 0x06]));
        let (_d3, mut old) = device("1.2", false, None);
        assert!(
            select_applet(&mut old).ends_with(&[0x85, 0x02, 0x01, 0x02]),
            "2-byte tag 85"
        );
    }

    #[test]
    fn card_can_move_between_threads() {
        fn is_send<T: Send>() {}
        is_send::<Card>();
    }

    #[test]
    fn class_length_and_unknown_instructions() {
        let (_d, mut card) = device("3.5", true, None);
        select_applet(&mut card);
        assert_eq!(
            sw(&mut card, &[0x0C, 0x20, 0x00, 0x81]),
            0x6E00,
            "no secure messaging"
        );
        assert_eq!(
            sw(&mut card, &[0x10, 0x20, 0x00, 0x81]),
            0x6884,
            "no chaining"
        );
        assert_eq!(sw(&mut card, &[0x00, 0x86, 0x00, 0x00]), 0x6D00);
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00]), 0x6700);
        assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x81, 0x05, 0x31]), 0x6700);
    }

    #[test]
    fn max_apdu_size_per_profile() {
        for (fw, max) in [("3.5", 1232usize), ("2.6", 1462)] {
            let (_d, mut card) = device(fw, true, None);
            login(&mut card);
            // UPDATE BINARY with extended Lc: 7 header bytes + 8 TLV bytes + data.
            let write = |n: usize| {
                let mut body = vec![0x54, 0x02, 0x00, 0x00];
                body.extend(crate::tlv::encode(0x53, &vec![0xA5; n]));
                apdu(0x00, 0xD7, 0xCF, 0x01, &body, None)
            };
            let fits = write(max - 15);
            assert_eq!(fits.len(), max);
            assert_eq!(sw(&mut card, &fits), OK, "{fw}");
            assert_eq!(
                sw(&mut card, &write(max - 14)),
                0x6700,
                "{fw}: one byte too many"
            );
        }
    }

    #[test]
    fn two_connections_share_the_device_not_the_login() {
        let (d, mut one) = device("3.5", true, None);
        let mut two = Card::open(d.path()).unwrap();
        login(&mut one);
        select_applet(&mut two);
        assert_eq!(
            sw(&mut two, &[0x00, 0x20, 0x00, 0x81]),
            0x63C3,
            "not logged in"
        );
        generate(&mut one, 4, gakp_ec_body("secp256r1"), &[]);
        let (list, _) = tx(&mut two, &[0x80, 0x58, 0x00, 0x00, 0x00, 0x00, 0x00]);
        assert!(list.ends_with(&[0xCC, 0x00, 0xCC, 0x04]), "{list:02X?}");
        // A wrong PIN on one connection counts for the device.
        assert_eq!(verify_pin(&mut two, b"000000"), 0x63C2);
        assert_eq!(
            sw(&mut one, &[0x00, 0x20, 0x00, 0x81]),
            OK,
            "one stays logged in"
        );
        // A PIN change on one connection logs the other out.
        let mut change = PIN.to_vec();
        change.extend_from_slice(b"999999");
        assert_eq!(
            sw(&mut two, &apdu(0x00, 0x24, 0x00, 0x81, &change, None)),
            OK
        );
        assert_eq!(sw(&mut one, &[0x00, 0x20, 0x00, 0x81]), 0x63C3);
    }

    #[test]
    fn threads_share_one_device() {
        let (d, mut card) = device("3.5", true, None);
        login(&mut card);
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                let dir = d.path().to_path_buf();
                std::thread::spawn(move || {
                    let mut c = Card::open(&dir).unwrap();
                    login(&mut c);
                    for i in 0..5u8 {
                        let fid = [0xCF, t * 16 + i];
                        let mut body = vec![0x54, 0x02, 0x00, 0x00];
                        body.extend(crate::tlv::encode(0x53, &[t, i]));
                        assert_eq!(
                            sw(&mut c, &apdu(0x00, 0xD7, fid[0], fid[1], &body, None)),
                            OK
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let (list, _) = tx(&mut card, &[0x80, 0x58, 0x00, 0x00, 0x00, 0x00, 0x00]);
        assert_eq!(
            list.len(),
            2 * (1 + 20 + 1),
            "2F02, 20 files, CC00: no write lost"
        );
    }

    #[test]
    fn state_survives_reopen_and_session_does_not() {
        let (d, mut card) = device("3.5", true, Some(1));
        login(&mut card);
        generate(&mut card, 1, gakp_ec_body("secp256r1"), &[]);
        assert_eq!(verify_pin(&mut card, b"000000"), 0x63C2);
        drop(card);
        let mut again = Card::open(d.path()).unwrap();
        select_applet(&mut again);
        assert_eq!(
            sw(&mut again, &[0x00, 0x20, 0x00, 0x81]),
            0x63C2,
            "tries persisted"
        );
        let (list, _) = tx(&mut again, &[0x80, 0x58, 0x00, 0x00, 0x00, 0x00, 0x00]);
        assert_eq!(hex::encode_upper(list), "2F02CE01CC00CC01");
        let text = crate::stat(d.path()).unwrap();
        assert!(text.contains("CC01  EC secp256r1"), "{text}");
        assert!(text.contains("APDU counter:"), "{text}");
    }

    #[test]
    fn corrupted_state_is_a_clear_error() {
        let (d, mut card) = device("3.5", true, None);
        select_applet(&mut card);
        std::fs::write(
            d.path().join("device.json"),
            b"{\"format\": 1, \"generation\": 99, trunc",
        )
        .unwrap();
        assert_eq!(
            sw(&mut card, &[0x00, 0x20, 0x00, 0x81]),
            0x6581,
            "memory failure, no panic"
        );
        let err = Card::open(d.path())
            .err()
            .expect("open must fail")
            .to_string();
        assert!(err.contains("device state is corrupted"), "{err}");
        assert!(crate::stat(d.path()).is_err());
        let empty = TempDir::new("empty");
        let err = Card::open(empty.path()).err().unwrap().to_string();
        assert!(err.contains("no simulated device"), "{err}");
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let (_d, mut card) = device("3.5", true, Some(1));
        let mut seed = 0x1234_5678u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        login(&mut card);
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let mut raw: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if raw.len() >= 2 && next() % 2 == 0 {
                // Aim at real instructions with the right class.
                let ins = [
                    0x20, 0x24, 0x2C, 0x50, 0x52, 0x46, 0x48, 0x58, 0xB1, 0xD7, 0xE4, 0x84, 0x68,
                    0x62, 0x78, 0x72, 0x74, 0xA4,
                ];
                raw[0] = if next() % 2 == 0 { 0x00 } else { 0x80 };
                raw[1] = ins[(next() as usize) % ins.len()];
            }
            let r = card.transmit(&raw);
            assert!(r.len() >= 2);
        }
    }
}
