//! The hostile caller: every C_* entry point called before C_Initialize, after C_Finalize, with
//! NULL pointers, invalid slot/session/object handles, bad lengths, too-small buffers, bad
//! templates and mechanism parameters, and in the wrong operation state; each answer is checked
//! against the CK_RV PKCS#11 2.40 names for it. Mismatches are collected (not asserted one by one)
//! so that one run shows all of them; the number of calls tried is printed.
//!
//! Library state is process-global, so the whole suite is one #[test] running its phases in order.

use std::ffi::c_void;
use std::path::PathBuf;
use std::ptr;

use cryptoki_sys::*;
use schsm_pkcs11::ffi::*;

const SO_PIN: [u8; 8] = *b"57621880";
const PIN: &[u8] = b"648219";
/// DER OID prime256v1.
const P256: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const BAD_SESSION: CK_SESSION_HANDLE = 0x7777_0001;
const BAD_SLOT: CK_SLOT_ID = 0x7777;
const BAD_OBJECT: CK_OBJECT_HANDLE = 0x7777_0002;
const BAD_MECHANISM: CK_MECHANISM_TYPE = 0x7FFF_FFF0;

/// Counts the calls and collects the answers that are not among the expected ones.
#[derive(Default)]
struct Tally {
    calls: usize,
    wrong: Vec<String>,
}

impl Tally {
    fn check(&mut self, what: &str, got: CK_RV, want: &[CK_RV]) {
        self.calls += 1;
        if !want.contains(&got) {
            self.wrong
                .push(format!("{what}: got {got:#x}, want one of {want:x?}"));
        }
    }
}

/// `expect!(tally, [CKR_...], C_Xxx(...))`: one call, one checked answer.
macro_rules! expect {
    ($t:expr, [$($want:expr),+], $call:expr) => {{
        #[allow(unused_unsafe)]
        let got = unsafe { $call };
        $t.check(stringify!($call), got, &[$($want),+]);
        got
    }};
}

mod crypto;
mod every;
mod objects;
mod slots_sessions;

use crypto::{keys, signing};
use every::{every_function, every_function_with_bad_session};
use objects::{key_pair, objects};
use slots_sessions::{sessions, slot_queries};

fn null<T>() -> *mut T {
    ptr::null_mut()
}

fn attribute<T>(kind: CK_ATTRIBUTE_TYPE, value: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: (value as *const T).cast_mut().cast(),
        ulValueLen: std::mem::size_of_val(value) as CK_ULONG,
    }
}

fn mechanism(kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: kind,
        pParameter: null(),
        ulParameterLen: 0,
    }
}

fn device() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("schsm-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    schsm_sim::create(
        &dir,
        &schsm_sim::NewOptions::initialised("3.5", SO_PIN, PIN, None).with_serial("DENK0100077"),
    )
    .expect("simulated device created");
    std::env::set_var("SCHSM_PCSC", "0");
    std::env::set_var("SCHSM_SIM", &dir);
    dir
}

fn function_list(t: &mut Tally) {
    let mut list: *mut CK_FUNCTION_LIST = null();
    expect!(t, [CKR_ARGUMENTS_BAD], C_GetFunctionList(null()));
    expect!(t, [CKR_OK], C_GetFunctionList(&mut list));
    assert!(!list.is_null());
    // Every entry of the table is filled.
    let table = unsafe { &*list };
    assert!(table.C_Initialize.is_some() && table.C_WaitForSlotEvent.is_some());
    // The table's C_GetInfo is the exported one: before C_Initialize it refuses too.
    let mut info = CK_INFO::default();
    expect!(
        t,
        [CKR_CRYPTOKI_NOT_INITIALIZED],
        (table.C_GetInfo.unwrap())(&mut info)
    );
}

fn initialize_arguments(t: &mut Tally) {
    let reserved = 1u8;
    let mut bad = CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: 0,
        pReserved: (&reserved as *const u8).cast_mut().cast(),
    };
    let args = |a: &mut CK_C_INITIALIZE_ARGS| (a as *mut CK_C_INITIALIZE_ARGS).cast::<c_void>();
    expect!(t, [CKR_ARGUMENTS_BAD], C_Initialize(args(&mut bad)));
    // Some but not all mutex functions.
    unsafe extern "C" fn create(_: *mut *mut c_void) -> CK_RV {
        CKR_OK
    }
    bad.pReserved = null();
    bad.CreateMutex = Some(create);
    expect!(t, [CKR_ARGUMENTS_BAD], C_Initialize(args(&mut bad)));
    expect!(
        t,
        [CKR_CRYPTOKI_NOT_INITIALIZED],
        C_Finalize(ptr::null_mut())
    );
    let mut good = CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: CKF_OS_LOCKING_OK,
        pReserved: null(),
    };
    expect!(t, [CKR_OK], C_Initialize(args(&mut good)));
    expect!(t, [CKR_CRYPTOKI_ALREADY_INITIALIZED], C_Initialize(null()));
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_Finalize((&reserved as *const u8).cast_mut().cast())
    );
}

fn finalize(t: &mut Tally, slot: CK_SLOT_ID, rw: CK_SESSION_HANDLE) {
    expect!(t, [CKR_OK], C_Finalize(null()));
    expect!(t, [CKR_CRYPTOKI_NOT_INITIALIZED], C_Finalize(null()));
    every_function(t, CKR_CRYPTOKI_NOT_INITIALIZED, slot, rw);
    // A new life: the old session handle is gone.
    expect!(t, [CKR_OK], C_Initialize(null()));
    let mut info = CK_SESSION_INFO::default();
    expect!(
        t,
        [CKR_SESSION_HANDLE_INVALID],
        C_GetSessionInfo(rw, &mut info)
    );
    expect!(t, [CKR_OK], C_Finalize(null()));
}

#[test]
fn hostile_calls() {
    let dir = device();
    let mut t = Tally::default();
    function_list(&mut t);
    every_function(&mut t, CKR_CRYPTOKI_NOT_INITIALIZED, 0, 1);
    initialize_arguments(&mut t);
    let slot = slot_queries(&mut t);
    let (ro, rw) = sessions(&mut t, slot);
    objects(&mut t, ro, rw);
    let (public, private) = key_pair(&mut t, ro, rw);
    signing(&mut t, rw, public, private);
    keys(&mut t, rw, public, private);
    finalize(&mut t, slot, rw);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "hostile_calls: {} calls tried, {} wrong answers",
        t.calls,
        t.wrong.len()
    );
    assert!(t.wrong.is_empty(), "wrong answers:\n{}", t.wrong.join("\n"));
}
