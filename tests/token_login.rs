//! Login, logout, session states and PIN administration over a simulated device.

mod token_support;

use cryptoki_sys::*;
use schsm_pkcs11::card::PinStatus;
use schsm_pkcs11::token::api::{self, Error};
use token_support::*;

#[test]
fn login_logout_and_session_states() {
    let env = Env::new(&[HSM]);
    let slot = env.slots()[0];
    let ro = env.session(slot, false);
    let rw = env.session(slot, true);
    assert_eq!(
        api::login(rw, CKU_USER, None).err(),
        Some(Error::ArgumentsBad)
    );
    assert_eq!(
        api::login(rw, 77, Some(PIN)).err(),
        Some(Error::UserTypeInvalid)
    );
    assert_eq!(api::logout(rw).err(), Some(Error::UserNotLoggedIn));
    api::login(ro, CKU_USER, Some(PIN)).unwrap();
    // Token-wide: both sessions see it.
    assert_eq!(api::session_info(ro).unwrap().state, CKS_RO_USER_FUNCTIONS);
    assert_eq!(api::session_info(rw).unwrap().state, CKS_RW_USER_FUNCTIONS);
    assert_eq!(
        api::login(rw, CKU_USER, Some(PIN)).err(),
        Some(Error::UserAlreadyLoggedIn)
    );
    assert_eq!(
        api::login(rw, CKU_SO, Some(SO_PIN)).err(),
        Some(Error::UserAnotherAlreadyLoggedIn)
    );
    // Context-specific login re-verifies the user PIN.
    api::login(rw, CKU_CONTEXT_SPECIFIC, Some(PIN)).unwrap();
    api::logout(ro).unwrap();
    assert_eq!(api::session_info(rw).unwrap().state, CKS_RW_PUBLIC_SESSION);
    assert_eq!(
        api::login(rw, CKU_CONTEXT_SPECIFIC, Some(PIN)).err(),
        Some(Error::UserNotLoggedIn)
    );
    // The card itself is logged out (SELECT dropped the PIN).
    let mut dev = env.device(0);
    assert!(matches!(
        dev.pin_status().unwrap(),
        PinStatus::NotVerified { .. }
    ));
    // Closing the last session logs out.
    api::login(rw, CKU_USER, Some(PIN)).unwrap();
    api::close_session(ro).unwrap();
    assert_eq!(api::session_info(rw).unwrap().state, CKS_RW_USER_FUNCTIONS);
    api::close_session(rw).unwrap();
    let s = env.session(slot, false);
    assert_eq!(api::session_info(s).unwrap().state, CKS_RO_PUBLIC_SESSION);
}

#[test]
fn wrong_pins_move_the_flags_and_lock() {
    let env = Env::new(&[HSM]);
    let slot = env.slots()[0];
    let s = env.session(slot, true);
    assert_eq!(
        api::login(s, CKU_USER, Some(b"12345")).err(),
        Some(Error::PinLenRange)
    );
    assert_eq!(
        token_flags(slot) & CKF_USER_PIN_COUNT_LOW,
        0,
        "length errors cost no try"
    );
    assert_eq!(
        api::login(s, CKU_USER, Some(b"000000")).err(),
        Some(Error::PinIncorrect)
    );
    let f = token_flags(slot);
    assert_ne!(f & CKF_USER_PIN_COUNT_LOW, 0);
    assert_eq!(f & CKF_USER_PIN_FINAL_TRY, 0);
    assert_eq!(
        api::login(s, CKU_USER, Some(b"000000")).err(),
        Some(Error::PinIncorrect)
    );
    assert_ne!(token_flags(slot) & CKF_USER_PIN_FINAL_TRY, 0);
    assert_eq!(
        api::login(s, CKU_USER, Some(b"000000")).err(),
        Some(Error::PinIncorrect)
    );
    assert_ne!(token_flags(slot) & CKF_USER_PIN_LOCKED, 0);
    assert_eq!(
        api::login(s, CKU_USER, Some(PIN)).err(),
        Some(Error::PinLocked)
    );

    // The SO unblocks with C_InitPIN (no PIN: reset the counter only).
    api::login(s, CKU_SO, Some(SO_PIN)).unwrap();
    assert_eq!(api::session_info(s).unwrap().state, CKS_RW_SO_FUNCTIONS);
    api::init_pin(s, None).unwrap();
    api::logout(s).unwrap();
    assert_eq!(
        token_flags(slot) & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_COUNT_LOW),
        0
    );
    api::login(s, CKU_USER, Some(PIN)).unwrap();
}

#[test]
fn so_login_rules() {
    let env = Env::new(&[HSM]);
    let slot = env.slots()[0];
    let ro = env.session(slot, false);
    let rw = env.session(slot, true);
    assert_eq!(
        api::login(rw, CKU_SO, Some(SO_PIN)).err(),
        Some(Error::SessionReadOnlyExists)
    );
    api::close_session(ro).unwrap();
    assert_eq!(
        api::login(rw, CKU_SO, Some(b"35373632")).err(),
        Some(Error::PinLenRange)
    );
    assert_eq!(
        api::login(rw, CKU_SO, Some(b"XX37363231383830")).err(),
        Some(Error::PinIncorrect)
    );
    // A wrong SO-PIN fails at login and counts down.
    assert_eq!(
        api::login(rw, CKU_SO, Some(b"0000000000000000")).err(),
        Some(Error::PinIncorrect)
    );
    assert_ne!(token_flags(slot) & CKF_SO_PIN_COUNT_LOW, 0);
    api::login(rw, CKU_SO, Some(SO_PIN)).unwrap();
    assert_eq!(
        api::open_session(slot, CKF_SERIAL_SESSION).err(),
        Some(Error::SessionReadWriteSoExists)
    );
    // InitPIN sets a new user PIN.
    assert_eq!(
        api::init_pin(rw, Some(b"123")).err(),
        Some(Error::PinLenRange)
    );
    api::init_pin(rw, Some(b"11223344")).unwrap();
    // SetPIN as SO changes the SO-PIN (hex), and back.
    api::set_pin(rw, Some(SO_PIN), Some(b"0102030405060708")).unwrap();
    api::set_pin(rw, Some(b"0102030405060708"), Some(SO_PIN)).unwrap();
    api::logout(rw).unwrap();
    assert_eq!(
        api::login(rw, CKU_USER, Some(PIN)).err(),
        Some(Error::PinIncorrect)
    );
    api::login(rw, CKU_USER, Some(b"11223344")).unwrap();
    assert_eq!(
        api::init_pin(rw, Some(PIN)).err(),
        Some(Error::UserNotLoggedIn)
    );
}

#[test]
fn set_pin_as_user() {
    let env = Env::new(&[HSM]);
    let slot = env.slots()[0];
    let ro = env.session(slot, false);
    assert_eq!(
        api::set_pin(ro, Some(PIN), Some(b"654321")).err(),
        Some(Error::SessionReadOnly)
    );
    let s = env.session(slot, true);
    assert_eq!(
        api::set_pin(s, Some(PIN), Some(b"65")).err(),
        Some(Error::PinLenRange)
    );
    assert_eq!(
        api::set_pin(s, Some(b"999999"), Some(b"654321")).err(),
        Some(Error::PinIncorrect)
    );
    api::set_pin(s, Some(PIN), Some(b"654321")).unwrap();
    api::login(s, CKU_USER, Some(b"654321")).unwrap();
    api::set_pin(s, Some(b"654321"), Some(PIN)).unwrap();
    api::logout(s).unwrap();
    api::login(s, CKU_USER, Some(PIN)).unwrap();
}

#[test]
fn init_token_wipes_and_labels() {
    let env = Env::new(&[HSM]);
    let slot = env.slots()[0];
    let mut label = [b' '; 32];
    label[..8].copy_from_slice(b"my token");
    let s = env.session(slot, true);
    assert_eq!(
        api::init_token(slot, SO_PIN, &label).err(),
        Some(Error::SessionExists)
    );
    api::close_session(s).unwrap();
    assert_eq!(
        api::init_token(slot, b"0000000000000000", &label).err(),
        Some(Error::PinIncorrect)
    );
    // Put a data object on the token first, to see it go.
    let s = env.user_session();
    api::create_object(
        s,
        &[
            class(CKO_DATA),
            boolean(CKA_TOKEN, true),
            attr(CKA_VALUE, b"x".to_vec()),
        ],
    )
    .unwrap();
    api::close_session(s).unwrap();
    api::init_token(slot, SO_PIN, &label).unwrap();
    let ti = api::token_info(slot).unwrap();
    assert_eq!(ti.label, "my token");
    assert_ne!(ti.flags & CKF_TOKEN_INITIALIZED, 0);
    assert_eq!(ti.flags & CKF_USER_PIN_INITIALIZED, 0, "until C_InitPIN");
    let s = env.session(slot, true);
    assert!(find(s, &[class(CKO_DATA)]).is_empty());
    api::login(s, CKU_SO, Some(SO_PIN)).unwrap();
    api::init_pin(s, Some(PIN)).unwrap();
    api::logout(s).unwrap();
    assert_ne!(token_flags(slot) & CKF_USER_PIN_INITIALIZED, 0);
    api::login(s, CKU_USER, Some(PIN)).unwrap();
    // Another process (a new initialisation) reads the label from EF 2F03.
    api::close_session(s).unwrap();
    env.reinitialize();
    env.slots();
    assert_eq!(api::token_info(slot).unwrap().label, "my token");
}
