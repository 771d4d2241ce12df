//! IMPORT DKEK SHARE / MANAGE KEY DOMAIN (`80 52 P1 P2`, PROTOCOL.md §4.6, §8.1, §8.7).
//!
//! P2 is the key domain (0 unless the device was initialised with tag 97). Every form answers
//! the domain's status: `total-shares outstanding KCV(8)`, KCV over the DKEK accumulated so far.
//!
//! SW choices: no DKEK configured in the domain `6A88`; domain index beyond the configured
//! number `6A86`; a share beyond the configured count `6986`; share not 32 bytes `6700`;
//! XKEK domains (P1 02) are not simulated (`6A86`). Importing a share needs no PIN (sc-hsm-tool
//! sends it without VERIFY); creating or deleting a domain (P1 01/03/04) needs the user PIN.

use crate::apdu::{self, Command, Response};
use crate::card::{CmdResult, Ctx};
use crate::crypto;
use crate::state::Domain;

pub fn manage(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    let index = usize::from(cmd.p2);
    if index >= ctx.state().domains.len() {
        return Err(apdu::SW_WRONG_P1P2);
    }
    match cmd.p1 {
        0x00 => import_share(ctx, index, &cmd.data),
        0x01 | 0x03 | 0x04 if ctx.profile.key_domains => {
            ctx.require_user()?;
            match cmd.p1 {
                0x01 => create_domain(ctx, index, &cmd.data),
                0x03 => delete_domain(ctx, index),
                _ => delete_dkek(ctx, index),
            }
        }
        _ => Err(apdu::SW_WRONG_P1P2),
    }
}

/// `total outstanding KCV(8)` of a configured domain, `6A88` for one without DKEK.
fn status(domain: &Domain) -> CmdResult {
    let total = domain.shares.ok_or(apdu::SW_REF_NOT_FOUND)?;
    let mut out = vec![total, domain.outstanding];
    out.extend_from_slice(&crypto::blob::kcv(&domain.dkek()));
    Ok(Response::ok(out))
}

fn import_share(ctx: &mut Ctx, index: usize, share: &[u8]) -> CmdResult {
    let domain = &ctx.state().domains[index];
    if domain.shares.is_none() {
        return Err(apdu::SW_REF_NOT_FOUND);
    }
    if share.is_empty() {
        return status(domain);
    }
    if share.len() != 32 {
        return Err(apdu::SW_WRONG_LENGTH);
    }
    if domain.outstanding == 0 {
        return Err(apdu::SW_NOT_ALLOWED);
    }
    let domain = &mut ctx.state_mut().domains[index];
    // DKEK = share1 XOR share2 XOR ... (DKEK.js).
    for (d, s) in domain.dkek.iter_mut().zip(share) {
        *d ^= s;
    }
    domain.outstanding -= 1;
    status(&ctx.state().domains[index])
}

fn create_domain(ctx: &mut Ctx, index: usize, data: &[u8]) -> CmdResult {
    let shares = match data {
        [n] => *n,
        _ => return Err(apdu::SW_WRONG_DATA),
    };
    if ctx.state().domains[index].shares.is_some() {
        return Err(apdu::SW_EXISTS);
    }
    let dkek = if shares == 0 {
        crypto::random_bytes(32)
    } else {
        vec![0; 32]
    };
    ctx.state_mut().domains[index] = Domain {
        shares: Some(shares),
        outstanding: shares,
        dkek,
    };
    status(&ctx.state().domains[index])
}

fn domain_in_use(ctx: &Ctx, index: usize) -> bool {
    ctx.state()
        .keys
        .values()
        .any(|k| usize::from(k.domain) == index)
}

fn delete_domain(ctx: &mut Ctx, index: usize) -> CmdResult {
    if ctx.state().domains[index].shares.is_none() {
        return Err(apdu::SW_REF_NOT_FOUND);
    }
    if domain_in_use(ctx, index) {
        return Err(apdu::SW_EXISTS);
    }
    ctx.state_mut().domains[index] = Domain::none();
    Ok(Response::ok(Vec::new()))
}

fn delete_dkek(ctx: &mut Ctx, index: usize) -> CmdResult {
    let Some(shares) = ctx.state().domains[index].shares else {
        return Err(apdu::SW_REF_NOT_FOUND);
    };
    if domain_in_use(ctx, index) {
        return Err(apdu::SW_EXISTS);
    }
    let dkek = if shares == 0 {
        crypto::random_bytes(32)
    } else {
        vec![0; 32]
    };
    ctx.state_mut().domains[index] = Domain {
        shares: Some(shares),
        outstanding: shares,
        dkek,
    };
    status(&ctx.state().domains[index])
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;

    fn import(card: &mut crate::Card, p2: u8, share: &[u8]) -> (Vec<u8>, u16) {
        tx(card, &apdu(0x80, 0x52, 0x00, p2, share, Some(256)))
    }

    #[test]
    fn shares_accumulate_with_the_documented_kcvs() {
        let (_d, mut card) = device("3.5", true, Some(2));
        select_applet(&mut card);
        let (status, sw) = tx(&mut card, &[0x80, 0x52, 0x00, 0x00, 0x00]);
        assert_eq!(sw, OK);
        // All-zero DKEK so far: KCV 66687AADF862BD77 (PROTOCOL.md §8.1).
        assert_eq!(hex::encode_upper(&status), "020266687AADF862BD77");
        let first: Vec<u8> = (0u8..32).collect();
        let (status, _) = import(&mut card, 0, &first);
        assert_eq!(hex::encode_upper(&status), "0201630DCD2966C43366");
        let (status, _) = import(&mut card, 0, &[0xFF; 32]);
        assert_eq!(hex::encode_upper(&status), "02001865C00831E73F7E");
        assert_eq!(
            import(&mut card, 0, &[0xFF; 32]).1,
            0x6986,
            "no share outstanding"
        );
        assert_eq!(import(&mut card, 0, &[0xFF; 31]).1, 0x6700);
        assert_eq!(import(&mut card, 1, &[]).1, 0x6A86, "one key domain only");
        // Survives a re-open.
        drop(card);
        let mut again = crate::Card::open(_d.path()).unwrap();
        select_applet(&mut again);
        let (status, _) = tx(&mut again, &[0x80, 0x52, 0x00, 0x00, 0x00]);
        assert_eq!(hex::encode_upper(&status), "02001865C00831E73F7E");
    }

    #[test]
    fn real_nitrokey_share_kcv() {
        let (_d, mut card) = device("3.1", true, Some(1));
        select_applet(&mut card);
        let share = hex::decode("2848CB6E994F5A00C365C3C255ED130512CE1EB06BF08D348EEB8B2F866E3E50")
            .unwrap();
        let (status, sw) = import(&mut card, 0, &share);
        assert_eq!(
            (hex::encode_upper(&status), sw),
            ("010097E303855DC1C54D".into(), OK)
        );
    }

    #[test]
    fn no_dkek_and_random_dkek() {
        let (_d, mut card) = device("3.5", true, None);
        select_applet(&mut card);
        assert_eq!(tx(&mut card, &[0x80, 0x52, 0x00, 0x00, 0x00]).1, 0x6A88);
        assert_eq!(import(&mut card, 0, &[1; 32]).1, 0x6A88);
        let (_d2, mut random) = device("3.5", true, Some(0));
        select_applet(&mut random);
        let (status, sw) = tx(&mut random, &[0x80, 0x52, 0x00, 0x00, 0x00]);
        assert_eq!((sw, status.len(), status[0], status[1]), (OK, 10, 0, 0));
        assert_ne!(
            hex::encode_upper(&status[2..]),
            "66687AADF862BD77",
            "random, not zero"
        );
    }

    #[test]
    fn key_domains_from_tag_97() {
        let (_d, mut card) = device("3.5", false, None);
        select_applet(&mut card);
        let mut d = vec![0x80, 0x02, 0x00, 0x01, 0x81, 0x06];
        d.extend_from_slice(PIN);
        d.extend([0x82, 0x08]);
        d.extend_from_slice(&SO_PIN);
        d.extend([0x92, 0x01, 0x01, 0x97, 0x01, 0x03]);
        assert_eq!(sw(&mut card, &apdu(0x80, 0x50, 0x00, 0x00, &d, None)), OK);
        assert_eq!(import(&mut card, 0, &[]).0[..2], [1, 1]);
        assert_eq!(
            import(&mut card, 2, &[]).1,
            0x6A88,
            "domain 2 has no DKEK yet"
        );
        assert_eq!(import(&mut card, 3, &[]).1, 0x6A86, "only 3 domains");
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x52, 0x01, 0x02, &[2], Some(256))),
            0x6982
        );
        assert_eq!(verify_pin(&mut card, PIN), OK);
        let (status, code) = tx(&mut card, &apdu(0x80, 0x52, 0x01, 0x02, &[2], Some(256)));
        assert_eq!((code, status[..2].to_vec()), (OK, vec![2, 2]));
        let (status, _) = import(&mut card, 2, &[5; 32]);
        assert_eq!(status[..2], [2, 1]);
        assert_eq!(
            import(&mut card, 0, &[]).0[..2],
            [1, 1],
            "domain 0 untouched"
        );
        let (status, _) = tx(&mut card, &apdu(0x80, 0x52, 0x04, 0x02, &[], Some(256)));
        assert_eq!(status[..2], [2, 2], "DKEK of domain 2 reset");
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x52, 0x03, 0x02, &[], Some(256))),
            OK
        );
        assert_eq!(import(&mut card, 2, &[]).1, 0x6A88, "domain 2 deleted");
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x52, 0x02, 0x01, &[], Some(256))),
            0x6A86
        );
    }
}
