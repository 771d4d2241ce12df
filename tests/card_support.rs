//! Helpers shared by the card-layer integration tests (`mod card_support;`): temporary simulated
//! devices and independent signature checks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::{BoxedUint, PublicKey as RsaPublicKey};

use schsm_pkcs11::card::crypto_ops::ecdsa_der_to_raw;
use schsm_pkcs11::card::cvc::{self, PublicKey};
use schsm_pkcs11::card::{Device, DkekShare, Fid};
use schsm_pkcs11::transport::SimTransport;

pub const SO_PIN: [u8; 8] = *b"57621880";
pub const PIN: &[u8] = b"648219";
pub const SERIAL: &str = "DENK0100001";

/// A temporary device directory, removed on drop.
pub struct TempDevice(pub PathBuf);

impl TempDevice {
    pub fn new(firmware: &str, dkek_shares: Option<u8>) -> TempDevice {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "schsm-card-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        schsm_sim::create(
            &dir,
            &schsm_sim::NewOptions::initialised(firmware, SO_PIN, PIN, dkek_shares)
                .with_serial(SERIAL),
        )
        .expect("simulated device created");
        TempDevice(dir)
    }

    pub fn open(&self) -> Device {
        open(&self.0)
    }
}

impl Drop for TempDevice {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn open(dir: &Path) -> Device {
    Device::open(Box::new(SimTransport::open(dir).expect("sim opens"))).expect("applet selects")
}

pub fn share() -> DkekShare {
    DkekShare::new(core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5C))
}

pub fn p256_verify(point: &[u8], hash: &[u8], der: &[u8]) {
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).expect("valid P-256 point");
    let raw = ecdsa_der_to_raw(der, 32).expect("DER signature");
    let sig = p256::ecdsa::Signature::from_slice(&raw).expect("r‖s");
    vk.verify_prehash(hash, &sig)
        .expect("ECDSA signature verifies");
}

pub fn rsa_key(modulus: &[u8], exponent: &[u8]) -> RsaPublicKey {
    let bits = (modulus.len() * 8) as u32;
    RsaPublicKey::new(
        BoxedUint::from_be_slice(modulus, bits).unwrap(),
        BoxedUint::from_be_slice(exponent, 64).unwrap(),
    )
    .expect("RSA public key")
}

pub fn ec_point(dev: &mut Device, id: u8) -> Vec<u8> {
    let ce = dev
        .read_file(Fid::ee_certificate(id))
        .expect("CExx written by GAKP");
    match cvc::CvRequest::parse(&ce).unwrap().public_key() {
        PublicKey::Ec { point, .. } => point.clone(),
        other => panic!("{other:?}"),
    }
}
