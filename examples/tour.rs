//! The story this module was written for, on two simulated devices in this process, with nothing
//! installed: `cargo run --release --example tour`.
//!
//! A key generated on an HSM 1 (firmware 2.6) with an algorithm list (ECDSA-SHA256 only, and
//! exportable) is wrapped under the DKEK the two devices share and unwrapped into an HSM 2 with
//! firmware 3.1 — which, as such, answers "6F00" to any blob with an algorithm list (CardContact
//! bug #168). The module holds the DKEK (SCHSM_CONF [dkek]), re-encodes the blob without the list,
//! keeps the restriction in the key's description, and enforces it itself. The moved key signs;
//! the signature is verified with the first device's public key, outside the module.

use std::path::{Path, PathBuf};

use cryptoki_sys::*;
use schsm_pkcs11::card::dkek::DkekShare;
use schsm_pkcs11::card::share_file::encrypt_share_file;
use schsm_pkcs11::card::Device;
use schsm_pkcs11::token::api::{
    self, Attribute, InitOptions, Mechanism, MechanismParam, Operation, Output,
};
use schsm_pkcs11::transport::SimTransport;
use schsm_pkcs11::vendor::{CKA_SCHSM_ALGORITHM_LIST, CKM_SCHSM_DKEK_WRAP};

const PIN: &[u8] = b"648219";
const MESSAGE: &[u8] = b"a key that moved from an HSM 1 to an HSM 2 on firmware 3.1";

fn step(n: u32, text: &str) {
    println!("\n{n}. {text}");
}

fn attr(kind: CK_ATTRIBUTE_TYPE, value: impl Into<Vec<u8>>) -> Attribute {
    Attribute {
        kind,
        value: value.into(),
    }
}

fn mech(kind: CK_MECHANISM_TYPE) -> Mechanism {
    Mechanism {
        kind,
        param: MechanismParam::None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn new_device(dir: &Path, firmware: &str) {
    let _ = std::fs::remove_dir_all(dir);
    schsm_sim::create(
        dir,
        &schsm_sim::NewOptions::initialised(firmware, *b"57621880", PIN, Some(1)),
    )
    .expect("simulated device");
}

fn get(s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, kind: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
    match api::get_attributes(s, o, &[kind]).unwrap().remove(0) {
        api::AttributeValue::Value(v) => v,
        other => panic!("{other:?}"),
    }
}

fn session(slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
    let s = api::open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION).unwrap();
    api::login(s, CKU_USER, Some(PIN)).unwrap();
    s
}

fn dkek(s: CK_SESSION_HANDLE) -> CK_OBJECT_HANDLE {
    api::find_objects_init(s, &[attr(CKA_LABEL, b"DKEK".to_vec())]).unwrap();
    let found = api::find_objects(s, 1).unwrap();
    api::find_objects_final(s).unwrap();
    found[0]
}

fn main() {
    let base: PathBuf = std::env::temp_dir().join(format!("schsm-tour-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    let (hsm1, hsm2) = (base.join("hsm1-fw2.6"), base.join("hsm2-fw3.1"));

    step(
        1,
        "Two simulated devices: a Nitrokey HSM 1 (firmware 2.6) and an HSM 2 (firmware 3.1).",
    );
    new_device(&hsm1, "2.6");
    new_device(&hsm2, "3.1");
    println!("   {}\n   {}", hsm1.display(), hsm2.display());

    step(
        2,
        "One DKEK share, imported into both (as sc-hsm-tool --import-dkek-share does).",
    );
    let share = DkekShare::new(*b"tour: a DKEK share of 32 bytes!!");
    for dir in [&hsm1, &hsm2] {
        let mut dev = Device::open(Box::new(SimTransport::open(dir).unwrap())).unwrap();
        let status = dev.import_dkek_share(&share).unwrap();
        println!("   {}: KCV {}", dir.display(), hex(&status.kcv));
    }

    step(
        3,
        "The share file and its password for the module (SCHSM_CONF [dkek]); the tour uses 1000 \
             KDF rounds instead of sc-hsm-tool's 10 million to be quick.",
    );
    let file = encrypt_share_file(&share, b"tour password", &[1; 8], 1000).unwrap();
    std::fs::write(base.join("share.pbe"), file).unwrap();
    std::fs::write(base.join("share.pw"), "tour password\n").unwrap();
    let conf = base.join("schsm.toml");
    std::fs::write(
        &conf,
        format!(
            "[log]\nlevel = \"info\"\n[dkek]\nshares = [\"{0}/share.pbe\"]\npassword_files = [\"{0}/share.pw\"]\niterations = 1000\n",
            base.display()
        ),
    )
    .unwrap();
    std::env::set_var("SCHSM_CONF", &conf);
    std::env::set_var("SCHSM_SIM", std::env::join_paths([&hsm1, &hsm2]).unwrap());
    std::env::set_var("SCHSM_PCSC", "0");
    api::initialize(InitOptions {
        may_create_threads: true,
    })
    .unwrap();
    let slots = api::slot_list(true).unwrap();
    let (s1, s2) = (session(slots[0]), session(slots[1]));
    println!("   module initialised; the module's decisions are logged at info on stderr");

    step(
        4,
        "On the HSM 1: an EC P-256 key allowed CKM_ECDSA_SHA256 only, exportable.",
    );
    let curve = schsm_pkcs11::card::curves::Curve::by_name("secp256r1").unwrap();
    let (public, private) = api::generate_key_pair(
        s1,
        &mech(CKM_EC_KEY_PAIR_GEN),
        &[
            attr(CKA_EC_PARAMS, curve.ec_params_der()),
            attr(CKA_TOKEN, vec![1]),
        ],
        &[
            attr(CKA_TOKEN, vec![1]),
            attr(CKA_SIGN, vec![1]),
            attr(CKA_EXTRACTABLE, vec![1]),
            attr(CKA_LABEL, b"tour key".to_vec()),
            attr(
                CKA_ALLOWED_MECHANISMS,
                CK_MECHANISM_TYPE::from(CKM_ECDSA_SHA256)
                    .to_ne_bytes()
                    .to_vec(),
            ),
        ],
    )
    .unwrap();
    let list = get(s1, private, CKA_SCHSM_ALGORITHM_LIST);
    println!(
        "   the card of the HSM 1 keeps the algorithm list {} (73 = ECDSA with SHA-256 on the card, \
         92 = WRAP)",
        hex(&list)
    );
    let point_der = get(s1, public, CKA_EC_POINT);
    let point = point_der[2..].to_vec();

    step(5, "C_WrapKey(CKM_SCHSM_DKEK_WRAP, DKEK, key): the sc-hsm-tool envelope (blob, description, request).");
    let d1 = dkek(s1);
    let m = mech(CKM_SCHSM_DKEK_WRAP);
    let Output::Len(n) = api::wrap_key(s1, &m, d1, private, None).unwrap() else {
        unreachable!()
    };
    let Output::Data(envelope) = api::wrap_key(s1, &m, d1, private, Some(n)).unwrap() else {
        unreachable!()
    };
    std::fs::write(base.join("tour-key.wky"), &envelope).unwrap();
    println!(
        "   {} bytes, written to {} (sc-hsm-tool --unwrap-key reads it too)",
        envelope.len(),
        base.join("tour-key.wky").display()
    );
    let blob = schsm_pkcs11::card::wrapped_file::WrappedKeyFile::decode(&envelope)
        .unwrap()
        .blob;
    let header = schsm_pkcs11::card::blob::KeyBlob::parse(&blob)
        .unwrap()
        .header;
    println!(
        "   the blob carries the list {}: sent as is, firmware 3.1 would answer 6F00",
        hex(&header.algorithms)
    );

    step(
        6,
        "C_UnwrapKey into the HSM 2 (3.1): the module re-encodes the blob without the list.",
    );
    let d2 = dkek(s2);
    let moved = api::unwrap_key(s2, &m, d2, &envelope, &[]).unwrap();
    println!(
        "   unwrapped: label {:?}, CKA_SCHSM_ALGORITHM_LIST {} kept in the key's description",
        String::from_utf8_lossy(&get(s2, moved, CKA_LABEL)),
        hex(&get(s2, moved, CKA_SCHSM_ALGORITHM_LIST))
    );

    step(
        7,
        "The restriction holds on the HSM 2: CKM_ECDSA is refused, CKM_ECDSA_SHA256 signs.",
    );
    let refused = api::operation_init(s2, Operation::Sign, &mech(CKM_ECDSA), Some(moved));
    println!("   C_SignInit(CKM_ECDSA): {refused:?}");
    api::operation_init(s2, Operation::Sign, &mech(CKM_ECDSA_SHA256), Some(moved)).unwrap();
    let Output::Data(sig) = api::operation_single(s2, Operation::Sign, MESSAGE, Some(64)).unwrap()
    else {
        unreachable!()
    };
    println!("   signature {}", hex(&sig));

    step(
        8,
        "Verified outside the module (p256) with the HSM 1's public key.",
    );
    use p256::ecdsa::signature::Verifier;
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
    match vk.verify(MESSAGE, &sig) {
        Ok(()) => println!("   the signature verifies: the same key, moved through the shim"),
        Err(e) => println!("   verification FAILED: {e}"),
    }

    api::finalize().unwrap();
    let _ = std::fs::remove_dir_all(&base);
}
