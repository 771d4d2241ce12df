//! Library state, slots and token info over in-process simulated devices.

mod token_support;

use cryptoki_sys::*;
use schsm_pkcs11::token::api::{self, Error, InitOptions};
use token_support::*;

#[test]
fn initialize_finalize_and_again() {
    let env = Env::new(&[HSM]);
    assert_eq!(
        api::initialize(InitOptions::default()).err(),
        Some(Error::AlreadyInitialized)
    );
    api::finalize().unwrap();
    assert_eq!(api::finalize().err(), Some(Error::NotInitialized));
    assert_eq!(api::slot_list(false).err(), Some(Error::NotInitialized));
    assert_eq!(api::library_info().err(), Some(Error::NotInitialized));
    assert_eq!(api::session_info(1).err(), Some(Error::NotInitialized));
    // Threads forbidden: we start none anyway.
    api::initialize(InitOptions {
        may_create_threads: false,
    })
    .unwrap();
    let info = api::library_info().unwrap();
    assert!(!info.manufacturer.is_empty());
    assert_eq!(env.slots().len(), 1);
}

#[test]
fn two_simulated_devices_two_slots() {
    let env = Env::new(&[
        HSM,
        Dev {
            firmware: "3.1",
            ..HSM
        },
    ]);
    let all = api::slot_list(false).unwrap();
    assert_eq!(all, [0, 1]);
    assert_eq!(api::slot_list(true).unwrap(), [0, 1]);
    for (i, slot) in all.iter().enumerate() {
        let si = api::slot_info(*slot).unwrap();
        assert_eq!(
            si.description,
            format!("schsm-sim {}", env.dirs[i].display())
        );
        assert_ne!(si.flags & CKF_TOKEN_PRESENT, 0);
        assert_eq!(si.flags & CKF_HW_SLOT, 0, "simulated, not hardware");
    }
    let t1 = api::token_info(1).unwrap();
    assert_eq!(t1.firmware_version, (3, 1));
    assert_eq!(api::slot_info(7).err(), Some(Error::SlotIdInvalid));
    // IDs are stable across calls.
    assert_eq!(api::slot_list(false).unwrap(), [0, 1]);
}

#[test]
fn token_info_of_an_initialised_device() {
    let env = Env::new(&[HSM]);
    let slot = env.slots()[0];
    let ti = api::token_info(slot).unwrap();
    assert_eq!(ti.label, "SmartCard-HSM");
    assert_eq!(ti.serial, SERIAL);
    assert!(ti.manufacturer.contains("simulated"), "{}", ti.manufacturer);
    assert_eq!(ti.model, "SmartCard-HSM");
    assert_eq!(ti.firmware_version, (3, 5));
    assert_eq!((ti.min_pin_len, ti.max_pin_len), (6, 15));
    assert_eq!(ti.total_public_memory, None);
    let want = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED;
    assert_eq!(ti.flags, want);
    assert_eq!((ti.session_count, ti.rw_session_count), (0, 0));
    let s = env.session(slot, true);
    let ti = api::token_info(slot).unwrap();
    assert_eq!((ti.session_count, ti.rw_session_count), (1, 1));
    api::close_session(s).unwrap();
}

#[test]
fn token_info_of_a_blank_device() {
    let env = Env::new(&[Dev { init: false, ..HSM }]);
    let slot = env.slots()[0];
    let ti = api::token_info(slot).unwrap();
    assert_eq!(ti.flags & CKF_TOKEN_INITIALIZED, 0);
    assert_eq!(ti.flags & CKF_USER_PIN_INITIALIZED, 0);
    assert_ne!(ti.flags & CKF_RNG, 0);
}

#[test]
fn removed_device_keeps_its_slot() {
    let env = Env::new(&[HSM, HSM]);
    assert_eq!(env.slots(), [0, 1]);
    let s = env.session(0, false);
    // Taking the device directory away is the simulator's "card removed".
    let moved = env.dirs[0].with_extension("away");
    std::fs::rename(&env.dirs[0], &moved).unwrap();
    assert_eq!(api::slot_list(true).unwrap(), [1]);
    assert_eq!(api::slot_list(false).unwrap(), [0, 1]);
    assert_eq!(api::slot_info(0).unwrap().flags & CKF_TOKEN_PRESENT, 0);
    assert_eq!(api::token_info(0).err(), Some(Error::TokenNotPresent));
    assert!(matches!(
        api::session_info(s).err(),
        Some(Error::SessionHandleInvalid | Error::DeviceRemoved)
    ));
    assert_eq!(api::wait_for_slot_event(true).unwrap(), 0);
    assert_eq!(api::wait_for_slot_event(true).err(), Some(Error::NoEvent));
    std::fs::rename(&moved, &env.dirs[0]).unwrap();
    assert_eq!(api::slot_list(true).unwrap(), [0, 1]);
    assert_eq!(api::wait_for_slot_event(true).unwrap(), 0);
}

#[test]
fn sessions_need_the_serial_flag_and_a_token() {
    let env = Env::new(&[HSM]);
    let slot = env.slots()[0];
    assert_eq!(
        api::open_session(slot, CKF_RW_SESSION).err(),
        Some(Error::SessionParallelNotSupported)
    );
    assert_eq!(
        api::open_session(9, CKF_SERIAL_SESSION).err(),
        Some(Error::SlotIdInvalid)
    );
    let a = env.session(slot, false);
    let b = env.session(slot, true);
    assert_ne!(a, b);
    let ia = api::session_info(a).unwrap();
    assert_eq!(
        (ia.state, ia.flags),
        (CKS_RO_PUBLIC_SESSION, CKF_SERIAL_SESSION)
    );
    let ib = api::session_info(b).unwrap();
    assert_eq!(ib.state, CKS_RW_PUBLIC_SESSION);
    assert_eq!(ib.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    api::close_all_sessions(slot).unwrap();
    assert_eq!(
        api::session_info(a).err(),
        Some(Error::SessionHandleInvalid)
    );
    assert_eq!(
        api::close_session(b).err(),
        Some(Error::SessionHandleInvalid)
    );
    // Handles are never reused.
    let c = env.session(slot, false);
    assert!(c > b);
}
