//! SELECT (PROTOCOL.md §2.2, §2.3, §13.2 items 1-2): the applet by AID, elementary files by FID.

use crate::apdu::{self, Command, Response};
use crate::card::{CmdResult, Ctx, Session};
use crate::files;
use crate::tlv;

/// E8 2B 06 01 04 01 81 C3 1F 02 01: OID 1.3.6.1.4.1.24991.2.1 with E8 as first byte.
pub const AID: [u8; 11] = [
    0xE8, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x81, 0xC3, 0x1F, 0x02, 0x01,
];

pub fn select(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    match cmd.p1 {
        0x04 => select_applet(ctx, cmd),
        // 02 (EF under the current DF) is accepted like 00: the file system is flat.
        0x00 | 0x02 if ctx.session.selected => select_ef(ctx, cmd),
        0x00 | 0x02 => Err(apdu::SW_FILE_NOT_FOUND),
        _ => Err(apdu::SW_WRONG_P1P2),
    }
}

fn select_applet(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if !matches!(cmd.p2, 0x00 | 0x04 | 0x0C) {
        return Err(apdu::SW_WRONG_P1P2);
    }
    // A partial AID (right-truncated, at least the registered 5-byte RID... ours is 11) is how
    // JavaCard resolves DF names; hosts always send the full AID.
    if cmd.data.len() < 5 || !AID.starts_with(&cmd.data) {
        // The current applet, if any, stays selected.
        return Err(apdu::SW_FILE_NOT_FOUND);
    }
    // Re-selecting the applet logs out: every authentication of this connection is dropped.
    *ctx.session = Session {
        selected: true,
        ..Session::default()
    };
    if cmd.p2 == 0x0C {
        return Ok(Response::ok(Vec::new()));
    }
    Ok(Response::ok(applet_fcp(ctx)))
}

/// `62 L { 82 01 38, 84 0B AID, 85 .. }`; tag 85 carries options and version (§2.3).
pub fn applet_fcp(ctx: &Ctx) -> Vec<u8> {
    let p = ctx.profile;
    let prop = if p.long_tag85 {
        let opt = ctx.state().options.to_be_bytes();
        // Type 00: "SmartCard-HSM Applet for JCOP" (production).
        vec![opt[0], opt[1], 0x00, p.major, p.minor]
    } else {
        vec![p.major, p.minor]
    };
    let mut body = tlv::encode(0x82, &[0x38]);
    body.extend(tlv::encode(0x84, &AID));
    body.extend(tlv::encode(0x85, &prop));
    tlv::encode(0x62, &body)
}

fn select_ef(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    let fid = match cmd.data.as_slice() {
        [hi, lo] => u16::from_be_bytes([*hi, *lo]),
        _ => return Err(apdu::SW_WRONG_LENGTH),
    };
    if !matches!(cmd.p2, 0x00 | 0x04 | 0x0C) {
        return Err(apdu::SW_WRONG_P1P2);
    }
    let size = files::ef_size(ctx.state(), fid).ok_or(apdu::SW_FILE_NOT_FOUND)?;
    ctx.session.current_ef = Some(fid);
    let size = u16::try_from(size).unwrap_or(u16::MAX).to_be_bytes();
    let mut body = tlv::encode(0x80, &size);
    body.extend(tlv::encode(0x82, &[0x01])); // working EF, transparent
    body.extend(tlv::encode(0x83, &fid.to_be_bytes()));
    match cmd.p2 {
        0x00 => Ok(Response::ok(tlv::encode(0x6F, &body))),
        0x04 => Ok(Response::ok(tlv::encode(0x62, &body))),
        _ => Ok(Response::ok(Vec::new())),
    }
}
