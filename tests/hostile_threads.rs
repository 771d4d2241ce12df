//! Many threads at once through the C ABI, one simulated device: 8 threads, each with its own
//! session, sign different data with one P-256 key and list objects; every signature verifies
//! (with p256, against the key's CKA_EC_POINT), so no thread ever got another's answer. Then
//! C_WaitForSlotEvent(CKF_DONT_BLOCK) reports no event on a quiet slot, and a blocking call
//! returns when another thread calls C_Finalize (what Firefox does on exit).

use std::ptr;
use std::time::Duration;

use cryptoki_sys::*;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use schsm_pkcs11::ffi::*;

const PIN: &[u8] = b"648219";
const P256: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const THREADS: usize = 8;
const SIGNATURES: usize = 12;

fn attribute<T>(kind: CK_ATTRIBUTE_TYPE, value: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: (value as *const T).cast_mut().cast(),
        ulValueLen: std::mem::size_of_val(value) as CK_ULONG,
    }
}

fn open(slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
    let mut s = 0;
    let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    assert_eq!(
        unsafe { C_OpenSession(slot, flags, ptr::null_mut(), None, &mut s) },
        CKR_OK
    );
    s
}

fn sign(s: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE, hash: &[u8; 32]) -> Vec<u8> {
    let mut m = CK_MECHANISM {
        mechanism: CKM_ECDSA,
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    };
    let mut sig = [0u8; 64];
    let mut n = 64;
    unsafe {
        assert_eq!(C_SignInit(s, &mut m, key), CKR_OK);
        let rv = C_Sign(s, hash.as_ptr().cast_mut(), 32, sig.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_OK);
    }
    sig[..n as usize].to_vec()
}

fn count_objects(s: CK_SESSION_HANDLE) -> usize {
    let mut found = [0; 32];
    let mut n = 0;
    unsafe {
        assert_eq!(C_FindObjectsInit(s, ptr::null_mut(), 0), CKR_OK);
        assert_eq!(C_FindObjects(s, found.as_mut_ptr(), 32, &mut n), CKR_OK);
        assert_eq!(C_FindObjectsFinal(s), CKR_OK);
    }
    n as usize
}

#[test]
fn threads_sign_and_list_and_finalize_wakes_a_waiter() {
    let dir = std::env::temp_dir().join(format!("schsm-threads-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    schsm_sim::create(
        &dir,
        &schsm_sim::NewOptions::initialised("3.5", *b"57621880", PIN, None),
    )
    .unwrap();
    std::env::set_var("SCHSM_PCSC", "0");
    std::env::set_var("SCHSM_SIM", &dir);
    let mut args = CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: CKF_OS_LOCKING_OK,
        pReserved: ptr::null_mut(),
    };
    let init = (&mut args as *mut CK_C_INITIALIZE_ARGS).cast();
    assert_eq!(unsafe { C_Initialize(init) }, CKR_OK);
    let mut slots = [0; 2];
    let mut n = 2;
    assert_eq!(
        unsafe { C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n) },
        CKR_OK
    );
    let slot = slots[0];
    let s = open(slot);
    assert_eq!(
        unsafe { C_Login(s, CKU_USER, PIN.as_ptr().cast_mut(), 6) },
        CKR_OK
    );
    let yes = CK_TRUE;
    let public = [attribute(CKA_EC_PARAMS, &P256), attribute(CKA_TOKEN, &yes)];
    let private = [attribute(CKA_TOKEN, &yes), attribute(CKA_SIGN, &yes)];
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
            public.as_ptr().cast_mut(),
            2,
            private.as_ptr().cast_mut(),
            2,
            &mut pubh,
            &mut key,
        )
    };
    assert_eq!(rv, CKR_OK);
    let mut point = [0u8; 80];
    let mut t = [CK_ATTRIBUTE {
        type_: CKA_EC_POINT,
        pValue: point.as_mut_ptr().cast(),
        ulValueLen: 80,
    }];
    assert_eq!(
        unsafe { C_GetAttributeValue(s, pubh, t.as_mut_ptr(), 1) },
        CKR_OK
    );
    // DER OCTET STRING (04 41) around the uncompressed point.
    let verifier = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point[2..t[0].ulValueLen as usize])
        .expect("P-256 point");

    let workers: Vec<_> = (0..THREADS)
        .map(|i| {
            std::thread::spawn(move || {
                let s = open(slot);
                let mut out = Vec::new();
                for j in 0..SIGNATURES {
                    let hash = [(i * 16 + j) as u8; 32];
                    out.push((hash, sign(s, key, &hash)));
                    assert!(count_objects(s) >= 2, "thread {i} lists the key pair");
                }
                assert_eq!(unsafe { C_CloseSession(s) }, CKR_OK);
                out
            })
        })
        .collect();
    let mut verified = 0;
    for w in workers {
        for (hash, sig) in w.join().expect("no thread panicked") {
            let sig = p256::ecdsa::Signature::from_slice(&sig).expect("r‖s");
            verifier
                .verify_prehash(&hash, &sig)
                .expect("every signature verifies");
            verified += 1;
        }
    }
    assert_eq!(verified, THREADS * SIGNATURES);
    println!("{verified} signatures from {THREADS} threads verified");

    // A quiet slot: no event. A blocking wait returns when another thread finalizes.
    let mut event_slot = 0;
    let rv = unsafe { C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut event_slot, ptr::null_mut()) };
    assert!(rv == CKR_NO_EVENT || rv == CKR_OK, "{rv:#x}");
    let waiter = std::thread::spawn(|| {
        let mut event_slot = 0;
        unsafe { C_WaitForSlotEvent(0, &mut event_slot, ptr::null_mut()) }
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(unsafe { C_Finalize(ptr::null_mut()) }, CKR_OK);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(waiter.join());
    });
    let rv = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the blocking C_WaitForSlotEvent returned after C_Finalize")
        .expect("no panic");
    assert_eq!(
        rv, CKR_CRYPTOKI_NOT_INITIALIZED,
        "blocking wait after C_Finalize: {rv:#x}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
