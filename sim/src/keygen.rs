//! GENERATE ASYMMETRIC KEY PAIR (`00 46`, PROTOCOL.md §4.7) and GENERATE SYMMETRIC KEY (`00 48`,
//! §4.8).
//!
//! Choices: a key id already in use is overwritten (the new key replaces the old one and its
//! CE file), as pico-hsm does; hosts (OpenSC, sc-hsm-embedded) always pick a free id, and
//! UNWRAP, which the documentation says needs a free slot, answers 6A89 instead. Key id 0 (the
//! device key) answers `6A86`. Unsupported sizes or curves answer `6A80`, memory exhausted `6A84`.
//! GSK tag 93 (return the key wrapped under another key) is not simulated (`6A80`).

use crate::apdu::{self, Command, Response};
use crate::card::{CmdResult, Ctx};
use crate::crypto::{self, curves, cvc};
use crate::keys::{Key, KeyMaterial};
use crate::state::key_footprint;
use crate::tlv::{self, Tlv};

/// TR-03110 TA OIDs (content bytes) start with these 9 bytes; the 10th picks the hash.
const TA_RSA_PREFIX: [u8; 9] = [0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x01];
const TA_ECDSA_PREFIX: [u8; 9] = [0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02];
/// 2.16.840.1.101.3.4.1 (AES), the default algorithm of AES keys in key blobs.
pub const AES_OID: [u8; 8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01];
pub const FID_PREFIX_CERT: u16 = 0xCE00;
const MIN_RSA_BITS: usize = 1024;

/// Tags 90 (use counter), 91 (algorithm list), 92 (key domain), shared by both commands.
struct KeyAttrs {
    use_counter: Option<u32>,
    algorithms: Vec<u8>,
    domain: u8,
}

fn key_attrs(ctx: &Ctx, tlvs: &[Tlv]) -> Result<KeyAttrs, u16> {
    let use_counter = match tlv::find(tlvs, 0x90) {
        None => None,
        Some(v) if (1..=4).contains(&v.len()) => {
            let n = v.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            if n == 0 {
                return Err(apdu::SW_WRONG_DATA);
            }
            Some(n)
        }
        Some(_) => return Err(apdu::SW_WRONG_DATA),
    };
    let algorithms = tlv::find(tlvs, 0x91).unwrap_or(&[]).to_vec();
    if algorithms.len() > 16 {
        return Err(apdu::SW_WRONG_DATA);
    }
    let domain = match tlv::find(tlvs, 0x92) {
        None => 0,
        Some([d]) if usize::from(*d) < ctx.state().domains.len() => *d,
        Some(_) => return Err(apdu::SW_WRONG_DATA),
    };
    Ok(KeyAttrs {
        use_counter,
        algorithms,
        domain,
    })
}

/// Stores `key` under `id` unless the memory budget forbids it.
pub(crate) fn store_key(ctx: &mut Ctx, id: u8, key: Key) -> Result<(), u16> {
    let freed = ctx.state().keys.get(&id).map(key_footprint).unwrap_or(0);
    let used = ctx.state().memory_used() - freed;
    if used + key_footprint(&key) > ctx.profile.memory {
        return Err(apdu::SW_NO_MEMORY);
    }
    ctx.state_mut().keys.insert(id, key);
    Ok(())
}

fn be_usize(v: &[u8]) -> Option<usize> {
    (!v.is_empty() && v.len() <= 4)
        .then(|| v.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b)))
}

/// Generates the key the public-key template `7F49` asks for, within the profile's limits.
fn generate_from_template(ctx: &Ctx, oid: &[u8], pk: &[Tlv]) -> Result<KeyMaterial, u16> {
    if oid.len() == 10 && oid.starts_with(&TA_RSA_PREFIX) {
        let bits = tlv::find(pk, 0x02)
            .and_then(be_usize)
            .ok_or(apdu::SW_WRONG_DATA)?;
        if bits < MIN_RSA_BITS || bits > ctx.profile.rsa_max_bits || bits % 8 != 0 {
            return Err(apdu::SW_WRONG_DATA);
        }
        let exponent = tlv::find(pk, 0x82).unwrap_or(&[0x01, 0x00, 0x01]);
        return crypto::generate_rsa(bits, exponent).map_err(|_| apdu::SW_WRONG_DATA);
    }
    if oid.len() == 10 && oid.starts_with(&TA_ECDSA_PREFIX) {
        let get = |tag| tlv::find(pk, tag).ok_or(apdu::SW_WRONG_DATA);
        let curve = curves::by_params(get(0x81)?, get(0x82)?, get(0x83)?, get(0x84)?, get(0x85)?)
            .ok_or(apdu::SW_WRONG_DATA)?;
        if curve.bits() > ctx.profile.ec_max_bits {
            return Err(apdu::SW_WRONG_DATA);
        }
        return Ok(crypto::generate_ec(curve));
    }
    Err(apdu::SW_WRONG_DATA)
}

pub fn generate_asymmetric(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    ctx.require_user()?;
    let id = cmd.p1;
    if id == 0 {
        return Err(apdu::SW_WRONG_P1P2);
    }
    let body = tlv::parse_all(&cmd.data).map_err(|_| apdu::SW_WRONG_DATA)?;
    let car = tlv::find(&body, 0x42);
    if car.is_none() && ctx.profile.gakp_requires_car {
        return Err(apdu::SW_WRONG_DATA);
    }
    let chr = tlv::find(&body, 0x5F20).ok_or(apdu::SW_WRONG_DATA)?;
    let template = tlv::find(&body, 0x7F49).ok_or(apdu::SW_WRONG_DATA)?;
    let pk = tlv::parse_all(template).map_err(|_| apdu::SW_WRONG_DATA)?;
    let oid = tlv::find(&pk, 0x06).ok_or(apdu::SW_WRONG_DATA)?;
    let attrs = key_attrs(ctx, &body)?;
    // The outer signature: the device key CC00, or (P2 != 0) another key of the device whose
    // CHR the host gives in tag 45.
    let (signer, signer_chr) = if cmd.p2 == 0 {
        (
            ctx.state().device_key.clone(),
            ctx.state().device_chr.as_bytes().to_vec(),
        )
    } else {
        let key = ctx
            .state()
            .keys
            .get(&cmd.p2)
            .ok_or(apdu::SW_REF_NOT_FOUND)?;
        let outer_car = tlv::find(&body, 0x45).ok_or(apdu::SW_WRONG_DATA)?;
        (key.material.clone(), outer_car.to_vec())
    };
    let material = generate_from_template(ctx, oid, &pk)?;
    let request = cvc::authenticated_request(&material, oid, car, chr, &signer, &signer_chr)
        .map_err(|_| apdu::SW_WRONG_DATA)?;
    let key = Key {
        material,
        algorithms: attrs.algorithms,
        domain: attrs.domain,
        use_counter: attrs.use_counter,
        default_algorithm: oid.to_vec(),
    };
    store_key(ctx, id, key)?;
    // The card keeps the request as EF CE<id> (hosts read the public key from it).
    ctx.state_mut()
        .put_file(FID_PREFIX_CERT | u16::from(id), request.clone());
    Ok(Response::ok(request))
}

pub fn generate_symmetric(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if !ctx.profile.aes {
        return Err(apdu::SW_INS_NOT_SUPPORTED);
    }
    let len = match cmd.p2 {
        0xB0 => 16,
        0xB1 => 24,
        0xB2 => 32,
        _ => return Err(apdu::SW_WRONG_P1P2),
    };
    ctx.require_user()?;
    if cmd.p1 == 0 {
        return Err(apdu::SW_WRONG_P1P2);
    }
    let tlvs = tlv::parse_all(&cmd.data).map_err(|_| apdu::SW_WRONG_DATA)?;
    if tlv::find(&tlvs, 0x93).is_some() {
        return Err(apdu::SW_WRONG_DATA);
    }
    let attrs = key_attrs(ctx, &tlvs)?;
    let material = crypto::generate_aes(len).map_err(|_| apdu::SW_WRONG_DATA)?;
    let key = Key {
        material,
        algorithms: attrs.algorithms,
        domain: attrs.domain,
        use_counter: attrs.use_counter,
        default_algorithm: AES_OID.to_vec(),
    };
    store_key(ctx, cmd.p1, key)?;
    Ok(Response::ok(Vec::new()))
}

#[cfg(test)]
mod tests {
    use crate::crypto::curves;
    use crate::testutil::*;
    use crate::tlv;
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use sha2::Digest;

    #[test]
    fn ec_request_is_stored_in_ce_and_echoes_car_chr() {
        let (dir, mut card) = device("3.5", true, None);
        select_applet(&mut card);
        let body = gakp_ec_body("secp256r1");
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x46, 0x01, 0x00, &body, Some(65536))),
            0x6982
        );
        assert_eq!(verify_pin(&mut card, PIN), OK);
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x46, 0x00, 0x00, &body, Some(65536))),
            0x6A86
        );
        let req = generate(&mut card, 1, body, &[]);
        let outer = tlv::parse_all(&req).unwrap();
        let a = tlv::parse_all(tlv::find(&outer, 0x67).unwrap()).unwrap();
        let state = crate::state::Store::open(dir.path())
            .unwrap()
            .load()
            .unwrap();
        assert_eq!(
            tlv::find(&a, 0x42).unwrap(),
            state.device_chr.as_bytes(),
            "outer CAR"
        );
        let cert = tlv::parse_all(tlv::find(&a, 0x7F21).unwrap()).unwrap();
        let body_tlv = tlv::encode(0x7F4E, tlv::find(&cert, 0x7F4E).unwrap());
        let fields = tlv::parse_all(tlv::find(&cert, 0x7F4E).unwrap()).unwrap();
        assert_eq!(tlv::find(&fields, 0x42).unwrap(), b"UTCA00001");
        assert_eq!(tlv::find(&fields, 0x5F20).unwrap(), b"DENK010000100001");
        // The inner signature is the new key's ECDSA-SHA256 (r‖s) over the 7F4E TLV.
        let q = pk_field(&request_public_key(&req), 0x86);
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&q).unwrap();
        let sig = p256::ecdsa::Signature::from_slice(tlv::find(&cert, 0x5F37).unwrap()).unwrap();
        vk.verify_prehash(&sha2::Sha256::digest(&body_tlv), &sig)
            .unwrap();
        // The card keeps it as CE01.
        let (ce, code) = tx(
            &mut card,
            &apdu(0x00, 0xB1, 0xCE, 0x01, &[0x54, 0x02, 0, 0], Some(65536)),
        );
        assert_eq!((ce, code), (req, OK));
    }

    #[test]
    fn every_supported_curve_within_the_profile() {
        for fw in ["2.6", "3.5"] {
            let (_d, mut card) = device(fw, true, None);
            login(&mut card);
            let max = crate::profile::by_name(fw).unwrap().ec_max_bits;
            for (i, curve) in curves::supported().iter().enumerate() {
                let body = gakp_ec_body(curve.name);
                let id = i as u8 + 1;
                let code = sw(&mut card, &apdu(0x00, 0x46, id, 0x00, &body, Some(65536)));
                if curve.bits() > max {
                    assert_eq!(code, 0x6A80, "{fw} {}", curve.name);
                    continue;
                }
                assert_eq!(code, OK, "{fw} {}", curve.name);
                let (sig, code) = tx(
                    &mut card,
                    &apdu(0x80, 0x68, id, 0x70, &[0x5A; 32], Some(65536)),
                );
                assert_eq!(
                    (code, sig[0]),
                    (OK, 0x30),
                    "{fw} {} ECDSA answers DER",
                    curve.name
                );
            }
        }
    }

    #[test]
    fn sizes_and_parameters_outside_the_profile() {
        let (_d, mut card) = device("2.6", true, None);
        login(&mut card);
        for bits in [512u16, 1028, 4096, 3072] {
            let body = gakp_rsa_body(bits);
            assert_eq!(
                sw(&mut card, &apdu(0x00, 0x46, 1, 0, &body, Some(65536))),
                0x6A80,
                "{bits}"
            );
        }
        let mut body = gakp_ec_body("secp256r1");
        let at = body.windows(2).position(|w| w == [0x81, 0x20]).unwrap() + 2;
        body[at + 31] ^= 1; // not a known prime any more
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x46, 1, 0, &body, Some(65536))),
            0x6A80
        );
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x48, 1, 0xB0, &[], None)),
            0x6D00,
            "no AES on HSM 1"
        );
        let mut bad_domain = gakp_ec_body("secp256r1");
        bad_domain.extend([0x92, 0x01, 0x01]);
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x46, 1, 0, &bad_domain, Some(65536))),
            0x6A80
        );
    }

    #[test]
    fn old_firmware_requires_a_car() {
        let (_d, mut card) = device("1.2", true, None);
        login(&mut card);
        let body: Vec<u8> = gakp_ec_body("secp256r1");
        let (_, rest) = tlv::parse_one(&body).unwrap(); // drop 5F29
        let (_, without_car) = tlv::parse_one(rest).unwrap(); // drop 42
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x46, 1, 0, without_car, Some(65536))),
            0x6A80
        );
        assert_eq!(
            sw(&mut card, &apdu(0x00, 0x46, 1, 0, &body, Some(65536))),
            OK
        );
    }

    #[test]
    fn an_id_in_use_is_overwritten() {
        let (_d, mut card) = device("3.5", true, None);
        login(&mut card);
        let first = generate(&mut card, 1, gakp_ec_body("secp256r1"), &[]);
        let second = generate(&mut card, 1, gakp_ec_body("secp256r1"), &[]);
        assert_ne!(
            pk_field(&request_public_key(&first), 0x86),
            pk_field(&request_public_key(&second), 0x86)
        );
        let (ce, _) = tx(
            &mut card,
            &apdu(0x00, 0xB1, 0xCE, 0x01, &[0x54, 0x02, 0, 0], Some(65536)),
        );
        assert_eq!(ce, second);
    }

    #[test]
    fn aes_keys_and_cipher() {
        let (_d, mut card) = device("3.2", true, None);
        login(&mut card);
        assert_eq!(sw(&mut card, &apdu(0x00, 0x48, 1, 0xB3, &[], None)), 0x6A86);
        for (id, p2) in [(1u8, 0xB0u8), (2, 0xB1), (3, 0xB2)] {
            assert_eq!(
                sw(
                    &mut card,
                    &apdu(0x00, 0x48, id, p2, &[0x91, 0x03, 0x10, 0x11, 0x18], None)
                ),
                OK
            );
            let plain = [0x42u8; 48];
            let (ct, code) = tx(&mut card, &apdu(0x80, 0x78, id, 0x10, &plain, Some(256)));
            assert_eq!((code, ct.len()), (OK, 48));
            assert_ne!(ct, plain);
            assert_eq!(
                tx(&mut card, &apdu(0x80, 0x78, id, 0x11, &ct, Some(256))),
                (plain.to_vec(), OK)
            );
            let (mac, code) = tx(
                &mut card,
                &apdu(0x80, 0x78, id, 0x18, b"message", Some(256)),
            );
            assert_eq!((code, mac.len()), (OK, 16));
            assert_eq!(
                sw(&mut card, &apdu(0x80, 0x78, id, 0x10, &[0; 15], Some(256))),
                0x6A80
            );
            assert_eq!(
                sw(&mut card, &apdu(0x80, 0x78, id, 0x99, &[0; 16], Some(256))),
                0x6A86
            );
            assert_eq!(
                sw(&mut card, &apdu(0x80, 0x68, id, 0x70, &[0; 32], Some(256))),
                0x6A81
            );
        }
        // An algorithm list without CMAC forbids it.
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x00, 0x48, 4, 0xB2, &[0x91, 0x01, 0x10], None)
            ),
            OK
        );
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x78, 4, 0x18, b"m", Some(256))),
            0x6A81
        );
    }
}
