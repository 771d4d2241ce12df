//! Key domains (PROTOCOL.md §4.6, §8.7; issue 4 "The DKEK as an object"), through the token API
//! over in-process simulated devices: one DKEK object per domain with a complete DKEK, key
//! generation into a domain (CKA_SCHSM_KEY_DOMAIN → tag 92), C_WrapKey refused with another
//! domain's DKEK object, unwrap into a second device's matching domain, and no extra APDU on
//! firmware without key domains.

mod token_ops_common;
mod token_support;
mod wrap_common;

use std::path::Path;

use cryptoki_sys::*;
use schsm_pkcs11::card::dkek::{Dkek, DkekShare};
use schsm_pkcs11::card::wrapped_file::WrappedKeyFile;
use schsm_pkcs11::card::{InitParams, SoPin};
use schsm_pkcs11::token::api::Error;
use schsm_pkcs11::vendor::CKA_SCHSM_KEY_DOMAIN;
use token_ops_common::*;
use token_support::*;
use wrap_common::*;

/// Domain 1's share, the same on both devices; domain 0 differs per device.
const DOMAIN1_SHARE: [u8; 32] = [0xD1; 32];

fn kcv(share: [u8; 32]) -> Vec<u8> {
    Dkek::from_shares(&[DkekShare::new(share)]).kcv().to_vec()
}

/// Re-initialises device `dir` with 2 key domains (tag 97), one share each, as KeyManager would:
/// domain 0 from tag 92, domain 1 created with `80 52 01 01` and its share imported.
fn two_domains(env: &Env, i: usize, domain0_share: [u8; 32]) {
    let mut dev = env.device(i);
    let mut p = InitParams::new(SoPin::new(SO_PIN_BYTES), PIN);
    p.dkek_shares = Some(1);
    p.key_domains = Some(2);
    dev.initialize(&p).unwrap();
    dev.import_dkek_share(&DkekShare::new(domain0_share))
        .unwrap();
    dev.verify_pin(PIN).unwrap();
    assert_eq!(dev.create_key_domain(1, 1).unwrap().outstanding_shares, 1);
    let status = dev
        .import_dkek_share_into(1, &DkekShare::new(DOMAIN1_SHARE))
        .unwrap();
    assert!(status.is_complete());
    assert_eq!(status.kcv.to_vec(), kcv(DOMAIN1_SHARE));
}

/// A DKEK object: (handle, label, KCV, CKA_SCHSM_KEY_DOMAIN).
type DkekObject = (CK_OBJECT_HANDLE, Vec<u8>, Vec<u8>, Vec<u8>);

/// The DKEK objects of a session, in domain order.
fn dkek_objects(s: CK_SESSION_HANDLE) -> Vec<DkekObject> {
    let mut out: Vec<_> = find(
        s,
        &[
            class(CKO_SECRET_KEY),
            attr(CKA_KEY_TYPE, ulong(CKK_GENERIC_SECRET)),
        ],
    )
    .into_iter()
    .map(|h| {
        (
            h,
            get(s, h, CKA_LABEL),
            get(s, h, CKA_CHECK_VALUE),
            get(s, h, CKA_SCHSM_KEY_DOMAIN),
        )
    })
    .collect();
    out.sort_by(|a, b| a.3.cmp(&b.3));
    out
}

fn blob_kcv(envelope: &[u8]) -> Vec<u8> {
    WrappedKeyFile::decode(envelope).unwrap().blob[..8].to_vec()
}

fn key_domain_on_card(dir: &Path, id: u8) -> u8 {
    sim_key(dir, id).domain
}

#[test]
fn wrap_and_unwrap_across_key_domains() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.5"), dev("3.5")], &[], None);
    two_domains(&env, 0, SHARE);
    two_domains(&env, 1, OTHER_SHARE);
    env.reinitialize();
    let (s1, s2) = (user_session(&env, 0), user_session(&env, 1));

    // Two DKEK objects per device, with their KCVs and domains.
    let d1 = dkek_objects(s1);
    assert_eq!(d1.len(), 2, "one DKEK object per domain");
    assert_eq!(
        (d1[0].1.as_slice(), d1[0].2.clone(), d1[0].3.clone()),
        (&b"DKEK"[..], kcv(SHARE), vec![0])
    );
    assert_eq!(
        (d1[1].1.as_slice(), d1[1].2.clone(), d1[1].3.clone()),
        (&b"DKEK 1"[..], kcv(DOMAIN1_SHARE), vec![1])
    );
    assert_eq!(get(s1, d1[1].0, CKA_ID), kcv(DOMAIN1_SHARE));
    assert!(get_bool(s1, d1[1].0, CKA_WRAP) && get_bool(s1, d1[1].0, CKA_UNWRAP));
    assert!(!get_bool(s1, d1[1].0, CKA_EXTRACTABLE));
    assert_eq!(
        find(s1, &[attr(CKA_SCHSM_KEY_DOMAIN, vec![1])]),
        vec![d1[1].0]
    );
    let d2 = dkek_objects(s2);
    assert_eq!(d2.len(), 2);
    assert_eq!(
        (d2[0].2.clone(), d2[1].2.clone()),
        (kcv(OTHER_SHARE), kcv(DOMAIN1_SHARE))
    );

    // Key generation into domain 1: tag 92 reaches the card.
    let (public, private) =
        ec_pair(s1, "secp256r1", &[attr(CKA_SCHSM_KEY_DOMAIN, vec![1])]).unwrap();
    let id = get(s1, private, schsm_pkcs11::vendor::CKA_SCHSM_KEY_ID)[0];
    assert_eq!(key_domain_on_card(&env.dirs[0], id), 1);
    let point = ec_point(s1, public);

    // Wrap with the domain-1 DKEK object: a blob under domain 1's DKEK.
    let envelope = wrap(s1, d1[1].0, private).unwrap();
    assert_eq!(blob_kcv(&envelope), kcv(DOMAIN1_SHARE));
    // With domain 0's object: refused (the card wraps under the key's own domain).
    assert_eq!(
        wrap(s1, d1[0].0, private),
        Err(Error::WrappingKeyTypeInconsistent)
    );

    // Device 2: its domain-0 DKEK does not match the blob: refused, nothing sent.
    let before = apdus(&env.dirs[1]);
    assert_eq!(
        unwrap(s2, d2[0].0, &envelope, &[]),
        Err(Error::WrappedKeyInvalid)
    );
    assert_eq!(
        apdus(&env.dirs[1]),
        before,
        "nothing sent for a foreign blob"
    );
    // Its domain-1 DKEK does: the key lands in domain 1 and signs.
    let key = unwrap(s2, d2[1].0, &envelope, &[]).unwrap();
    let new_id = get(s2, key, schsm_pkcs11::vendor::CKA_SCHSM_KEY_ID)[0];
    assert_eq!(key_domain_on_card(&env.dirs[1], new_id), 1);
    let sig = sign(s2, &mech(CKM_ECDSA_SHA256), key, MESSAGE).unwrap();
    assert!(p256_verifies(&point, MESSAGE, &sig));
    // And wraps again under domain 1 on device 2.
    assert_eq!(
        blob_kcv(&wrap(s2, d2[1].0, key).unwrap()),
        kcv(DOMAIN1_SHARE)
    );

    // A domain the device does not have: the card refuses the generation.
    assert!(ec_pair(s1, "secp256r1", &[attr(CKA_SCHSM_KEY_DOMAIN, vec![5])]).is_err());
    assert_eq!(
        ec_pair(s1, "secp256r1", &[attr(CKA_SCHSM_KEY_DOMAIN, vec![1, 2])]),
        Err(Error::AttributeValueInvalid)
    );
}

#[test]
fn hsm1_has_one_dkek_object_and_no_extra_apdu() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("2.6")], &[SHARE], None);
    let s = user_session(&env, 0);
    let before = apdus(&env.dirs[0]);
    let objects = dkek_objects(s);
    // ENUMERATE and the DKEK status of domain 0, nothing else.
    assert_eq!(apdus(&env.dirs[0]) - before, 2);
    assert_eq!(objects.len(), 1);
    assert_eq!(
        (
            objects[0].1.as_slice(),
            objects[0].2.clone(),
            objects[0].3.clone()
        ),
        (&b"DKEK"[..], kcv(SHARE), vec![0])
    );
    // No key domains on this firmware: only domain 0 may be asked for.
    assert_eq!(
        ec_pair(s, "secp256r1", &[attr(CKA_SCHSM_KEY_DOMAIN, vec![1])]),
        Err(Error::AttributeValueInvalid)
    );
    let (_, private) = ec_pair(s, "secp256r1", &[attr(CKA_SCHSM_KEY_DOMAIN, vec![0])]).unwrap();
    assert_eq!(
        blob_kcv(&wrap(s, objects[0].0, private).unwrap()),
        kcv(SHARE)
    );
}

#[test]
fn v35_with_one_domain_costs_one_probe() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.5")], &[SHARE], None);
    let s = user_session(&env, 0);
    let before = apdus(&env.dirs[0]);
    let objects = dkek_objects(s);
    // ENUMERATE, domain 0, domain 1 (6A86).
    assert_eq!(apdus(&env.dirs[0]) - before, 3);
    assert_eq!(objects.len(), 1);
    // Cached: a second find asks nothing.
    let before = apdus(&env.dirs[0]);
    dkek_objects(s);
    assert_eq!(apdus(&env.dirs[0]), before);
}

#[test]
fn a_domain_with_shares_outstanding_has_no_object() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.5")], &[], None);
    {
        let mut dev = env.device(0);
        let mut p = InitParams::new(SoPin::new(SO_PIN_BYTES), PIN);
        p.dkek_shares = Some(1);
        p.key_domains = Some(3);
        dev.initialize(&p).unwrap();
        dev.import_dkek_share(&DkekShare::new(SHARE)).unwrap();
        dev.verify_pin(PIN).unwrap();
        dev.create_key_domain(1, 2).unwrap();
        dev.import_dkek_share_into(1, &DkekShare::new(DOMAIN1_SHARE))
            .unwrap();
    }
    env.reinitialize();
    let s = user_session(&env, 0);
    let objects = dkek_objects(s);
    assert_eq!(objects.len(), 1, "domain 1 still waits for a share");
    assert_eq!(objects[0].3, vec![0]);
}
