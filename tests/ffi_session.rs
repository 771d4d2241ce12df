//! The C ABI end to end over one simulated device (SCHSM_SIM): slot and token queries with the
//! size-query conventions, a session, login, an EC key pair, C_Sign with its size query and a
//! short buffer, C_GetAttributeValue's per-entry answers, random bytes. Library state is
//! process-global: the tests of this file are serialized (one device per test).

use std::path::PathBuf;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use cryptoki_sys::*;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use schsm_pkcs11::ffi::*;

const SO_PIN: [u8; 8] = *b"57621880";
const PIN: &[u8] = b"648219";
const SERIAL: &str = "DENK0100001";
/// DER OID prime256v1.
const P256: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// One initialized simulated device, the library initialized over it; finalized and removed
/// on drop.
struct Module {
    dir: PathBuf,
    _exclusive: MutexGuard<'static, ()>,
}

impl Module {
    fn new() -> Module {
        let exclusive = EXCLUSIVE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "schsm-ffi-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        schsm_sim::create(
            &dir,
            &schsm_sim::NewOptions::initialised("3.5", SO_PIN, PIN, None).with_serial(SERIAL),
        )
        .expect("simulated device created");
        std::env::set_var("SCHSM_PCSC", "0");
        std::env::set_var("SCHSM_SIM", &dir);
        assert_eq!(unsafe { C_Initialize(ptr::null_mut()) }, CKR_OK);
        Module {
            dir,
            _exclusive: exclusive,
        }
    }

    fn slot(&self) -> CK_SLOT_ID {
        let mut slots = [0 as CK_SLOT_ID; 4];
        let mut count = slots.len() as CK_ULONG;
        assert_eq!(
            unsafe { C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut count) },
            CKR_OK
        );
        assert_eq!(count, 1);
        slots[0]
    }

    fn user_session(&self) -> CK_SESSION_HANDLE {
        let mut session = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        let rv = unsafe { C_OpenSession(self.slot(), flags, ptr::null_mut(), None, &mut session) };
        assert_eq!(rv, CKR_OK);
        let rv = unsafe { C_Login(session, CKU_USER, PIN.as_ptr().cast_mut(), PIN.len() as _) };
        assert_eq!(rv, CKR_OK);
        session
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        unsafe { C_Finalize(ptr::null_mut()) };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn attribute<T>(kind: CK_ATTRIBUTE_TYPE, value: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: (value as *const T).cast_mut().cast(),
        ulValueLen: std::mem::size_of_val(value) as CK_ULONG,
    }
}

#[test]
fn slot_list_and_token_info() {
    let module = Module::new();
    unsafe {
        let mut count: CK_ULONG = 0;
        assert_eq!(C_GetSlotList(CK_TRUE, ptr::null_mut(), &mut count), CKR_OK);
        assert_eq!(count, 1);
        // A buffer too small is told the count.
        let mut none = [0 as CK_SLOT_ID; 1];
        count = 0;
        let rv = C_GetSlotList(CK_TRUE, none.as_mut_ptr(), &mut count);
        assert_eq!((rv, count), (CKR_BUFFER_TOO_SMALL, 1));

        let slot = module.slot();
        let mut info = std::mem::zeroed::<CK_TOKEN_INFO>();
        assert_eq!(C_GetTokenInfo(slot, &mut info), CKR_OK);
        assert_eq!(&info.serialNumber[..SERIAL.len()], SERIAL.as_bytes());
        assert!(info.serialNumber[SERIAL.len()..].iter().all(|&b| b == b' '));
        assert!(info.flags & CKF_TOKEN_INITIALIZED != 0);
        assert_eq!(C_GetTokenInfo(slot, ptr::null_mut()), CKR_ARGUMENTS_BAD);

        let mut slot_info = std::mem::zeroed::<CK_SLOT_INFO>();
        assert_eq!(C_GetSlotInfo(slot, &mut slot_info), CKR_OK);
        assert!(slot_info.flags & CKF_TOKEN_PRESENT != 0);

        count = 0;
        assert_eq!(
            C_GetMechanismList(slot, ptr::null_mut(), &mut count),
            CKR_OK
        );
        assert!(count > 0);
        let mut mechanisms = vec![0 as CK_MECHANISM_TYPE; count as usize];
        assert_eq!(
            C_GetMechanismList(slot, mechanisms.as_mut_ptr(), &mut count),
            CKR_OK
        );
        assert!(mechanisms.contains(&CKM_ECDSA), "{mechanisms:x?}");
        let mut mech_info = CK_MECHANISM_INFO::default();
        assert_eq!(C_GetMechanismInfo(slot, CKM_ECDSA, &mut mech_info), CKR_OK);
        assert!(mech_info.flags & CKF_SIGN != 0);
    }
}

#[test]
fn session_arguments() {
    let module = Module::new();
    let slot = module.slot();
    unsafe {
        let mut session = 0;
        let rv = C_OpenSession(
            slot,
            CKF_SERIAL_SESSION,
            ptr::null_mut(),
            None,
            ptr::null_mut(),
        );
        assert_eq!(rv, CKR_ARGUMENTS_BAD);
        assert_eq!(
            C_OpenSession(
                slot,
                CKF_SERIAL_SESSION,
                ptr::null_mut(),
                None,
                &mut session
            ),
            CKR_OK
        );
        // A NULL PIN with a length is a bad argument, not a protected-path login.
        assert_eq!(
            C_Login(session, CKU_USER, ptr::null_mut(), 6),
            CKR_ARGUMENTS_BAD
        );
        let wrong = b"000000";
        let rv = C_Login(
            session,
            CKU_USER,
            wrong.as_ptr().cast_mut(),
            wrong.len() as _,
        );
        assert_eq!(rv, CKR_PIN_INCORRECT);
        let mut info = CK_SESSION_INFO::default();
        assert_eq!(C_GetSessionInfo(session, &mut info), CKR_OK);
        assert_eq!((info.slotID, info.state), (slot, CKS_RO_PUBLIC_SESSION));
        assert_eq!(C_CloseSession(session), CKR_OK);
        assert_eq!(C_CloseSession(session), CKR_SESSION_HANDLE_INVALID);
    }
}

#[test]
fn ec_key_pair_sign_and_attributes() {
    let module = Module::new();
    let session = module.user_session();
    let (yes, no) = (CK_TRUE, CK_FALSE);
    let id = *b"ffi-test";
    let public_template = [
        attribute(CKA_EC_PARAMS, &P256),
        attribute(CKA_TOKEN, &yes),
        attribute(CKA_VERIFY, &yes),
    ];
    let private_template = [
        attribute(CKA_TOKEN, &yes),
        attribute(CKA_PRIVATE, &yes),
        attribute(CKA_SENSITIVE, &yes),
        attribute(CKA_EXTRACTABLE, &no),
        attribute(CKA_SIGN, &yes),
        attribute(CKA_ID, &id),
    ];
    let mut mechanism = CK_MECHANISM {
        mechanism: CKM_EC_KEY_PAIR_GEN,
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    };
    let (mut public, mut private) = (0, 0);
    let rv = unsafe {
        C_GenerateKeyPair(
            session,
            &mut mechanism,
            public_template.as_ptr().cast_mut(),
            public_template.len() as _,
            private_template.as_ptr().cast_mut(),
            private_template.len() as _,
            &mut public,
            &mut private,
        )
    };
    assert_eq!(rv, CKR_OK);

    // Every entry answered: sensitive value, size query, too small, invalid type.
    let mut small = [0u8; 2];
    let mut template = [
        CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        },
        CK_ATTRIBUTE {
            type_: CKA_EC_PARAMS,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        },
        CK_ATTRIBUTE {
            type_: CKA_ID,
            pValue: small.as_mut_ptr().cast(),
            ulValueLen: 2,
        },
        CK_ATTRIBUTE {
            type_: 0x0EEE_EEEE,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        },
    ];
    let rv = unsafe { C_GetAttributeValue(session, private, template.as_mut_ptr(), 4) };
    assert!(
        [
            CKR_ATTRIBUTE_SENSITIVE,
            CKR_BUFFER_TOO_SMALL,
            CKR_ATTRIBUTE_TYPE_INVALID
        ]
        .contains(&rv),
        "{rv:#x}"
    );
    assert_eq!(template[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(template[1].ulValueLen, P256.len() as CK_ULONG);
    assert_eq!(template[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(template[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);

    // The public point, for an independent check of the signature.
    let mut point = [0u8; 128];
    let mut query = [CK_ATTRIBUTE {
        type_: CKA_EC_POINT,
        pValue: point.as_mut_ptr().cast(),
        ulValueLen: 128,
    }];
    assert_eq!(
        unsafe { C_GetAttributeValue(session, public, query.as_mut_ptr(), 1) },
        CKR_OK
    );
    let point = &point[..query[0].ulValueLen as usize];
    // DER OCTET STRING around the uncompressed point.
    let point = if point.len() == 67 && point[0] == 0x04 {
        &point[2..]
    } else {
        point
    };

    let hash = [0x5Au8; 32];
    let mut mechanism = CK_MECHANISM {
        mechanism: CKM_ECDSA,
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    };
    unsafe {
        assert_eq!(C_SignInit(session, &mut mechanism, private), CKR_OK);
        let mut len: CK_ULONG = 0;
        let data = hash.as_ptr().cast_mut();
        assert_eq!(C_Sign(session, data, 32, ptr::null_mut(), &mut len), CKR_OK);
        assert_eq!(len, 64);
        let mut signature = [0u8; 64];
        len = 10;
        assert_eq!(
            C_Sign(session, data, 32, signature.as_mut_ptr(), &mut len),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(len, 64);
        assert_eq!(
            C_Sign(session, data, 32, signature.as_mut_ptr(), &mut len),
            CKR_OK
        );
        assert_eq!(len, 64);
        // The operation ended with the delivered signature.
        assert_eq!(
            C_Sign(session, data, 32, signature.as_mut_ptr(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED
        );

        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).expect("P-256 point");
        let sig = p256::ecdsa::Signature::from_slice(&signature).expect("r‖s");
        key.verify_prehash(&hash, &sig).expect("signature verifies");

        // NULL mechanism and bad parameters are refused before the token.
        assert_eq!(
            C_SignInit(session, ptr::null_mut(), private),
            CKR_ARGUMENTS_BAD
        );
        let mut pss = CK_MECHANISM {
            mechanism: CKM_SHA256_RSA_PKCS_PSS,
            pParameter: ptr::null_mut(),
            ulParameterLen: 0,
        };
        assert_eq!(
            C_SignInit(session, &mut pss, private),
            CKR_MECHANISM_PARAM_INVALID
        );

        assert_eq!(C_DestroyObject(session, private), CKR_OK);
        // The public key lives in the key's files on the card: it may have gone with it.
        let rv = C_DestroyObject(session, public);
        assert!(rv == CKR_OK || rv == CKR_OBJECT_HANDLE_INVALID, "{rv:#x}");
    }
}

#[test]
fn find_objects() {
    let module = Module::new();
    let session = module.user_session();
    unsafe {
        assert_eq!(
            C_FindObjectsInit(session, ptr::null_mut(), 1),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(C_FindObjectsInit(session, ptr::null_mut(), 0), CKR_OK);
        let mut found = [0 as CK_OBJECT_HANDLE; 16];
        let mut count: CK_ULONG = 99;
        assert_eq!(
            C_FindObjects(session, found.as_mut_ptr(), 16, &mut count),
            CKR_OK
        );
        assert!(count <= 16);
        assert_eq!(
            C_FindObjects(session, ptr::null_mut(), 4, &mut count),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            C_FindObjects(session, found.as_mut_ptr(), 4, ptr::null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(C_FindObjectsFinal(session), CKR_OK);
        assert_eq!(C_FindObjectsFinal(session), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(C_Logout(session), CKR_OK);
    }
}

#[test]
fn data_object_round_trip() {
    let module = Module::new();
    let session = module.user_session();
    let (class, yes, no) = (CKO_DATA, CK_TRUE, CK_FALSE);
    let label = *b"ffi data";
    let value = *b"some bytes for the card";
    let template = [
        attribute(CKA_CLASS, &class),
        attribute(CKA_TOKEN, &yes),
        attribute(CKA_PRIVATE, &no),
        attribute(CKA_LABEL, &label),
        attribute(CKA_VALUE, &value),
    ];
    let mut object = 0;
    unsafe {
        let t = template.as_ptr().cast_mut();
        assert_eq!(
            C_CreateObject(session, t, 5, ptr::null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(C_CreateObject(session, t, 5, &mut object), CKR_OK);

        let mut size: CK_ULONG = 0;
        assert_eq!(C_GetObjectSize(session, object, &mut size), CKR_OK);

        // Size query, then the value; a too-small entry and an unknown type do not stop the rest.
        let mut small = [0u8; 3];
        let mut query = [
            CK_ATTRIBUTE {
                type_: CKA_VALUE,
                pValue: ptr::null_mut(),
                ulValueLen: 0,
            },
            CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: small.as_mut_ptr().cast(),
                ulValueLen: 3,
            },
            CK_ATTRIBUTE {
                type_: 0x0EEE_EEEE,
                pValue: ptr::null_mut(),
                ulValueLen: 0,
            },
        ];
        let rv = C_GetAttributeValue(session, object, query.as_mut_ptr(), 3);
        assert_eq!(rv, CKR_BUFFER_TOO_SMALL);
        assert_eq!(query[0].ulValueLen, value.len() as CK_ULONG);
        assert_eq!(query[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(query[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(small, [0; 3]);

        let mut read = [0u8; 64];
        let mut query = [CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: read.as_mut_ptr().cast(),
            ulValueLen: 64,
        }];
        assert_eq!(
            C_GetAttributeValue(session, object, query.as_mut_ptr(), 1),
            CKR_OK
        );
        assert_eq!(&read[..query[0].ulValueLen as usize], &value[..]);
        assert_eq!(
            C_GetAttributeValue(session, object, ptr::null_mut(), 1),
            CKR_ARGUMENTS_BAD
        );

        // Rename, then find it by its new label.
        let renamed = *b"renamed";
        let set = [attribute(CKA_LABEL, &renamed)];
        assert_eq!(
            C_SetAttributeValue(session, object, set.as_ptr().cast_mut(), 1),
            CKR_OK
        );
        assert_eq!(
            C_FindObjectsInit(session, set.as_ptr().cast_mut(), 1),
            CKR_OK
        );
        let mut found = [0 as CK_OBJECT_HANDLE; 4];
        let mut count: CK_ULONG = 0;
        assert_eq!(
            C_FindObjects(session, found.as_mut_ptr(), 4, &mut count),
            CKR_OK
        );
        assert_eq!(&found[..count as usize], &[object]);
        assert_eq!(C_FindObjectsFinal(session), CKR_OK);

        assert_eq!(C_DestroyObject(session, object), CKR_OK);
        let mut query = [CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        }];
        let rv = C_GetAttributeValue(session, object, query.as_mut_ptr(), 1);
        assert_eq!(rv, CKR_OBJECT_HANDLE_INVALID);
    }
}

#[test]
fn random() {
    let module = Module::new();
    let session = module.user_session();
    unsafe {
        let mut random = [0u8; 48];
        assert_eq!(C_GenerateRandom(session, random.as_mut_ptr(), 48), CKR_OK);
        assert!(random.iter().any(|&b| b != 0));
        assert_eq!(C_GenerateRandom(session, ptr::null_mut(), 0), CKR_OK);
        assert_eq!(
            C_GenerateRandom(session, ptr::null_mut(), 8),
            CKR_ARGUMENTS_BAD
        );
    }
}
