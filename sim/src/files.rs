//! The flat file system (PROTOCOL.md §5): ENUMERATE OBJECTS, READ BINARY (B1), UPDATE BINARY
//! (D7), DELETE FILE, and the access rules of §3.2.
//!
//! SW choices: a key file CCxx is never readable or writable (`6982`); EF 2F02 and CC00 are
//! factory objects that cannot be written or deleted (`6982`); P1P2 = 0000 without a current
//! EF answers `6986`; an offset beyond the end `6B00`; memory budget exhausted `6A84`.

use crate::apdu::{self, Command, Response};
use crate::card::{CmdResult, Ctx};
use crate::init::EF_DEVAUT;
use crate::state::DeviceState;
use crate::tlv;

/// FID prefix of key objects.
const PREFIX_KEY: u8 = 0xCC;
/// FID prefix of PIN-protected data objects.
const PREFIX_PROTECTED: u8 = 0xCD;
/// Largest file the card's 16-bit sizes can describe.
const MAX_FILE: usize = 0xFFFF;

fn is_key(fid: u16) -> bool {
    (fid >> 8) as u8 == PREFIX_KEY
}

/// Whether the key object CCxx exists (CC00, the device key, always does).
fn key_exists(state: &DeviceState, fid: u16) -> bool {
    let id = fid as u8;
    id == 0 || state.keys.contains_key(&id)
}

/// Size of an EF, or of a key object (reported as 0: its content is never readable).
pub fn ef_size(state: &DeviceState, fid: u16) -> Option<usize> {
    if is_key(fid) {
        return key_exists(state, fid).then_some(0);
    }
    state.file(fid).map(|f| f.data.len())
}

/// FIDs that cannot name an EF: the MF, the "current EF" marker and the reserved FFFF.
fn reserved(fid: u16) -> bool {
    matches!(fid, 0x0000 | 0x3F00 | 0xFFFF)
}

/// P1P2 = FID (implicit select), or 0000 = the current EF.
fn target(ctx: &Ctx, cmd: &Command) -> Result<u16, u16> {
    match u16::from_be_bytes([cmd.p1, cmd.p2]) {
        0x0000 => ctx.session.current_ef.ok_or(apdu::SW_NOT_ALLOWED),
        fid if reserved(fid) => Err(apdu::SW_WRONG_P1P2),
        fid => Ok(fid),
    }
}

/// The offset DO `54 01|02 <offset>`; absent = 0.
fn offset(tlvs: &[tlv::Tlv]) -> Result<usize, u16> {
    match tlv::find(tlvs, 0x54) {
        None => Ok(0),
        Some(v) if !v.is_empty() && v.len() <= 2 => {
            Ok(v.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)))
        }
        Some(_) => Err(apdu::SW_WRONG_DATA),
    }
}

pub fn enumerate(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if cmd.p1 != 0 || cmd.p2 != 0 {
        return Err(apdu::SW_WRONG_P1P2);
    }
    let state = ctx.state();
    let mut out: Vec<u8> = state
        .files
        .iter()
        .flat_map(|f| f.fid.to_be_bytes())
        .collect();
    out.extend([PREFIX_KEY, 0x00]);
    for id in state.keys.keys() {
        out.extend([PREFIX_KEY, *id]);
    }
    Ok(Response::ok(out))
}

pub fn read_binary(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    let fid = target(ctx, cmd)?;
    let tlvs = tlv::parse_all(&cmd.data).map_err(|_| apdu::SW_WRONG_DATA)?;
    let offset = offset(&tlvs)?;
    if is_key(fid) {
        return Err(if key_exists(ctx.state(), fid) {
            apdu::SW_SECURITY_STATUS
        } else {
            apdu::SW_FILE_NOT_FOUND
        });
    }
    let len = ctx
        .state()
        .file(fid)
        .ok_or(apdu::SW_FILE_NOT_FOUND)?
        .data
        .len();
    ctx.session.current_ef = Some(fid);
    if (fid >> 8) as u8 == PREFIX_PROTECTED {
        ctx.require_user()?;
    }
    if offset > len {
        return Err(apdu::SW_WRONG_OFFSET);
    }
    // Up to Le bytes, never more than one response APDU holds (an extended Le of 65536 thus
    // reads the rest of the file, capped to the firmware's APDU size). Fewer bytes than Le at
    // the end of the file answer 9000, zero bytes at the end too.
    let room = ctx.profile.max_apdu - 2;
    let count = cmd.le.unwrap_or(65536).min(room).min(len - offset);
    let data = ctx
        .state()
        .file(fid)
        .map(|f| f.data[offset..offset + count].to_vec());
    Ok(Response::ok(data.unwrap_or_default()))
}

pub fn update_binary(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    ctx.require_user()?;
    let fid = target(ctx, cmd)?;
    let tlvs = tlv::parse_all(&cmd.data).map_err(|_| apdu::SW_WRONG_DATA)?;
    let offset = offset(&tlvs)?;
    let data = tlv::find(&tlvs, 0x53).ok_or(apdu::SW_WRONG_DATA)?;
    if is_key(fid) || fid == EF_DEVAUT {
        return Err(apdu::SW_SECURITY_STATUS);
    }
    let existing = ctx.state().file(fid).map(|f| f.data.len());
    let size = existing.unwrap_or(0);
    if offset > size {
        return Err(apdu::SW_WRONG_OFFSET);
    }
    let end = offset + data.len();
    if end > MAX_FILE {
        return Err(apdu::SW_NO_MEMORY);
    }
    let growth = end.saturating_sub(size) + if existing.is_none() { 16 } else { 0 };
    if ctx.state().memory_used() + growth > ctx.profile.memory {
        return Err(apdu::SW_NO_MEMORY);
    }
    ctx.session.current_ef = Some(fid);
    let unchanged = existing.is_some()
        && ctx
            .state()
            .file(fid)
            .is_some_and(|f| f.data.get(offset..end) == Some(data));
    if unchanged {
        return Ok(Response::ok(Vec::new()));
    }
    let state = ctx.state_mut();
    if existing.is_none() {
        state.put_file(fid, Vec::new());
    }
    if let Some(f) = state.file_mut(fid) {
        if f.data.len() < end {
            f.data.resize(end, 0);
        }
        f.data[offset..end].copy_from_slice(data);
    }
    Ok(Response::ok(Vec::new()))
}

pub fn delete_file(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if !matches!((cmd.p1, cmd.p2), (0x02, 0x00) | (0x00, 0x00)) {
        return Err(apdu::SW_WRONG_P1P2);
    }
    let fid = match cmd.data.as_slice() {
        [hi, lo] => u16::from_be_bytes([*hi, *lo]),
        _ => return Err(apdu::SW_WRONG_LENGTH),
    };
    ctx.require_user()?;
    if fid == EF_DEVAUT || fid == u16::from(PREFIX_KEY) << 8 {
        return Err(apdu::SW_SECURITY_STATUS);
    }
    if is_key(fid) {
        let id = fid as u8;
        if !ctx.state().keys.contains_key(&id) {
            return Err(apdu::SW_FILE_NOT_FOUND);
        }
        ctx.state_mut().keys.remove(&id);
    } else {
        if ctx.state().file(fid).is_none() {
            return Err(apdu::SW_FILE_NOT_FOUND);
        }
        ctx.state_mut().remove_file(fid);
    }
    if ctx.session.current_ef == Some(fid) {
        ctx.session.current_ef = None;
    }
    Ok(Response::ok(Vec::new()))
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;

    fn write(card: &mut crate::Card, p1p2: [u8; 2], offset: u16, data: &[u8]) -> u16 {
        let mut body = vec![0x54, 0x02];
        body.extend(offset.to_be_bytes());
        body.extend(crate::tlv::encode(0x53, data));
        sw(card, &apdu(0x00, 0xD7, p1p2[0], p1p2[1], &body, None))
    }

    fn read(card: &mut crate::Card, p1p2: [u8; 2], offset: u16, le: usize) -> (Vec<u8>, u16) {
        let mut body = vec![0x54, 0x02];
        body.extend(offset.to_be_bytes());
        tx(card, &apdu(0x00, 0xB1, p1p2[0], p1p2[1], &body, Some(le)))
    }

    #[test]
    fn write_read_offsets_and_current_ef() {
        let (_d, mut card) = device("3.5", true, None);
        select_applet(&mut card);
        assert_eq!(
            write(&mut card, [0xC4, 0x01], 0, b"abc"),
            0x6982,
            "needs the PIN"
        );
        assert_eq!(verify_pin(&mut card, PIN), OK);
        // OpenSC: create with an empty write, then write through the current EF in chunks.
        assert_eq!(write(&mut card, [0xC4, 0x01], 0, b""), OK);
        assert_eq!(write(&mut card, [0x00, 0x00], 0, &[1; 200]), OK);
        assert_eq!(
            write(&mut card, [0x00, 0x00], 200, &[2; 300]),
            OK,
            "BER length 82 01 2C"
        );
        assert_eq!(write(&mut card, [0x00, 0x00], 600, &[3]), 0x6B00, "gap");
        let (data, code) = read(&mut card, [0xC4, 0x01], 0, 65536);
        assert_eq!((data.len(), code), (500, OK));
        assert_eq!((data[199], data[200]), (1, 2));
        let (data, code) = read(&mut card, [0x00, 0x00], 490, 256);
        assert_eq!((data, code), (vec![2; 10], OK), "short read at the end");
        assert_eq!(
            read(&mut card, [0x00, 0x00], 500, 256),
            (vec![], OK),
            "0 bytes at EOF"
        );
        assert_eq!(read(&mut card, [0x00, 0x00], 501, 256).1, 0x6B00);
        assert_eq!(read(&mut card, [0x00, 0x00], 0, 16).0.len(), 16, "Le caps");
        // SELECT EF answers the FCI with the real size.
        let (fci, code) = tx(
            &mut card,
            &apdu(0x00, 0xA4, 0x00, 0x00, &[0xC4, 0x01], Some(256)),
        );
        assert_eq!(code, OK);
        assert_eq!(
            fci,
            vec![0x6F, 0x0B, 0x80, 0x02, 0x01, 0xF4, 0x82, 0x01, 0x01, 0x83, 0x02, 0xC4, 0x01]
        );
        assert_eq!(
            tx(
                &mut card,
                &apdu(0x00, 0xA4, 0x00, 0x0C, &[0x2F, 0x02], None)
            ),
            (vec![], OK)
        );
        assert_eq!(
            read(&mut card, [0x00, 0x00], 0, 4).0[..2],
            [0x7F, 0x21],
            "2F02 is now current"
        );
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0xA4, 0x00, 0x00, &[0xC4, 0x09], Some(256))
            ),
            0x6A82
        );
        assert_eq!(read(&mut card, [0xC4, 0x09], 0, 256).1, 0x6A82);
    }

    #[test]
    fn access_rules() {
        let (_d, mut card) = device("3.5", true, None);
        select_applet(&mut card);
        assert_eq!(
            read(&mut card, [0x00, 0x00], 0, 256).1,
            0x6986,
            "no current EF"
        );
        assert_eq!(
            read(&mut card, [0xCC, 0x00], 0, 256).1,
            0x6982,
            "keys never readable"
        );
        assert_eq!(read(&mut card, [0xCC, 0x05], 0, 256).1, 0x6A82);
        assert_eq!(verify_pin(&mut card, PIN), OK);
        assert_eq!(write(&mut card, [0xCD, 0x01], 0, b"secret"), OK);
        assert_eq!(write(&mut card, [0xCC, 0x01], 0, b"key"), 0x6982);
        assert_eq!(write(&mut card, [0x2F, 0x02], 0, b"x"), 0x6982);
        assert_eq!(read(&mut card, [0xCD, 0x01], 0, 256).0, b"secret");
        select_applet(&mut card);
        assert_eq!(
            read(&mut card, [0xCD, 0x01], 0, 256).1,
            0x6982,
            "CD needs the PIN"
        );
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0xE4, 0x02, 0x00, &[0xCD, 0x01], None)
            ),
            0x6982
        );
        assert_eq!(verify_pin(&mut card, PIN), OK);
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0xE4, 0x02, 0x00, &[0xCC, 0x00], None)
            ),
            0x6982
        );
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0xE4, 0x02, 0x00, &[0xCD, 0x01], None)
            ),
            OK
        );
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0xE4, 0x02, 0x00, &[0xCD, 0x01], None)
            ),
            0x6A82
        );
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0xE4, 0x02, 0x00, &[0xCC, 0x03], None)
            ),
            0x6A82
        );
    }

    #[test]
    fn enumerate_order_and_key_delete() {
        let (_d, mut card) = device("3.5", true, None);
        login(&mut card);
        assert_eq!(write(&mut card, [0xC9, 0x00], 0, b"d"), OK);
        generate(&mut card, 3, gakp_ec_body("secp256r1"), &[]);
        generate(&mut card, 2, gakp_ec_body("secp256r1"), &[]);
        assert_eq!(write(&mut card, [0xC4, 0x02], 0, b"p"), OK);
        let (list, code) = tx(&mut card, &[0x80, 0x58, 0x00, 0x00, 0x00, 0x00, 0x00]);
        assert_eq!(code, OK);
        let expected = "2F02C900CE03CE02C402CC00CC02CC03";
        assert_eq!(
            hex::encode_upper(&list),
            expected,
            "files by creation, then keys by id"
        );
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0xE4, 0x02, 0x00, &[0xCC, 0x02], None)
            ),
            OK
        );
        let (list, _) = tx(&mut card, &[0x80, 0x58, 0x00, 0x00, 0x00]);
        assert_eq!(hex::encode_upper(&list), "2F02C900CE03CE02C402CC00CC03");
    }

    #[test]
    fn extended_le_is_capped_by_the_apdu_size() {
        let (_d, mut card) = device("3.5", true, None);
        login(&mut card);
        let big: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        for (i, chunk) in big.chunks(1000).enumerate() {
            assert_eq!(write(&mut card, [0xCE, 0x07], (i * 1000) as u16, chunk), OK);
        }
        let (first, code) = read(&mut card, [0xCE, 0x07], 0, 65536);
        assert_eq!(
            (first.len(), code),
            (1230, OK),
            "1232-byte APDU limit of JCOP 3"
        );
        let mut all = first;
        while all.len() < big.len() {
            let (more, code) = read(&mut card, [0x00, 0x00], all.len() as u16, 65536);
            assert_eq!(code, OK);
            all.extend(more);
        }
        assert_eq!(all, big);
        // One UPDATE BINARY of 1229 data bytes is over the limit (a 1244-byte APDU).
        assert_eq!(write(&mut card, [0xCE, 0x08], 0, &[0; 1229]), 0x6700);
        assert_eq!(
            write(&mut card, [0xCE, 0x08], 0, &[0; 1214]),
            OK,
            "a 1229-byte APDU"
        );
    }
}
