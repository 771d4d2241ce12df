//! How many APDUs the token layer sends (the simulator counts them): nothing at
//! C_Initialize, a few at the first look at a token, nothing for cached queries, descriptions
//! only when a find needs them, CExx only when an attribute needs it, one ENUMERATE for the
//! first find of a new session.

mod token_support;

use cryptoki_sys::*;
use schsm_pkcs11::card::keys::{KeyGenParams, KeySpec};
use schsm_pkcs11::card::pkcs15::KeyUsage;
use schsm_pkcs11::card::prkd::{KeyDescription, KeyKind};
use schsm_pkcs11::card::Fid;
use schsm_pkcs11::token::api;
use schsm_sim::state::Store;
use token_support::*;

#[test]
fn queries_are_served_from_the_cache() {
    let env = Env::new(&[HSM]);
    // A key made by "another process" before we look.
    {
        let mut dev = env.device(0);
        dev.verify_pin(PIN).unwrap();
        let spec = KeySpec::Rsa {
            bits: 1024,
            public_exponent: vec![1, 0, 1],
        };
        dev.generate_key_pair(1, &KeyGenParams::new(spec, SERIAL))
            .unwrap();
        let desc = KeyDescription::opensc(KeyKind::Rsa, "k", &[1], KeyUsage::SIGN, 1, 1024);
        dev.write_file(Fid::prkd(1), &desc.encode()).unwrap();
        dev.logout().unwrap();
    }
    env.reinitialize();
    let dir = &env.dirs[0];
    let count = || Store::apdu_count(dir);
    let start = count();
    let slot = api::slot_list(true).unwrap()[0];
    // SELECT when the device is opened.
    assert_eq!(count() - start, 1, "slot list");
    let first = count();
    api::token_info(slot).unwrap();
    // 2F02, 2F03, VERIFY 81 without data (the SO-PIN state is not asked for).
    assert_eq!(count() - first, 3, "first token info");
    let cached = count();
    for _ in 0..5 {
        api::slot_info(slot).unwrap();
        api::token_info(slot).unwrap();
        api::slot_list(true).unwrap();
    }
    assert_eq!(count(), cached, "cached slot and token info");

    let s = env.session(slot, false);
    // Private keys are visible to the logged-in user only: one VERIFY.
    let before = count();
    api::login(s, CKU_USER, Some(PIN)).unwrap();
    assert_eq!(count() - before, 1, "login");
    let before = count();
    let keys = find(s, &[class(CKO_PRIVATE_KEY)]);
    assert_eq!(keys.len(), 1);
    // ENUMERATE, C401 (no DKEK status: a private-key find cannot match the DKEK object).
    assert_eq!(count() - before, 2, "first find");
    let before = count();
    find(s, &[class(CKO_PRIVATE_KEY)]);
    api::get_attributes(s, keys[0], &[CKA_LABEL, CKA_ID, CKA_SIGN, CKA_MODULUS_BITS]).unwrap();
    assert_eq!(count(), before, "second find and description attributes");
    get(s, keys[0], CKA_MODULUS);
    assert_eq!(count() - before, 1, "CE01 for the modulus");
    let before = count();
    get(s, keys[0], CKA_PUBLIC_EXPONENT);
    find(s, &[class(CKO_PUBLIC_KEY)]);
    assert_eq!(count(), before, "nothing read twice");
    let s2 = env.session(slot, false);
    let before = count();
    find(s2, &[]);
    // ENUMERATE, and the DKEK status that the private-key finds did not need.
    assert_eq!(count() - before, 2, "a new session re-enumerates once");
    find(s2, &[]);
    assert_eq!(count() - before, 2);
}
