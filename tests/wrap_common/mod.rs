//! Helpers of the DKEK wrap/unwrap and key import tests (`mod wrap_common;`, beside
//! `mod token_support;` and `mod token_ops_common;`): devices sharing a DKEK, a config giving
//! the module the DKEK shares, wrap/unwrap with size query, independent ECDSA checks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cryptoki_sys::*;
use schsm_pkcs11::card::dkek::DkekShare;
use schsm_pkcs11::card::share_file::encrypt_share_file;
use schsm_pkcs11::token::api::{self, Attribute, Output};
use schsm_pkcs11::vendor::CKM_SCHSM_DKEK_WRAP;
use sha2::{Digest, Sha256};

use super::token_ops_common::*;
use super::token_support::*;

pub const MESSAGE: &[u8] = b"restricted keys travel";
pub const SHARE: [u8; 32] = [0x5A; 32];
pub const OTHER_SHARE: [u8; 32] = [0x11; 32];
pub const VECTOR_SHARE: &str = "2848cb6e994f5a00c365c3c255ed130512ce1eb06bf08d348eeb8b2f866e3e50";

/// Serialises the tests of one test binary around the process environment (SCHSM_CONF).
pub static CONF: Mutex<()> = Mutex::new(());

pub fn dev(firmware: &'static str) -> Dev {
    Dev {
        firmware,
        init: true,
        dkek_shares: Some(1),
    }
}

pub fn mechs(list: &[CK_MECHANISM_TYPE]) -> Vec<u8> {
    list.iter().flat_map(|m| m.to_ne_bytes()).collect()
}

/// A config file giving the module `share` (share file with 1000 KDF rounds + password file).
pub fn conf_with_share(share: [u8; 32]) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "schsm-wrap-conf-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let pbe =
        encrypt_share_file(&DkekShare::new(share), b"pw of the share", &[7; 8], 1000).unwrap();
    std::fs::write(dir.join("share.pbe"), pbe).unwrap();
    std::fs::write(dir.join("share.pw"), b"pw of the share\n").unwrap();
    let conf = dir.join("schsm.toml");
    std::fs::write(
        &conf,
        format!(
            "[dkek]\nshares = [\"{0}/share.pbe\"]\npassword_files = [\"{0}/share.pw\"]\niterations = 1000\n",
            dir.display()
        ),
    )
    .unwrap();
    conf
}

/// The library over `devices`, each with `shares[i]` imported, and SCHSM_CONF set to `conf`.
pub fn setup(devices: &[Dev], shares: &[[u8; 32]], conf: Option<&Path>) -> Env {
    match conf {
        Some(c) => std::env::set_var("SCHSM_CONF", c),
        None => std::env::remove_var("SCHSM_CONF"),
    }
    let env = Env::new(devices);
    for (i, share) in shares.iter().enumerate() {
        env.device(i)
            .import_dkek_share(&DkekShare::new(*share))
            .unwrap();
    }
    env
}

pub fn user_session(env: &Env, i: usize) -> CK_SESSION_HANDLE {
    let s = env.session(env.slots()[i], true);
    api::login(s, CKU_USER, Some(PIN)).unwrap();
    s
}

pub fn dkek_handle(s: CK_SESSION_HANDLE) -> CK_OBJECT_HANDLE {
    let found = find(
        s,
        &[class(CKO_SECRET_KEY), attr(CKA_LABEL, b"DKEK".to_vec())],
    );
    assert_eq!(found.len(), 1, "one DKEK object");
    found[0]
}

/// C_WrapKey as applications do it: size query, then the buffer.
pub fn wrap(
    s: CK_SESSION_HANDLE,
    dkek: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
) -> api::Result<Vec<u8>> {
    let m = mech(CKM_SCHSM_DKEK_WRAP);
    let n = match api::wrap_key(s, &m, dkek, key, None)? {
        Output::Len(n) => n,
        Output::Data(_) => panic!("size query gave data"),
    };
    match api::wrap_key(s, &m, dkek, key, Some(n))? {
        Output::Data(d) => {
            assert_eq!(d.len(), n);
            Ok(d)
        }
        Output::Len(_) => panic!("buffer too small"),
    }
}

pub fn unwrap(
    s: CK_SESSION_HANDLE,
    dkek: CK_OBJECT_HANDLE,
    wrapped: &[u8],
    template: &[Attribute],
) -> api::Result<CK_OBJECT_HANDLE> {
    api::unwrap_key(s, &mech(CKM_SCHSM_DKEK_WRAP), dkek, wrapped, template)
}

pub fn p256_verifies(point: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    use ecdsa::signature::hazmat::PrehashVerifier;
    let vk = ecdsa::VerifyingKey::<p256::NistP256>::from_sec1_bytes(point).unwrap();
    let sig = ecdsa::Signature::<p256::NistP256>::from_slice(sig).unwrap();
    vk.verify_prehash(&Sha256::digest(msg), &sig).is_ok()
}

/// Card files of the simulated device (FIDs), for "nothing changed".
pub fn files(dir: &Path) -> Vec<u16> {
    let store = schsm_sim::state::Store::open(dir).unwrap();
    let state = store.load().unwrap();
    let mut f: Vec<u16> = state.files.iter().map(|e| e.fid).collect();
    f.sort_unstable();
    f
}

pub fn restricted_ec(s: CK_SESSION_HANDLE) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    ec_pair(
        s,
        "secp256r1",
        &[
            attr(CKA_ALLOWED_MECHANISMS, mechs(&[CKM_ECDSA_SHA256])),
            boolean(CKA_EXTRACTABLE, true),
            attr(CKA_LABEL, b"restricted".to_vec()),
            attr(CKA_ID, vec![0xAB, 0xCD]),
        ],
    )
    .unwrap()
}

pub fn sha1_of(data: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(data).to_vec()
}

pub fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
