//! The blocking C_WaitForSlotEvent through the C ABI, one in-process simulated device (its
//! directory taken away and put back is the card pulled and inserted):
//! - a waiter blocked in C_WaitForSlotEvent(0) returns the slot when the device goes (removal)
//!   and when it comes back (insertion), each within a bounded time, and clears the event;
//! - while it blocks another thread logs in and signs (the waiter holds no lock);
//! - with CKF_LIBRARY_CANT_CREATE_OS_THREADS the wait starts no thread;
//! - C_Finalize from another thread ends the wait with CKR_CRYPTOKI_NOT_INITIALIZED, even when
//!   C_Initialize follows at once (NSS's SECMOD_CancelWait), and the new initialisation works.
//!
//! Library state is process-global: one #[test] runs the steps in order.

use std::path::Path;
use std::ptr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cryptoki_sys::*;
use schsm_pkcs11::ffi::*;

const PIN: &[u8] = b"648219";
/// A card event or C_Finalize must end the wait within this (the simulated device is looked at
/// every 250 ms).
const BOUND: Duration = Duration::from_secs(2);

/// A thread blocked in C_WaitForSlotEvent(0): its answer and when it came.
fn spawn_waiter() -> (JoinHandle<()>, mpsc::Receiver<(CK_RV, CK_SLOT_ID, Instant)>) {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let mut slot = CK_SLOT_ID::MAX;
        let rv = unsafe { C_WaitForSlotEvent(0, &mut slot, ptr::null_mut()) };
        let _ = tx.send((rv, slot, Instant::now()));
    });
    // Let it block: nothing may come back while nothing happens.
    assert!(
        rx.recv_timeout(Duration::from_millis(600)).is_err(),
        "a wait without an event returned"
    );
    (h, rx)
}

fn answer(
    rx: &mpsc::Receiver<(CK_RV, CK_SLOT_ID, Instant)>,
    since: Instant,
    what: &str,
) -> (CK_RV, CK_SLOT_ID) {
    let (rv, slot, at) = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("the blocked C_WaitForSlotEvent did not return on {what}"));
    let took = at.saturating_duration_since(since);
    println!("wake-up on {what}: {} ms", took.as_millis());
    assert!(took < BOUND, "{what}: the waiter took {took:?}");
    (rv, slot)
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

fn initialize() {
    let mut args = CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS,
        pReserved: ptr::null_mut(),
    };
    let init = (&mut args as *mut CK_C_INITIALIZE_ARGS).cast();
    assert_eq!(unsafe { C_Initialize(init) }, CKR_OK);
}

/// A logged-in session on `slot` and a new P-256 key in it; returns (session, private key).
fn session_with_key(slot: CK_SLOT_ID) -> (CK_SESSION_HANDLE, CK_OBJECT_HANDLE) {
    let mut s = 0;
    let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    unsafe {
        assert_eq!(
            C_OpenSession(slot, flags, ptr::null_mut(), None, &mut s),
            CKR_OK
        );
        assert_eq!(C_Login(s, CKU_USER, PIN.as_ptr().cast_mut(), 6), CKR_OK);
    }
    let p256: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    let no = CK_FALSE;
    let yes = CK_TRUE;
    let mut public = [
        CK_ATTRIBUTE {
            type_: CKA_EC_PARAMS,
            pValue: p256.as_ptr().cast_mut().cast(),
            ulValueLen: 10,
        },
        CK_ATTRIBUTE {
            type_: CKA_TOKEN,
            pValue: (&no as *const CK_BBOOL).cast_mut().cast(),
            ulValueLen: 1,
        },
    ];
    let mut private = [CK_ATTRIBUTE {
        type_: CKA_SIGN,
        pValue: (&yes as *const CK_BBOOL).cast_mut().cast(),
        ulValueLen: 1,
    }];
    let mut m = CK_MECHANISM {
        mechanism: CKM_EC_KEY_PAIR_GEN,
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    };
    let (mut pubh, mut key) = (0, 0);
    let rv = unsafe {
        C_GenerateKeyPair(
            s,
            &mut m,
            public.as_mut_ptr(),
            2,
            private.as_mut_ptr(),
            1,
            &mut pubh,
            &mut key,
        )
    };
    assert_eq!(rv, CKR_OK);
    (s, key)
}

fn sign(s: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> CK_RV {
    let mut m = CK_MECHANISM {
        mechanism: CKM_ECDSA,
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    };
    let hash = [0x5Au8; 32];
    let mut sig = [0u8; 64];
    let mut n = 64;
    unsafe {
        let rv = C_SignInit(s, &mut m, key);
        if rv != CKR_OK {
            return rv;
        }
        C_Sign(s, hash.as_ptr().cast_mut(), 32, sig.as_mut_ptr(), &mut n)
    }
}

fn drain_events() {
    let mut slot = 0;
    for _ in 0..8 {
        if unsafe { C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, ptr::null_mut()) } != CKR_OK {
            return;
        }
    }
    panic!("C_WaitForSlotEvent(CKF_DONT_BLOCK) never ran out of events");
}

fn make_device(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    schsm_sim::create(
        dir,
        &schsm_sim::NewOptions {
            firmware: "3.5".into(),
            serial: None,
            init: Some(schsm_sim::InitOptions {
                so_pin: *b"57621880",
                pin: PIN.to_vec(),
                dkek_shares: None,
                retry: 3,
            }),
        },
    )
    .unwrap();
}

#[test]
fn blocking_wait_sees_card_events_and_ends_on_finalize() {
    let dir = std::env::temp_dir().join(format!("schsm-slot-wait-{}", std::process::id()));
    let away = dir.with_extension("away");
    let _ = std::fs::remove_dir_all(&away);
    make_device(&dir);
    std::env::set_var("SCHSM_PCSC", "0");
    std::env::set_var("SCHSM_SIM", &dir);
    initialize();
    let mut slots = [0; 2];
    let mut n = 2;
    assert_eq!(
        unsafe { C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n) },
        CKR_OK
    );
    assert_eq!(n, 1);
    let slot = slots[0];
    drain_events();

    // A waiter blocks; meanwhile this thread opens a session, makes a key and signs.
    let before = threads();
    let (waiter, rx) = spawn_waiter();
    assert_eq!(
        threads(),
        before + 1,
        "the wait started threads of its own (CKF_LIBRARY_CANT_CREATE_OS_THREADS)"
    );
    let t = Instant::now();
    let (s, key) = session_with_key(slot);
    assert_eq!(sign(s, key), CKR_OK);
    assert!(t.elapsed() < BOUND, "signing was held up by the waiter");
    assert!(rx.try_recv().is_err(), "no event: the card stayed");

    // Removal.
    std::fs::rename(&dir, &away).unwrap();
    let (rv, got) = answer(&rx, Instant::now(), "removal");
    waiter.join().unwrap();
    assert_eq!((rv, got), (CKR_OK, slot));
    let rv = sign(s, key);
    assert!(
        rv == CKR_DEVICE_REMOVED || rv == CKR_SESSION_HANDLE_INVALID,
        "the old session after the removal: {rv:#x}"
    );
    let mut none = 0;
    assert_eq!(
        unsafe { C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut none, ptr::null_mut()) },
        CKR_NO_EVENT,
        "the blocking wait cleared the event it reported"
    );

    // Insertion.
    let (waiter, rx) = spawn_waiter();
    std::fs::rename(&away, &dir).unwrap();
    let (rv, got) = answer(&rx, Instant::now(), "insertion");
    waiter.join().unwrap();
    assert_eq!((rv, got), (CKR_OK, slot));
    let (s, key) = session_with_key(slot);
    assert_eq!(
        sign(s, key),
        CKR_OK,
        "a new session signs after the insertion"
    );

    // C_Finalize from another thread, and C_Initialize at once (NSS's SECMOD_CancelWait).
    let (waiter, rx) = spawn_waiter();
    let t = Instant::now();
    assert_eq!(unsafe { C_Finalize(ptr::null_mut()) }, CKR_OK);
    let finalize_took = t.elapsed();
    initialize();
    println!(
        "C_Finalize with a blocked waiter: {} ms",
        finalize_took.as_millis()
    );
    assert!(finalize_took < BOUND, "C_Finalize took {finalize_took:?}");
    let (rv, _) = answer(&rx, t, "C_Finalize");
    waiter.join().unwrap();
    assert_eq!(rv, CKR_CRYPTOKI_NOT_INITIALIZED, "{rv:#x}");
    n = 2;
    assert_eq!(
        unsafe { C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n) },
        CKR_OK
    );
    let (s, key) = session_with_key(slots[0]);
    assert_eq!(sign(s, key), CKR_OK, "the new initialisation signs");

    // A wait ended by C_Finalize with nothing after it.
    let (waiter, rx) = spawn_waiter();
    let t = Instant::now();
    assert_eq!(unsafe { C_Finalize(ptr::null_mut()) }, CKR_OK);
    let (rv, _) = answer(&rx, t, "C_Finalize (no C_Initialize after)");
    waiter.join().unwrap();
    assert_eq!(rv, CKR_CRYPTOKI_NOT_INITIALIZED);
    let mut none = 0;
    assert_eq!(
        unsafe { C_WaitForSlotEvent(0, &mut none, ptr::null_mut()) },
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    let _ = std::fs::remove_dir_all(&dir);
}
