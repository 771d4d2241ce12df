//! WRAP KEY (`80 72 id 92`, PROTOCOL.md §4.18) and UNWRAP KEY (`80 74 id 93`, §4.19), with the
//! key blob of §8.3 made and checked by `crypto::blob`.
//!
//! SW choices: no DKEK configured `6A88`; DKEK shares still outstanding `6985`; blob KCV or
//! CMAC mismatch, or a malformed blob, `6A80` (sc-hsm-tool: "Wrapped key does not match DKEK");
//! a key whose algorithm list lacks 0x92 `6A81`; the device key CC00 `6982`; UNWRAP into an
//! occupied slot `6A89`; a key this firmware cannot hold `6A80`; firmware 3.1 with a non-empty
//! algorithm list in the blob `6F00` (bug #168, nothing imported).
//!
//! UNWRAP with no data takes the blob from EF 2F10 and deletes 2F10 afterwards: hosts rewrite it
//! from offset 0, so a longer leftover blob would otherwise corrupt the next import.

use crate::apdu::{self, Command, Response};
use crate::card::{CmdResult, Ctx};
use crate::crypto::{self, curves};
use crate::keygen::store_key;
use crate::keys::{Key, KeyMaterial};

/// Staging file for blobs too large for one APDU (OpenSC >= 0.24).
pub const EF_UNWRAP_STAGING: u16 = 0x2F10;
const ALG_WRAP: u8 = 0x92;
const ALG_UNWRAP: u8 = 0x93;
/// Internal error ("no precise diagnosis").
const SW_INTERNAL: u16 = 0x6F00;

pub fn wrap(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if cmd.p2 != ALG_WRAP {
        return Err(apdu::SW_WRONG_P1P2);
    }
    ctx.require_user()?;
    if cmd.p1 == 0 {
        return Err(apdu::SW_SECURITY_STATUS);
    }
    let key = ctx
        .state()
        .keys
        .get(&cmd.p1)
        .ok_or(apdu::SW_REF_NOT_FOUND)?;
    if !key.algorithms.is_empty() && !key.algorithms.contains(&ALG_WRAP) {
        return Err(apdu::SW_FUNC_NOT_SUPPORTED);
    }
    let domain = ctx
        .state()
        .domains
        .get(usize::from(key.domain))
        .ok_or(apdu::SW_REF_NOT_FOUND)?;
    if domain.shares.is_none() {
        return Err(apdu::SW_REF_NOT_FOUND);
    }
    if domain.outstanding > 0 {
        return Err(apdu::SW_CONDITIONS);
    }
    let blob = crypto::blob::wrap(&domain.dkek(), key).map_err(|_| SW_INTERNAL)?;
    Ok(Response::ok(blob))
}

pub fn unwrap(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if cmd.p2 != ALG_UNWRAP || cmd.p1 == 0 {
        return Err(apdu::SW_WRONG_P1P2);
    }
    ctx.require_user()?;
    if ctx.state().keys.contains_key(&cmd.p1) {
        return Err(apdu::SW_EXISTS);
    }
    let blob = if cmd.data.is_empty() {
        let staged = ctx
            .state()
            .file(EF_UNWRAP_STAGING)
            .ok_or(apdu::SW_FILE_NOT_FOUND)?;
        let blob = staged.data.clone();
        ctx.state_mut().remove_file(EF_UNWRAP_STAGING);
        if ctx.session.current_ef == Some(EF_UNWRAP_STAGING) {
            ctx.session.current_ef = None;
        }
        blob
    } else {
        cmd.data.clone()
    };
    let domain = domain_for(ctx, &blob)?;
    let dkek = ctx.state().domains[domain].dkek();
    let mut key = crypto::blob::unwrap(&dkek, &blob).map_err(|_| apdu::SW_WRONG_DATA)?;
    if ctx.profile.unwrap_alglist_bug168 && !key.algorithms.is_empty() {
        return Err(SW_INTERNAL);
    }
    if !fits_profile(ctx, &key) {
        return Err(apdu::SW_WRONG_DATA);
    }
    key.domain = domain as u8;
    store_key(ctx, cmd.p1, key)?;
    Ok(Response::ok(Vec::new()))
}

/// The key domain whose complete DKEK has the blob's KCV.
fn domain_for(ctx: &Ctx, blob: &[u8]) -> Result<usize, u16> {
    let kcv = blob.get(..8).ok_or(apdu::SW_WRONG_DATA)?;
    let domains = &ctx.state().domains;
    if domains.iter().all(|d| d.shares.is_none()) {
        return Err(apdu::SW_REF_NOT_FOUND);
    }
    let matching = domains.iter().position(|d| {
        d.shares.is_some() && d.outstanding == 0 && crypto::blob::kcv(&d.dkek()) == kcv
    });
    match matching {
        Some(i) => Ok(i),
        None if domains
            .iter()
            .any(|d| d.shares.is_some() && d.outstanding > 0) =>
        {
            Err(apdu::SW_CONDITIONS)
        }
        None => Err(apdu::SW_WRONG_DATA),
    }
}

/// Whether this firmware can hold the key (HSM 1: RSA <= 2048, EC <= 320 bits, no AES).
fn fits_profile(ctx: &Ctx, key: &Key) -> bool {
    let p = ctx.profile;
    match &key.material {
        KeyMaterial::Rsa { .. } => crypto::key_bits(&key.material) <= p.rsa_max_bits,
        KeyMaterial::Ec { curve, .. } => {
            curves::by_name(curve).is_some_and(|c| c.bits() <= p.ec_max_bits)
        }
        KeyMaterial::Aes { .. } => p.aes,
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;
    use crate::tlv;
    use p256::ecdsa::signature::hazmat::PrehashVerifier;

    const SHARE: [u8; 32] = [0x11; 32];

    /// An initialised, logged-in 1-share device whose DKEK is `share`.
    fn dkek_device(fw: &str, share: &[u8; 32]) -> (TempDir, crate::Card) {
        let (d, mut card) = device(fw, true, Some(1));
        login(&mut card);
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x52, 0x00, 0x00, share, Some(256))),
            OK
        );
        (d, card)
    }

    fn wrap_key(card: &mut crate::Card, id: u8) -> (Vec<u8>, u16) {
        tx(card, &apdu(0x80, 0x72, id, 0x92, &[], Some(65536)))
    }

    fn unwrap_key(card: &mut crate::Card, id: u8, blob: &[u8]) -> u16 {
        sw(card, &apdu(0x80, 0x74, id, 0x93, blob, None))
    }

    fn ec_vk(req: &[u8]) -> p256::ecdsa::VerifyingKey {
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&pk_field(&request_public_key(req), 0x86))
            .unwrap()
    }

    fn sign_verifies(card: &mut crate::Card, id: u8, vk: &p256::ecdsa::VerifyingKey) {
        let hash = [0x33u8; 32];
        let (der, code) = tx(card, &apdu(0x80, 0x68, id, 0x70, &hash, Some(65536)));
        assert_eq!(code, OK);
        vk.verify_prehash(&hash, &p256::ecdsa::Signature::from_der(&der).unwrap())
            .unwrap();
    }

    fn key_ids(card: &mut crate::Card) -> Vec<u8> {
        let (list, _) = tx(card, &[0x80, 0x58, 0x00, 0x00, 0x00, 0x00, 0x00]);
        list.chunks(2)
            .filter(|c| c[0] == 0xCC && c[1] != 0)
            .map(|c| c[1])
            .collect()
    }

    #[test]
    fn wrap_then_unwrap_on_another_device_and_sign() {
        let (_a, mut a) = dkek_device("3.5", &SHARE);
        let vk = ec_vk(&generate(&mut a, 1, gakp_ec_body("secp256r1"), &[]));
        let (blob, code) = wrap_key(&mut a, 1);
        assert_eq!(code, OK);
        let (_b, mut b) = dkek_device("3.5", &SHARE);
        assert_eq!(unwrap_key(&mut b, 7, &blob), OK);
        assert_eq!(key_ids(&mut b), vec![7]);
        sign_verifies(&mut b, 7, &vk);
        assert_eq!(unwrap_key(&mut b, 7, &blob), 0x6A89, "slot occupied");
        // The same through the staging file 2F10 (OpenSC >= 0.24), written in chunks.
        for (i, chunk) in blob.chunks(100).enumerate() {
            let mut body = vec![0x54, 0x02];
            body.extend(((i * 100) as u16).to_be_bytes());
            body.extend(tlv::encode(0x53, chunk));
            assert_eq!(sw(&mut b, &apdu(0x00, 0xD7, 0x2F, 0x10, &body, None)), OK);
        }
        assert_eq!(sw(&mut b, &[0x80, 0x74, 0x08, 0x93]), OK);
        sign_verifies(&mut b, 8, &vk);
        assert_eq!(
            sw(
                &mut b,
                &apdu(0x00, 0xA4, 0x00, 0x00, &[0x2F, 0x10], Some(256))
            ),
            0x6A82,
            "2F10 consumed"
        );
        assert_eq!(
            sw(&mut b, &[0x80, 0x74, 0x09, 0x93]),
            0x6A82,
            "nothing staged"
        );
    }

    #[test]
    fn rsa_key_survives_wrap_and_unwrap() {
        let (_a, mut a) = dkek_device("3.5", &SHARE);
        generate(&mut a, 1, gakp_rsa_body(1024), &[]);
        let (blob, code) = wrap_key(&mut a, 1);
        assert_eq!(code, OK);
        let (sig_a, _) = tx(&mut a, &apdu(0x80, 0x68, 1, 0x33, b"m", Some(65536)));
        let (_b, mut b) = dkek_device("2.6", &SHARE);
        assert_eq!(unwrap_key(&mut b, 1, &blob), OK, "RSA 1024 fits an HSM 1");
        // PKCS#1 v1.5 signatures are deterministic: same key, same signature.
        let (sig_b, _) = tx(&mut b, &apdu(0x80, 0x68, 1, 0x33, b"m", Some(65536)));
        assert_eq!(sig_a, sig_b);
    }

    #[test]
    fn dkek_conditions() {
        let (_n, mut none) = device("3.5", true, None);
        login(&mut none);
        generate(&mut none, 1, gakp_ec_body("secp256r1"), &[]);
        assert_eq!(wrap_key(&mut none, 1).1, 0x6A88, "no DKEK");

        let (_a, mut a) = dkek_device("3.5", &SHARE);
        generate(&mut a, 1, gakp_ec_body("secp256r1"), &[]);
        generate(&mut a, 2, gakp_ec_body("secp256r1"), &[0x91, 0x01, 0x73]);
        generate(&mut a, 3, gakp_ec_body("secp384r1"), &[]);
        let (blob, _) = wrap_key(&mut a, 1);
        assert_eq!(unwrap_key(&mut none, 2, &blob), 0x6A88);
        assert_eq!(wrap_key(&mut a, 2).1, 0x6A81, "list without 92");
        assert_eq!(wrap_key(&mut a, 0).1, 0x6982, "device key");
        assert_eq!(wrap_key(&mut a, 9).1, 0x6A88);
        assert_eq!(
            sw(&mut a, &apdu(0x80, 0x72, 1, 0x93, &[], Some(65536))),
            0x6A86
        );

        let (_p, mut partial) = device("3.5", true, Some(2));
        login(&mut partial);
        assert_eq!(
            sw(
                &mut partial,
                &apdu(0x80, 0x52, 0x00, 0x00, &SHARE, Some(256))
            ),
            OK
        );
        generate(&mut partial, 1, gakp_ec_body("secp256r1"), &[]);
        assert_eq!(wrap_key(&mut partial, 1).1, 0x6985, "share outstanding");
        assert_eq!(unwrap_key(&mut partial, 2, &blob), 0x6985);

        let (_o, mut other) = dkek_device("3.5", &[0x22; 32]);
        assert_eq!(unwrap_key(&mut other, 1, &blob), 0x6A80, "KCV mismatch");
        let (_s, mut same) = dkek_device("3.5", &SHARE);
        let mut tampered = blob.clone();
        let at = tampered.len() - 20;
        tampered[at] ^= 1;
        assert_eq!(unwrap_key(&mut same, 1, &tampered), 0x6A80, "CMAC mismatch");
        assert_eq!(unwrap_key(&mut same, 1, &blob[..5]), 0x6A80);
        assert!(key_ids(&mut same).is_empty());

        let (big, _) = wrap_key(&mut a, 3);
        let (_h, mut hsm1) = dkek_device("2.6", &SHARE);
        assert_eq!(
            unwrap_key(&mut hsm1, 1, &big),
            0x6A80,
            "P-384 does not fit an HSM 1"
        );
        select_applet(&mut same);
        assert_eq!(unwrap_key(&mut same, 1, &blob), 0x6982);
    }

    #[test]
    fn bug_168_on_3_1_only() {
        let (_a, mut a) = dkek_device("3.5", &SHARE);
        let vk = ec_vk(&generate(
            &mut a,
            1,
            gakp_ec_body("secp256r1"),
            &[0x91, 0x02, 0x70, 0x92],
        ));
        generate(&mut a, 2, gakp_ec_body("secp256r1"), &[]);
        let (restricted, _) = wrap_key(&mut a, 1);
        let (open, _) = wrap_key(&mut a, 2);

        let (_b, mut fw31) = dkek_device("3.1", &SHARE);
        assert_eq!(unwrap_key(&mut fw31, 1, &restricted), 0x6F00);
        assert!(key_ids(&mut fw31).is_empty(), "nothing imported");
        assert_eq!(
            unwrap_key(&mut fw31, 2, &open),
            OK,
            "an empty list imports on 3.1"
        );
        // Wrapping works on 3.1 (the bug is in UNWRAP only).
        generate(
            &mut fw31,
            3,
            gakp_ec_body("secp256r1"),
            &[0x91, 0x02, 0x70, 0x92],
        );
        assert_eq!(wrap_key(&mut fw31, 3).1, OK);

        let (_c, mut fw32) = dkek_device("3.2", &SHARE);
        assert_eq!(unwrap_key(&mut fw32, 1, &restricted), OK);
        sign_verifies(&mut fw32, 1, &vk);
        let (_, code) = tx(&mut fw32, &apdu(0x80, 0x68, 1, 0x73, b"x", Some(256)));
        assert_eq!(code, 0x6A81, "the list came along");
    }

    #[test]
    fn real_nitrokey_blob_imports_and_signs() {
        use k256::ecdsa::signature::hazmat::PrehashVerifier as _;
        let file = include_bytes!("../tests/data/nitrokey-hsm2-secp256k1.wky");
        let outer = tlv::parse_all(file).unwrap();
        let items = tlv::parse_all(tlv::find(&outer, 0x30).unwrap()).unwrap();
        let blob = tlv::find(&items, 0x04).unwrap();
        let request = tlv::encode(0x67, tlv::find(&items, 0x67).unwrap());
        let q = pk_field(&request_public_key(&request), 0x86);
        let share: [u8; 32] =
            hex::decode("2848CB6E994F5A00C365C3C255ED130512CE1EB06BF08D348EEB8B2F866E3E50")
                .unwrap()
                .try_into()
                .unwrap();
        let (_d, mut card) = dkek_device("3.1", &share);
        assert_eq!(unwrap_key(&mut card, 1, blob), OK);
        let hash = [0x5Au8; 32];
        let (der, code) = tx(&mut card, &apdu(0x80, 0x68, 1, 0x70, &hash, Some(256)));
        assert_eq!(code, OK);
        let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&q).unwrap();
        vk.verify_prehash(&hash, &k256::ecdsa::Signature::from_der(&der).unwrap())
            .unwrap();
    }
}

#[cfg(test)]
mod robustness {
    use crate::testutil::*;

    /// xorshift: reproducible noise without a dependency.
    fn noise(seed: &mut u32, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 17;
                *seed ^= *seed << 5;
                *seed as u8
            })
            .collect()
    }

    #[test]
    fn garbage_blobs_and_crypto_inputs_never_panic() {
        let (_d, mut card) = device("3.5", true, Some(1));
        login(&mut card);
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x52, 0, 0, &[9; 32], Some(256))),
            OK
        );
        generate(&mut card, 1, gakp_ec_body("secp256r1"), &[]);
        generate(&mut card, 2, gakp_rsa_body(1024), &[]);
        assert_eq!(sw(&mut card, &apdu(0x00, 0x48, 3, 0xB2, &[], None)), OK);
        let (blob, _) = tx(&mut card, &apdu(0x80, 0x72, 1, 0x92, &[], Some(65536)));
        let mut seed = 0x9E37_79B9u32;
        for round in 0..400usize {
            let len = round % 300;
            // A blob with the right KCV and header but noise after it.
            let mut bad = blob[..27.min(blob.len())].to_vec();
            bad.extend(noise(&mut seed, len));
            assert_ne!(sw(&mut card, &apdu(0x80, 0x74, 9, 0x93, &bad, None)), OK);
            let data = noise(&mut seed, len);
            for (ins, id, p2) in [
                (0x68, 1, 0x70),
                (0x68, 1, 0x73),
                (0x68, 2, 0x20),
                (0x68, 2, 0x30),
                (0x68, 2, 0x40),
                (0x62, 1, 0x80),
                (0x62, 2, 0x21),
                (0x78, 3, 0x11),
                (0x78, 3, 0x18),
                (0x46, 4, 0x00),
                (0x50, 0, 0x00),
            ] {
                if ins == 0x50 && round % 50 != 0 {
                    continue;
                }
                let r = card.transmit(&apdu(0x80, ins, id, p2, &data, Some(65536)));
                assert!(r.len() >= 2);
            }
        }
    }
}
