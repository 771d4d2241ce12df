//! Issue 4 through an independent PKCS#11 client: the `cryptoki` crate drives the built
//! `libschsm_pkcs11.so` (its own global state, nothing shared with this test's copy of the
//! crate) over simulated devices served in-process by the module (SCHSM_SIM).
//!
//! 2.6 → 3.1 with the DKEK shares configured: a key restricted to ECDSA-SHA256 and extractable
//! wraps on the HSM 1, unwraps into the 3.1 device through the #168 shim, signs with
//! ECDSA-SHA256 (verified with p256 against the source's public key) and is refused CKM_ECDSA.
//! Without the shares the unwrap fails with CKR_FUNCTION_FAILED and the target is unchanged.

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use schsm_pkcs11::card::dkek::DkekShare;
use schsm_pkcs11::card::share_file::encrypt_share_file;
use schsm_pkcs11::card::Device;
use schsm_pkcs11::transport::SimTransport;
use schsm_pkcs11::vendor::CKM_SCHSM_DKEK_WRAP;

const PIN: &str = "648219";
const SHARE: [u8; 32] = [0x3C; 32];
const MESSAGE: &[u8] = b"signed through an independent client";

/// The module cargo built for this test run: target/<profile>/deps/libschsm_pkcs11.so, beside
/// this test binary (`cargo test` builds the cdylib there; `cargo build` also copies it up).
fn module() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps folder");
    [deps.to_path_buf(), deps.join("..")]
        .into_iter()
        .map(|d| d.join("libschsm_pkcs11.so"))
        .find(|so| so.exists())
        .expect("libschsm_pkcs11.so built beside the test binary (cargo test builds it)")
}

fn device(dir: &Path, firmware: &str) {
    schsm_sim::create(
        dir,
        &schsm_sim::NewOptions::initialised(firmware, *b"57621880", PIN.as_bytes(), Some(1)),
    )
    .unwrap();
    let mut dev = Device::open(Box::new(SimTransport::open(dir).unwrap())).unwrap();
    dev.import_dkek_share(&DkekShare::new(SHARE)).unwrap();
}

fn key_count(dir: &Path) -> usize {
    let store = schsm_sim::state::Store::open(dir).unwrap();
    store.load().unwrap().keys.len()
}

fn open(so: &Path, dirs: &[&Path], conf: Option<&Path>) -> (Pkcs11, Vec<Session>) {
    std::env::set_var("SCHSM_SIM", std::env::join_paths(dirs).unwrap());
    std::env::set_var("SCHSM_PCSC", "0");
    match conf {
        Some(c) => std::env::set_var("SCHSM_CONF", c),
        None => std::env::remove_var("SCHSM_CONF"),
    }
    let p = Pkcs11::new(so).unwrap();
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let sessions = p
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .map(|slot| {
            let s = p.open_rw_session(slot).unwrap();
            s.login(UserType::User, Some(&AuthPin::new(PIN.into())))
                .unwrap();
            s
        })
        .collect();
    (p, sessions)
}

fn dkek(s: &Session) -> ObjectHandle {
    let found = s
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(b"DKEK".to_vec()),
        ])
        .unwrap();
    assert_eq!(found.len(), 1);
    found[0]
}

fn dkek_wrap() -> Mechanism<'static> {
    let kind = MechanismType::new_vendor_defined(CKM_SCHSM_DKEK_WRAP).unwrap();
    Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(kind, None))
}

fn rv(e: Error) -> RvError {
    match e {
        Error::Pkcs11(rv, _) => rv,
        other => panic!("{other:?}"),
    }
}

#[test]
fn hsm1_to_firmware_31_through_the_so() {
    let so = module();
    let base = std::env::temp_dir().join(format!("schsm-cryptoki-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let (hsm1, hsm2, hsm3) = (base.join("hsm1"), base.join("hsm2"), base.join("hsm3"));
    device(&hsm1, "2.6");
    device(&hsm2, "3.1");
    device(&hsm3, "3.1");
    let pbe = encrypt_share_file(&DkekShare::new(SHARE), b"pw", &[5; 8], 1000).unwrap();
    std::fs::write(base.join("s.pbe"), pbe).unwrap();
    std::fs::write(base.join("s.pw"), "pw\n").unwrap();
    let conf = base.join("schsm.toml");
    std::fs::write(
        &conf,
        format!(
            "[dkek]\nshares = [\"{0}/s.pbe\"]\npassword_files = [\"{0}/s.pw\"]\niterations = 1000\n",
            base.display()
        ),
    )
    .unwrap();

    // With the shares: HSM 1 → 3.1.
    let (p, sessions) = open(&so, &[&hsm1, &hsm2], Some(&conf));
    let (s1, s2) = (&sessions[0], &sessions[1]);
    let p256_params = vec![0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    let (public, private) = s1
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::Token(true), Attribute::EcParams(p256_params)],
            &[
                Attribute::Token(true),
                Attribute::Sign(true),
                Attribute::Extractable(true),
                Attribute::Label(b"moving".to_vec()),
                Attribute::AllowedMechanisms(vec![MechanismType::ECDSA_SHA256]),
            ],
        )
        .unwrap();
    let point_der = match &s1
        .get_attributes(public, &[AttributeType::EcPoint])
        .unwrap()[0]
    {
        Attribute::EcPoint(p) => p.clone(),
        other => panic!("{other:?}"),
    };
    let point = point_der[2..].to_vec();
    let envelope = s1.wrap_key(&dkek_wrap(), dkek(s1), private).unwrap();
    let moved = s2
        .unwrap_key(
            &dkek_wrap(),
            dkek(s2),
            &envelope,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Token(true),
            ],
        )
        .unwrap();
    let sig = s2.sign(&Mechanism::EcdsaSha256, moved, MESSAGE).unwrap();
    {
        use p256::ecdsa::signature::Verifier;
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
        let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        vk.verify(MESSAGE, &sig)
            .expect("verifies with the HSM 1's public key");
    }
    assert_eq!(
        rv(s2.sign_init(&Mechanism::Ecdsa, moved).unwrap_err()),
        RvError::MechanismInvalid
    );
    drop(sessions);
    p.finalize().unwrap();

    // Without the shares: HSM 1 → another 3.1 device fails, nothing lands there.
    let (p, sessions) = open(&so, &[&hsm1, &hsm3], None);
    let (s1, s3) = (&sessions[0], &sessions[1]);
    let private = s1
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(b"moving".to_vec()),
        ])
        .unwrap()[0];
    let envelope = s1.wrap_key(&dkek_wrap(), dkek(s1), private).unwrap();
    assert_eq!(
        rv(s3
            .unwrap_key(&dkek_wrap(), dkek(s3), &envelope, &[])
            .unwrap_err()),
        RvError::FunctionFailed
    );
    assert_eq!(key_count(&hsm3), 0, "nothing new on the target");
    drop(sessions);
    p.finalize().unwrap();
    let _ = std::fs::remove_dir_all(&base);
}
