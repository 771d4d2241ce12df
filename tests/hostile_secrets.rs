//! Secrets never reach the log: a whole session at SCHSM_LOG=trace into SCHSM_LOG_FILE (a wrong
//! PIN, login, key generation, signature, DKEK wrap, unwrap through the #168 shim with a share
//! file and its password, C_SetPIN, the SO's C_InitPIN), then the log is searched for every
//! secret used (PINs, SO-PIN, DKEK share, share-file password, and the private key the shim
//! decrypted in the host), as text, as hex (either case, with and without separators) and as
//! raw bytes; a secret longer than 8 bytes also by every 8-byte window (a partial dump).
//!
//! The logger is process-global and installed once: this file is its own test binary with one
//! test, so no other test's settings can reach it.

use std::ffi::c_void;
use std::path::Path;
use std::ptr;

use cryptoki_sys::*;
use schsm_pkcs11::card::blob::{BlobKey, KeyBlob};
use schsm_pkcs11::card::dkek::{Dkek, DkekShare};
use schsm_pkcs11::card::share_file::encrypt_share_file;
use schsm_pkcs11::card::wrapped_file::WrappedKeyFile;
use schsm_pkcs11::card::Device;
use schsm_pkcs11::ffi::*;
use schsm_pkcs11::transport::SimTransport;
use schsm_pkcs11::vendor::CKM_SCHSM_DKEK_WRAP;

/// The SO-PIN's 8 bytes; PKCS#11 callers give it as its 16 hex digits (SO_PIN_HEX).
const SO_PIN: [u8; 8] = [0x3A, 0x91, 0x5C, 0x07, 0xE4, 0x28, 0xB6, 0xD3];
const SO_PIN_HEX: &[u8] = b"3a915c07e428b6d3";
const PIN: &[u8] = b"731946";
const NEW_PIN: &[u8] = b"582039";
const RESET_PIN: &[u8] = b"904172";
const WRONG_PIN: &[u8] = b"193857";
const SHARE: [u8; 32] = [
    0xA7, 0x1B, 0x5C, 0xE2, 0x39, 0xD4, 0x60, 0x8F, 0x13, 0xCA, 0x77, 0x2E, 0x95, 0x4B, 0xF0, 0x06,
    0x58, 0xBD, 0x21, 0x9A, 0x6C, 0xE7, 0x34, 0x81, 0xDF, 0x42, 0x0B, 0xA6, 0x7D, 0x19, 0xC3, 0x5E,
];
const PASSWORD: &str = "tangerine-okapi-4471";
/// DER OID prime256v1.
const P256: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

fn device(dir: &Path, firmware: &str) {
    schsm_sim::create(
        dir,
        &schsm_sim::NewOptions::initialised(firmware, SO_PIN, PIN, Some(1)),
    )
    .unwrap();
    let mut dev = Device::open(Box::new(SimTransport::open(dir).unwrap())).unwrap();
    dev.import_dkek_share(&DkekShare::new(SHARE)).unwrap();
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
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    }
}

fn open(slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
    let mut s = 0;
    let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    let rv = unsafe { C_OpenSession(slot, flags, ptr::null_mut(), None, &mut s) };
    assert_eq!(rv, CKR_OK);
    s
}

fn login(s: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> CK_RV {
    unsafe { C_Login(s, user, pin.as_ptr().cast_mut(), pin.len() as _) }
}

fn dkek(s: CK_SESSION_HANDLE) -> CK_OBJECT_HANDLE {
    let class = CKO_SECRET_KEY;
    let label = *b"DKEK";
    let template = [attribute(CKA_CLASS, &class), attribute(CKA_LABEL, &label)];
    let mut found = [0; 2];
    let mut n = 0;
    unsafe {
        assert_eq!(
            C_FindObjectsInit(s, template.as_ptr().cast_mut(), 2),
            CKR_OK
        );
        assert_eq!(C_FindObjects(s, found.as_mut_ptr(), 2, &mut n), CKR_OK);
        assert_eq!(C_FindObjectsFinal(s), CKR_OK);
    }
    assert_eq!(n, 1, "one DKEK object");
    found[0]
}

/// Every way a secret could be written: text, hex in either case with or without separators,
/// raw bytes; and for long secrets any 8-byte window of them (a partial dump).
fn needles(name: &str, secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let windows: Vec<&[u8]> = if secret.len() > 8 {
        secret.windows(8).collect()
    } else {
        vec![secret]
    };
    for w in windows {
        out.push((format!("{name} raw"), w.to_vec()));
        let lower = hex::encode(w);
        let spaced: Vec<String> = w.iter().map(|b| format!("{b:02x}")).collect();
        for s in [
            lower.clone(),
            spaced.join(" "),
            spaced.join(":"),
            format!("{w:?}"),
        ] {
            out.push((format!("{name} as {s}"), s.clone().into_bytes()));
            out.push((
                format!("{name} as {s} (upper)"),
                s.to_uppercase().into_bytes(),
            ));
        }
    }
    out
}

#[test]
fn no_secret_in_a_trace_log() {
    let base = std::env::temp_dir().join(format!("schsm-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let (hsm1, hsm2) = (base.join("hsm1"), base.join("hsm2"));
    device(&hsm1, "2.6");
    device(&hsm2, "3.1");
    let pbe =
        encrypt_share_file(&DkekShare::new(SHARE), PASSWORD.as_bytes(), &[5; 8], 1000).unwrap();
    std::fs::write(base.join("s.pbe"), pbe).unwrap();
    std::fs::write(base.join("s.pw"), format!("{PASSWORD}\n")).unwrap();
    let conf = base.join("schsm.toml");
    std::fs::write(
        &conf,
        format!(
            "[dkek]\nshares = [\"{0}/s.pbe\"]\npassword_files = [\"{0}/s.pw\"]\niterations = 1000\n",
            base.display()
        ),
    )
    .unwrap();
    let log = base.join("trace.log");
    std::env::set_var("SCHSM_SIM", std::env::join_paths([&hsm1, &hsm2]).unwrap());
    std::env::set_var("SCHSM_PCSC", "0");
    std::env::set_var("SCHSM_CONF", &conf);
    std::env::set_var("SCHSM_LOG", "trace");
    std::env::set_var("SCHSM_LOG_FILE", &log);

    let private_scalar;
    unsafe {
        assert_eq!(C_Initialize(ptr::null_mut::<c_void>()), CKR_OK);
        let mut slots = [0; 4];
        let mut n = 4;
        assert_eq!(C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(n, 2);
        let (s1, s2) = (open(slots[0]), open(slots[1]));
        assert_eq!(login(s1, CKU_USER, WRONG_PIN), CKR_PIN_INCORRECT);
        assert_eq!(login(s1, CKU_USER, PIN), CKR_OK);
        assert_eq!(login(s2, CKU_USER, PIN), CKR_OK);

        // Key generation and a signature.
        let (yes, no) = (CK_TRUE, CK_FALSE);
        let public = [attribute(CKA_EC_PARAMS, &P256), attribute(CKA_TOKEN, &yes)];
        let private = [
            attribute(CKA_TOKEN, &yes),
            attribute(CKA_SIGN, &yes),
            attribute(CKA_EXTRACTABLE, &yes),
            attribute(CKA_SENSITIVE, &yes),
            attribute(CKA_PRIVATE, &no),
        ];
        let mut m = mechanism(CKM_EC_KEY_PAIR_GEN);
        let (mut pubh, mut privh) = (0, 0);
        let rv = C_GenerateKeyPair(
            s1,
            &mut m,
            public.as_ptr().cast_mut(),
            2,
            private.as_ptr().cast_mut(),
            5,
            &mut pubh,
            &mut privh,
        );
        assert_eq!(rv, CKR_OK);
        let mut data = [0x42u8; 32];
        let mut sig = [0u8; 128];
        let mut n = 128;
        let mut ecdsa = mechanism(CKM_ECDSA);
        assert_eq!(C_SignInit(s1, &mut ecdsa, privh), CKR_OK);
        assert_eq!(
            C_Sign(s1, data.as_mut_ptr(), 32, sig.as_mut_ptr(), &mut n),
            CKR_OK
        );

        // DKEK wrap on the 2.6 device, unwrap into the 3.1 device (the share-file shim).
        let mut wrap = mechanism(CKM_SCHSM_DKEK_WRAP);
        let mut envelope = vec![0u8; 4096];
        let mut n = 4096;
        let rv = C_WrapKey(
            s1,
            &mut wrap,
            dkek(s1),
            privh,
            envelope.as_mut_ptr(),
            &mut n,
        );
        assert_eq!(rv, CKR_OK);
        let class = CKO_PRIVATE_KEY;
        let ec = CKK_EC;
        let target = [
            attribute(CKA_CLASS, &class),
            attribute(CKA_KEY_TYPE, &ec),
            attribute(CKA_TOKEN, &yes),
        ];
        let mut moved = 0;
        let rv = C_UnwrapKey(
            s2,
            &mut wrap,
            dkek(s2),
            envelope.as_mut_ptr(),
            n,
            target.as_ptr().cast_mut(),
            3,
            &mut moved,
        );
        assert_eq!(rv, CKR_OK);

        // The private key itself (the shim decrypted and re-encrypted it in the host): from the
        // envelope, with the DKEK this test knows.
        envelope.truncate(n as usize);
        let blob = WrappedKeyFile::decode(&envelope)
            .map(|f| f.blob)
            .unwrap_or_else(|_| envelope.clone());
        let dkek = Dkek::from_shares(&[DkekShare::new(SHARE)]);
        private_scalar = match KeyBlob::parse(&blob).and_then(|b| b.decrypt(&dkek)) {
            Ok(BlobKey::Ec { d, .. }) => d.expose().to_vec(),
            other => panic!("the envelope holds an EC key blob: {other:?}"),
        };

        // C_SetPIN, then the SO sets a new user PIN.
        let rv = C_SetPIN(
            s2,
            PIN.as_ptr().cast_mut(),
            PIN.len() as _,
            NEW_PIN.as_ptr().cast_mut(),
            NEW_PIN.len() as _,
        );
        assert_eq!(rv, CKR_OK);
        assert_eq!(C_CloseAllSessions(slots[1]), CKR_OK);
        let so = open(slots[1]);
        assert_eq!(login(so, CKU_SO, SO_PIN_HEX), CKR_OK);
        let rv = C_InitPIN(so, RESET_PIN.as_ptr().cast_mut(), RESET_PIN.len() as _);
        assert_eq!(rv, CKR_OK);
        assert_eq!(C_Logout(so), CKR_OK);
        assert_eq!(login(so, CKU_USER, RESET_PIN), CKR_OK);
        assert_eq!(C_Finalize(ptr::null_mut()), CKR_OK);
    }

    let text = std::fs::read(&log).expect("the trace log was written");
    assert!(
        text.windows(5).filter(|w| w == b"TRACE").count() > 20,
        "the log is at trace level ({} bytes)",
        text.len()
    );
    let secrets: Vec<(&str, &[u8])> = vec![
        ("PIN", PIN),
        ("new PIN", NEW_PIN),
        ("reset PIN", RESET_PIN),
        ("wrong PIN", WRONG_PIN),
        ("SO-PIN", &SO_PIN),
        ("SO-PIN text", SO_PIN_HEX),
        ("DKEK share", &SHARE),
        ("password", PASSWORD.as_bytes()),
        ("private key", &private_scalar),
    ];
    let mut leaks = Vec::new();
    let mut searched = 0;
    for (name, secret) in secrets {
        for (what, needle) in needles(name, secret) {
            searched += 1;
            if text.windows(needle.len()).any(|w| w == needle.as_slice()) {
                leaks.push(what);
            }
        }
    }
    println!(
        "{} log bytes, {searched} secret patterns searched",
        text.len()
    );
    if std::env::var_os("SCHSM_TEST_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
    assert!(leaks.is_empty(), "secrets in the trace log: {leaks:?}");
}
