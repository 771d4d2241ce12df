//! Helpers for the token-layer integration tests (`mod token_support;`): simulated devices in
//! temporary directories, the library initialised over them, and attribute encoders.
//!
//! The library state is process-global, so every test holds [`Env`] (a static lock) while it
//! runs and finalises at the end.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use cryptoki_sys::*;
use schsm_pkcs11::card::Device;
use schsm_pkcs11::token::api::{self, Attribute, AttributeValue, InitOptions};
use schsm_pkcs11::transport::SimTransport;

pub const PIN: &[u8] = b"648219";
pub const SO_PIN: &[u8] = b"3537363231383830";
pub const SO_PIN_BYTES: [u8; 8] = *b"57621880";
pub const SERIAL: &str = "DENK0100001";

static LOCK: Mutex<()> = Mutex::new(());

/// A device to create: firmware profile and whether it is initialised.
#[derive(Clone, Copy)]
pub struct Dev {
    pub firmware: &'static str,
    pub init: bool,
    pub dkek_shares: Option<u8>,
}

pub const HSM: Dev = Dev {
    firmware: "3.5",
    init: true,
    dkek_shares: None,
};

/// The library initialised over fresh simulated devices; finalised and cleaned up on drop.
pub struct Env {
    pub dirs: Vec<PathBuf>,
    _guard: MutexGuard<'static, ()>,
}

impl Env {
    pub fn new(devices: &[Dev]) -> Env {
        let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let _ = api::finalize();
        let dirs: Vec<PathBuf> = devices.iter().map(|d| make_device(*d)).collect();
        let joined = std::env::join_paths(&dirs).unwrap();
        std::env::set_var("SCHSM_SIM", joined);
        std::env::set_var("SCHSM_PCSC", "0");
        std::env::remove_var("SCHSM_DKEK_SHARES");
        api::initialize(InitOptions {
            may_create_threads: true,
        })
        .unwrap();
        Env {
            dirs,
            _guard: guard,
        }
    }

    /// Finalises and initialises again (a new "process" view of the same devices).
    pub fn reinitialize(&self) {
        api::finalize().unwrap();
        api::initialize(InitOptions {
            may_create_threads: true,
        })
        .unwrap();
    }

    /// A second, independent connection to device `i` (like another process).
    pub fn device(&self, i: usize) -> Device {
        Device::open(Box::new(SimTransport::open(&self.dirs[i]).unwrap())).unwrap()
    }

    pub fn slots(&self) -> Vec<CK_SLOT_ID> {
        api::slot_list(true).unwrap()
    }

    pub fn session(&self, slot: CK_SLOT_ID, rw: bool) -> CK_SESSION_HANDLE {
        let mut flags = CKF_SERIAL_SESSION;
        if rw {
            flags |= CKF_RW_SESSION;
        }
        api::open_session(slot, flags).unwrap()
    }

    /// A read-write session on the first slot with the user logged in.
    pub fn user_session(&self) -> CK_SESSION_HANDLE {
        let slot = self.slots()[0];
        let s = self.session(slot, true);
        api::login(s, CKU_USER, Some(PIN)).unwrap();
        s
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = api::finalize();
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn make_device(d: Dev) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "schsm-token-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = if d.init {
        schsm_sim::NewOptions::initialised(d.firmware, SO_PIN_BYTES, PIN, d.dkek_shares)
    } else {
        schsm_sim::NewOptions::blank(d.firmware)
    };
    schsm_sim::create(&dir, &opts.with_serial(SERIAL)).expect("simulated device created");
    dir
}

pub fn ulong(v: CK_ULONG) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

pub fn attr(kind: CK_ATTRIBUTE_TYPE, value: impl Into<Vec<u8>>) -> Attribute {
    Attribute {
        kind,
        value: value.into(),
    }
}

pub fn class(c: CK_OBJECT_CLASS) -> Attribute {
    attr(CKA_CLASS, ulong(c))
}

pub fn boolean(kind: CK_ATTRIBUTE_TYPE, b: bool) -> Attribute {
    attr(kind, vec![u8::from(b)])
}

pub fn find(s: CK_SESSION_HANDLE, template: &[Attribute]) -> Vec<CK_OBJECT_HANDLE> {
    api::find_objects_init(s, template).unwrap();
    let mut out = Vec::new();
    loop {
        let part = api::find_objects(s, 2).unwrap();
        if part.is_empty() {
            break;
        }
        out.extend(part);
    }
    api::find_objects_final(s).unwrap();
    out
}

/// One attribute value, panicking unless it is a value.
pub fn get(s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, kind: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
    match api::get_attributes(s, o, &[kind]).unwrap().remove(0) {
        AttributeValue::Value(v) => v,
        other => panic!("attribute {kind:#x} of {o}: {other:?}"),
    }
}

pub fn get_ulong(s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, kind: CK_ATTRIBUTE_TYPE) -> CK_ULONG {
    CK_ULONG::from_ne_bytes(get(s, o, kind).try_into().unwrap())
}

pub fn get_bool(s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, kind: CK_ATTRIBUTE_TYPE) -> bool {
    get(s, o, kind) == [CK_TRUE]
}

pub fn token_flags(slot: CK_SLOT_ID) -> CK_FLAGS {
    api::token_info(slot).unwrap().flags
}

pub fn data_file(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
