//! What the performance work (issue 7) promises about signing: one APDU (sent without a PC/SC
//! transaction), and no CExx read for it. (A PIN state that another application clears is
//! checked over PC/SC, where the card's PIN state is shared: pkcs11-tests/bench/seen_check.py;
//! the in-process simulator gives each connection its own.)

mod token_ops_common;
mod token_support;

use cryptoki_sys::*;
use schsm_pkcs11::token::api;
use schsm_sim::state::Store;
use token_ops_common::*;
use token_support::*;

#[test]
fn a_signature_is_one_apdu_and_reads_no_public_key() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    ec_pair(s, "secp256r1", &[]).unwrap();
    // A new initialisation: nothing cached but what a find reads.
    env.reinitialize();
    let slot = env.slots()[0];
    let s = env.session(slot, false);
    api::login(s, CKU_USER, Some(PIN)).unwrap();
    let keys = find(s, &[class(CKO_PRIVATE_KEY)]);
    assert_eq!(keys.len(), 1);
    let count = || Store::apdu_count(&env.dirs[0]);
    let before = count();
    let sig = sign(s, &mech(CKM_ECDSA), keys[0], &[9; 32]).unwrap();
    assert_eq!(sig.len(), 64);
    assert_eq!(count() - before, 1, "SIGN only, no CExx read");
    let before = count();
    for _ in 0..10 {
        sign(s, &mech(CKM_ECDSA_SHA256), keys[0], b"message").unwrap();
    }
    assert_eq!(count() - before, 10, "one APDU per signature");
}
