//! A broken card, in process: the simulator injects faults (SCHSM_SIM_FAULT, the same specs as
//! `schsm-sim serve --fault`) under the module's C ABI. Each scenario asserts a clean error
//! (never CKR_GENERAL_ERROR, which is what a caught panic gives), an answer within a bounded
//! time, and a consistent card afterwards: the library re-initialised without faults finds every
//! key the card holds (a key generation cut after GENERATE is found with a default label, which
//! is then written to the card), every key signs, and a certificate write cut in half is never
//! served as a certificate.
//!
//! Library state is process-global: one #[test] runs the scenarios in order.

use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cryptoki_sys::*;
use schsm_pkcs11::ffi::*;

const SO_PIN: [u8; 8] = *b"57621880";
const PIN: &[u8] = b"648219";
const P256: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// Longer than one UPDATE BINARY (1641 bytes): written in two parts.
const BIG_CERT: &[u8] = include_bytes!("hostile_common/big_cert.der");
/// No answer may take longer (the slowest fault is a 1.5 s delay).
const BOUND: Duration = Duration::from_secs(30);
/// Errors a broken card may give. CKR_GENERAL_ERROR is not among them: it is a caught panic.
const CLEAN: [CK_RV; 7] = [
    CKR_DEVICE_ERROR,
    CKR_DEVICE_REMOVED,
    CKR_TOKEN_NOT_PRESENT,
    CKR_TOKEN_NOT_RECOGNIZED,
    CKR_FUNCTION_FAILED,
    CKR_DEVICE_MEMORY,
    CKR_SESSION_HANDLE_INVALID,
];

fn attribute<T>(kind: CK_ATTRIBUTE_TYPE, value: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: (value as *const T).cast_mut().cast(),
        ulValueLen: std::mem::size_of_val(value) as CK_ULONG,
    }
}

fn bytes_attribute(kind: CK_ATTRIBUTE_TYPE, value: &[u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: value.as_ptr().cast_mut().cast(),
        ulValueLen: value.len() as CK_ULONG,
    }
}

fn mechanism(kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: kind,
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    }
}

/// Runs `f` on another thread; fails the test if it takes longer than BOUND (a hang).
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(BOUND)
        .unwrap_or_else(|_| panic!("{what}: no answer within {BOUND:?}"))
}

/// C_Initialize with `fault` (None: a faithful card), a R/W session logged in as the user.
fn start(fault: Option<&str>) -> CK_SESSION_HANDLE {
    match fault {
        Some(spec) => std::env::set_var("SCHSM_SIM_FAULT", spec),
        None => std::env::remove_var("SCHSM_SIM_FAULT"),
    }
    unsafe {
        assert_eq!(C_Initialize(ptr::null_mut()), CKR_OK);
        let mut slots = [0; 2];
        let mut n = 2;
        assert_eq!(C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(n, 1);
        let mut s = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        assert_eq!(
            C_OpenSession(slots[0], flags, ptr::null_mut(), None, &mut s),
            CKR_OK
        );
        assert_eq!(
            C_Login(s, CKU_USER, PIN.as_ptr().cast_mut(), PIN.len() as _),
            CKR_OK
        );
        s
    }
}

fn stop() {
    unsafe { C_Finalize(ptr::null_mut()) };
    std::env::remove_var("SCHSM_SIM_FAULT");
}

fn generate(s: CK_SESSION_HANDLE) -> (CK_RV, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let yes = CK_TRUE;
    let public = [attribute(CKA_EC_PARAMS, &P256), attribute(CKA_TOKEN, &yes)];
    let private = [
        attribute(CKA_TOKEN, &yes),
        attribute(CKA_SIGN, &yes),
        attribute(CKA_PRIVATE, &yes),
        bytes_attribute(CKA_LABEL, b"fault test"),
    ];
    let mut m = mechanism(CKM_EC_KEY_PAIR_GEN);
    let (mut pubh, mut privh) = (0, 0);
    let rv = unsafe {
        C_GenerateKeyPair(
            s,
            &mut m,
            public.as_ptr().cast_mut(),
            2,
            private.as_ptr().cast_mut(),
            4,
            &mut pubh,
            &mut privh,
        )
    };
    (rv, pubh, privh)
}

fn sign(s: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> (CK_RV, Vec<u8>) {
    let mut m = mechanism(CKM_ECDSA);
    let mut data = [0x33u8; 32];
    let mut sig = vec![0u8; 512];
    let mut n = 512;
    unsafe {
        let rv = C_SignInit(s, &mut m, key);
        if rv != CKR_OK {
            return (rv, Vec::new());
        }
        let rv = C_Sign(s, data.as_mut_ptr(), 32, sig.as_mut_ptr(), &mut n);
        sig.truncate(if rv == CKR_OK { n as usize } else { 0 });
        (rv, sig)
    }
}

fn find(s: CK_SESSION_HANDLE, class: CK_OBJECT_CLASS) -> Result<Vec<CK_OBJECT_HANDLE>, CK_RV> {
    let template = [attribute(CKA_CLASS, &class)];
    let mut found = [0; 64];
    let mut n = 0;
    unsafe {
        let rv = C_FindObjectsInit(s, template.as_ptr().cast_mut(), 1);
        if rv != CKR_OK {
            return Err(rv);
        }
        let rv = C_FindObjects(s, found.as_mut_ptr(), 64, &mut n);
        C_FindObjectsFinal(s);
        if rv != CKR_OK {
            return Err(rv);
        }
    }
    Ok(found[..n as usize].to_vec())
}

fn value(s: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, kind: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
    let mut t = [CK_ATTRIBUTE {
        type_: kind,
        pValue: ptr::null_mut(),
        ulValueLen: 0,
    }];
    unsafe {
        assert_eq!(C_GetAttributeValue(s, object, t.as_mut_ptr(), 1), CKR_OK);
        let mut v = vec![0u8; t[0].ulValueLen as usize];
        t[0].pValue = v.as_mut_ptr().cast();
        assert_eq!(C_GetAttributeValue(s, object, t.as_mut_ptr(), 1), CKR_OK);
        v
    }
}

fn card_keys(dir: &Path) -> usize {
    let store = schsm_sim::state::Store::open(dir).unwrap();
    store.load().unwrap().keys.len()
}

/// Without faults: every key of the card is found and signs; no certificate differs from the
/// big one (the only one ever written); the card holds `keys` keys.
fn consistent(dir: &Path, what: &str) {
    let s = start(None);
    let keys = find(s, CKO_PRIVATE_KEY).unwrap();
    assert_eq!(
        keys.len(),
        card_keys(dir),
        "{what}: every key of the card is found"
    );
    for k in &keys {
        let label = String::from_utf8_lossy(&value(s, *k, CKA_LABEL)).into_owned();
        assert!(!label.is_empty(), "{what}: a key without a label");
        assert_eq!(sign(s, *k).0, CKR_OK, "{what}: key {label:?} signs");
    }
    // A key found without description (a generation cut after GENERATE) got the default one
    // written by this logged-in listing, so that other applications (OpenSC) list it too.
    let state = schsm_sim::state::Store::open(dir).unwrap().load().unwrap();
    for id in state.keys.keys() {
        assert!(
            state.file(0xC400 | u16::from(*id)).is_some(),
            "{what}: key {id} still has no description C4{id:02X} (files: {:04X?})",
            state.files.iter().map(|f| f.fid).collect::<Vec<_>>()
        );
    }
    for c in find(s, CKO_CERTIFICATE).unwrap() {
        assert_eq!(
            value(s, c, CKA_VALUE),
            BIG_CERT,
            "{what}: a cut certificate is served"
        );
    }
    stop();
}

struct Scenario {
    name: &'static str,
    fault: &'static str,
    /// Runs the operation under the fault; answers its CK_RV.
    run: fn(CK_SESSION_HANDLE, CK_OBJECT_HANDLE) -> CK_RV,
    /// Answers besides the clean errors this operation may give (e.g. CKR_OK after a delay).
    also: &'static [CK_RV],
}

fn device() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("schsm-faults-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    schsm_sim::create(
        &dir,
        &schsm_sim::NewOptions::initialised("3.5", SO_PIN, PIN, Some(0)),
    )
    .unwrap();
    std::env::set_var("SCHSM_PCSC", "0");
    std::env::set_var("SCHSM_SIM", &dir);
    dir
}

fn create_big_cert(s: CK_SESSION_HANDLE, _: CK_OBJECT_HANDLE) -> CK_RV {
    let (class, kind, yes) = (CKO_CERTIFICATE, CKC_X_509, CK_TRUE);
    let template = [
        attribute(CKA_CLASS, &class),
        attribute(CKA_CERTIFICATE_TYPE, &kind),
        attribute(CKA_TOKEN, &yes),
        bytes_attribute(CKA_LABEL, b"big"),
        bytes_attribute(CKA_VALUE, BIG_CERT),
    ];
    let mut h = 0;
    unsafe { C_CreateObject(s, template.as_ptr().cast_mut(), 5, &mut h) }
}

fn sign_rv(s: CK_SESSION_HANDLE, k: CK_OBJECT_HANDLE) -> CK_RV {
    sign(s, k).0
}

fn list_rv(s: CK_SESSION_HANDLE, _: CK_OBJECT_HANDLE) -> CK_RV {
    match find(s, CKO_PRIVATE_KEY).and_then(|_| find(s, CKO_CERTIFICATE)) {
        Ok(_) => CKR_OK,
        Err(rv) => rv,
    }
}

fn wrap_rv(s: CK_SESSION_HANDLE, k: CK_OBJECT_HANDLE) -> CK_RV {
    let class = CKO_SECRET_KEY;
    let label = *b"DKEK";
    let template = [attribute(CKA_CLASS, &class), attribute(CKA_LABEL, &label)];
    let mut found = [0; 2];
    let mut n = 0;
    unsafe {
        C_FindObjectsInit(s, template.as_ptr().cast_mut(), 2);
        C_FindObjects(s, found.as_mut_ptr(), 2, &mut n);
        C_FindObjectsFinal(s);
        if n == 0 {
            return CKR_FUNCTION_FAILED;
        }
        let mut m = mechanism(schsm_pkcs11::vendor::CKM_SCHSM_DKEK_WRAP);
        let mut out = vec![0u8; 4096];
        let mut len = 4096;
        C_WrapKey(s, &mut m, found[0], k, out.as_mut_ptr(), &mut len)
    }
}

#[test]
fn faults_give_clean_errors_and_leave_the_card_consistent() {
    let dir = device();
    // The key every scenario signs with (extractable, so that the wrap scenario can wrap it).
    let s = start(None);
    let (rv, _, key) = generate(s);
    assert_eq!(rv, CKR_OK);
    stop();
    let scenarios = [
        Scenario {
            name: "SIGN answers 6F00",
            fault: "sw:6F00@INS=68",
            run: sign_rv,
            also: &[],
        },
        Scenario {
            name: "SIGN answer truncated",
            fault: "truncate@INS=68",
            run: sign_rv,
            also: &[],
        },
        Scenario {
            name: "SIGN answer overlong",
            fault: "overlong@INS=68",
            run: sign_rv,
            also: &[],
        },
        Scenario {
            name: "SIGN answer cut to 1 byte",
            fault: "truncate:1@INS=68",
            run: sign_rv,
            also: &[],
        },
        Scenario {
            name: "SIGN delayed 1.5 s",
            fault: "delay:1500@INS=68",
            run: sign_rv,
            also: &[CKR_OK],
        },
        Scenario {
            name: "card pulled at SIGN",
            fault: "drop@INS=68",
            run: sign_rv,
            also: &[],
        },
        Scenario {
            name: "GENERATE answers 6A84",
            fault: "sw:6A84@INS=46",
            run: |s, _| generate(s).0,
            also: &[],
        },
        Scenario {
            name: "card pulled after GENERATE",
            fault: "drop-after@INS=46",
            run: |s, _| generate(s).0,
            also: &[],
        },
        Scenario {
            name: "description write fails after GENERATE",
            fault: "sw:6581@INS=D7",
            run: |s, _| generate(s).0,
            also: &[],
        },
        Scenario {
            name: "GENERATE answer truncated",
            fault: "truncate@INS=46",
            run: |s, _| generate(s).0,
            also: &[],
        },
        Scenario {
            name: "certificate write cut in half",
            fault: "drop@INS=D7,skip=1",
            run: create_big_cert,
            also: &[],
        },
        Scenario {
            name: "certificate write refused half way",
            fault: "sw:6581@INS=D7,skip=1",
            run: create_big_cert,
            also: &[],
        },
        Scenario {
            name: "READ BINARY truncated",
            fault: "truncate@INS=B1",
            run: list_rv,
            also: &[CKR_OK],
        },
        Scenario {
            name: "READ BINARY overlong",
            fault: "overlong:40@INS=B1",
            run: list_rv,
            also: &[CKR_OK],
        },
        Scenario {
            name: "LIST answers garbage",
            fault: "overlong:3@INS=58",
            run: list_rv,
            also: &[CKR_OK],
        },
        Scenario {
            name: "WRAP answers 6F00",
            fault: "sw:6F00@INS=72",
            run: wrap_rv,
            also: &[CKR_KEY_UNEXTRACTABLE, CKR_KEY_NOT_WRAPPABLE],
        },
        Scenario {
            name: "WRAP answer truncated",
            fault: "truncate@INS=72",
            run: wrap_rv,
            also: &[CKR_KEY_UNEXTRACTABLE, CKR_KEY_NOT_WRAPPABLE],
        },
    ];
    let mut injected = 0;
    for sc in &scenarios {
        // The scenario's handles come from a faithful start (the fault is armed at C_Initialize
        // but matches only the operation's instruction).
        let s = start(Some(sc.fault));
        let keys = find(s, CKO_PRIVATE_KEY).unwrap_or_default();
        let k = keys.iter().copied().find(|&h| h != 0).unwrap_or(key);
        let run = sc.run;
        let t0 = Instant::now();
        let rv = bounded(sc.name, move || run(s, k));
        let took = t0.elapsed();
        assert!(
            CLEAN.contains(&rv) || sc.also.contains(&rv),
            "{}: {rv:#x} is not a clean error",
            sc.name
        );
        println!(
            "fault {:45} {:22} -> {rv:#06x} in {took:.1?}",
            sc.name, sc.fault
        );
        // The slot stays, and (for most faults) the same library still works.
        let mut n = 0;
        assert_eq!(
            unsafe { C_GetSlotList(CK_FALSE, ptr::null_mut(), &mut n) },
            CKR_OK
        );
        assert_eq!(n, 1, "{}: the slot stays", sc.name);
        stop();
        injected += 1;
        bounded(sc.name, {
            let dir = dir.clone();
            let name = sc.name;
            move || consistent(&dir, name)
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{injected} fault scenarios, every error clean, the card consistent after each");
}
