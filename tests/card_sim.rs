//! The card layer against the in-process simulator: a device is created in a temporary
//! directory and driven through `card::Device` over `transport::SimTransport`. Signatures and
//! wrapped keys are checked with independent crates (p256, rsa), not with our own code.

mod card_support;

use p256::elliptic_curve::sec1::ToSec1Point;
use rsa::Pkcs1v15Sign;
use sha2::{Digest, Sha256};

use card_support::*;
use schsm_pkcs11::card::blob::{BlobKey, KeyBlob};
use schsm_pkcs11::card::curves::Curve;
use schsm_pkcs11::card::cvc::{self, PublicKey};
use schsm_pkcs11::card::firmware;
use schsm_pkcs11::card::keys::{KeyGenParams, KeySpec};
use schsm_pkcs11::card::{Device, Dkek, Error, Fid, Hash, PinStatus, SignAlgorithm};
use schsm_pkcs11::transport::{SimTransport, Transport, TransportError};

#[test]
fn full_key_life_cycle_on_firmware_3_5() {
    let tmp = TempDevice::new("3.5", Some(1));
    let mut dev = tmp.open();
    assert_eq!(dev.profile().version.to_string(), "3.5");
    assert_eq!(dev.profile().options, Some(0x0001));
    assert_eq!(dev.max_apdu_len(), 1232);

    // Serial from EF 2F02.
    let c_devaut = dev.read_file(Fid::DEVICE_CERTIFICATE).unwrap();
    assert_eq!(cvc::device_serial(&c_devaut).unwrap(), SERIAL);
    assert_eq!(dev.read_file_if_exists(Fid::TOKEN_INFO).unwrap(), None);

    // PIN.
    assert_eq!(
        dev.pin_status().unwrap(),
        PinStatus::NotVerified { tries_left: 3 }
    );
    assert_eq!(
        dev.verify_pin(b"000000"),
        Err(Error::PinIncorrect { tries_left: 2 })
    );
    dev.verify_pin(PIN).unwrap();
    assert_eq!(dev.pin_status().unwrap(), PinStatus::Verified);

    // DKEK: one share outstanding, then complete with the host-computed KCV.
    let st = dev.dkek_status().unwrap();
    assert_eq!((st.total_shares, st.outstanding_shares), (1, 1));
    let st = dev.import_dkek_share(&share()).unwrap();
    assert!(st.is_complete());
    let dkek = Dkek::from_shares(&[share()]);
    assert_eq!(st.kcv, dkek.kcv());

    // EC P-256 key pair.
    let ec_id = dev.free_key_id().unwrap();
    assert_eq!(ec_id, 1);
    let params = KeyGenParams::new(KeySpec::Ec(Curve::by_name("secp256r1").unwrap()), SERIAL);
    let gen = dev.generate_key_pair(ec_id, &params).unwrap();
    assert_eq!(gen.request.chr(), "DENK010000100001");
    assert_eq!(gen.request.outer_car.as_deref(), Some("DENK010000100000"));
    let PublicKey::Ec { curve, point } = gen.request.public_key().clone() else {
        panic!()
    };
    assert_eq!(curve.unwrap().name, "secp256r1");
    assert_eq!(ec_point(&mut dev, ec_id), point);

    // ECDSA over a host hash, and with SHA-256 on the card.
    let hash = Sha256::digest(b"hello card");
    let der = dev.sign(ec_id, SignAlgorithm::EcdsaHashed, &hash).unwrap();
    p256_verify(&point, &hash, &der);
    let der = dev
        .sign(ec_id, SignAlgorithm::Ecdsa(Hash::Sha256), b"hello card")
        .unwrap();
    p256_verify(&point, &hash, &der);

    // RSA-1024 key pair; PKCS#1 v1.5 by the card and raw with host padding.
    let rsa_id = dev.free_key_id().unwrap();
    let params = KeyGenParams::new(
        KeySpec::Rsa {
            bits: 1024,
            public_exponent: vec![1, 0, 1],
        },
        SERIAL,
    );
    let gen = dev.generate_key_pair(rsa_id, &params).unwrap();
    let PublicKey::Rsa { modulus, exponent } = gen.request.public_key().clone() else {
        panic!()
    };
    assert_eq!(gen.request.public_key().bits(), 1024);
    let pk = rsa_key(&modulus, &exponent);
    let sig = dev
        .sign(
            rsa_id,
            SignAlgorithm::RsaPkcs1(Hash::Sha256),
            b"rsa message",
        )
        .unwrap();
    let h = Sha256::digest(b"rsa message");
    pk.verify(Pkcs1v15Sign::new::<Sha256>(), &h, &sig)
        .expect("RSA PKCS#1 signature verifies");
    let digest_info_prefix: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let mut block = vec![0x00, 0x01];
    block.resize(128 - 19 - 32 - 1, 0xFF);
    block.push(0x00);
    block.extend_from_slice(&digest_info_prefix);
    block.extend_from_slice(&h);
    let sig = dev.sign(rsa_id, SignAlgorithm::RsaRaw, &block).unwrap();
    pk.verify(Pkcs1v15Sign::new::<Sha256>(), &h, &sig)
        .expect("raw RSA signature verifies");

    // Wrap the EC key; the host decodes the blob with the DKEK and finds the same key.
    let blob = dev.wrap_key(ec_id).unwrap();
    let parsed = KeyBlob::parse(&blob).unwrap();
    assert_eq!(parsed.header.kcv, dkek.kcv());
    let key = parsed
        .decrypt(&dkek)
        .expect("the simulator's blob decrypts on the host");
    let BlobKey::Ec { d, q, .. } = &key else {
        panic!("{key:?}")
    };
    assert_eq!(q, &point);
    let sk = p256::SecretKey::from_slice(&curves_pad(d.expose())).unwrap();
    assert_eq!(
        sk.public_key().to_sec1_point(false).as_bytes(),
        point.as_slice()
    );

    // Unwrap into another key id; it signs like the original.
    let copy_id = dev.free_key_id().unwrap();
    assert_eq!(copy_id, 3);
    dev.unwrap_key(copy_id, &blob).unwrap();
    let der = dev
        .sign(copy_id, SignAlgorithm::EcdsaHashed, &hash)
        .unwrap();
    p256_verify(&point, &hash, &der);

    // A blob built on the host (key import) unwraps too.
    let host_blob = schsm_pkcs11::card::blob::encode(&dkek, &parsed.header, &key, &[9; 8]).unwrap();
    dev.unwrap_key(4, &host_blob).unwrap();
    let der = dev.sign(4, SignAlgorithm::EcdsaHashed, &hash).unwrap();
    p256_verify(&point, &hash, &der);

    // Enumerate sees every key; deleting one removes it.
    let keys = dev.key_ids().unwrap();
    for id in [ec_id, rsa_id, copy_id, 4] {
        assert!(keys.contains(&id), "{keys:?}");
    }
    assert!(dev.enumerate().unwrap().contains(&Fid::DEVICE_CERTIFICATE));
    dev.delete_key(4).unwrap();
    assert!(!dev.key_ids().unwrap().contains(&4));
    assert_eq!(dev.delete_key(4), Err(Error::NotFound));

    // Logout by re-select: signing needs the PIN again.
    dev.logout().unwrap();
    assert_eq!(
        dev.sign(ec_id, SignAlgorithm::EcdsaHashed, &hash),
        Err(Error::SecurityStatusNotSatisfied)
    );
}

fn curves_pad(d: &[u8]) -> Vec<u8> {
    schsm_pkcs11::card::curves::pad_to(d, 32).unwrap()
}

/// A reader that carries at most `limit`-byte APDUs (like the 1014 of Reiner SCT readers).
struct SmallReader {
    inner: SimTransport,
    limit: usize,
}

impl Transport for SmallReader {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        assert!(
            command.len() <= self.limit,
            "{}-byte APDU on a {}-byte reader",
            command.len(),
            self.limit
        );
        self.inner.transmit(command)
    }
    fn begin_transaction(&mut self) -> Result<(), TransportError> {
        self.inner.begin_transaction()
    }
    fn end_transaction(&mut self) -> Result<(), TransportError> {
        self.inner.end_transaction()
    }
    fn is_card_present(&mut self) -> Result<bool, TransportError> {
        self.inner.is_card_present()
    }
    fn atr(&mut self) -> Result<Vec<u8>, TransportError> {
        self.inner.atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        self.inner.reset()
    }
    fn max_apdu_len(&self) -> Option<usize> {
        Some(self.limit)
    }
}

#[test]
fn files_round_trip_and_large_unwrap_goes_through_2f10() {
    let tmp = TempDevice::new("3.5", Some(1));
    let small = SmallReader {
        inner: SimTransport::open(&tmp.0).unwrap(),
        limit: 600,
    };
    let mut dev = Device::open(Box::new(small)).unwrap();
    assert_eq!(dev.max_apdu_len(), 600);
    dev.verify_pin(PIN).unwrap();
    dev.import_dkek_share(&share()).unwrap();

    // A file larger than one APDU is written in chunks and read back whole.
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    let fid = Fid::new(0xCF, 0x01);
    dev.write_file(fid, &data).unwrap();
    assert_eq!(dev.read_file(fid).unwrap(), data);
    dev.write_file(fid, b"short").unwrap();
    assert_eq!(dev.read_file(fid).unwrap(), b"short");
    assert_eq!(dev.select_file(fid).unwrap().size, Some(5));
    dev.delete_file(fid).unwrap();
    assert_eq!(dev.read_file(fid), Err(Error::NotFound));

    // An RSA-3072 blob does not fit this reader: wrap, delete, unwrap through EF 2F10.
    let params = KeyGenParams::new(
        KeySpec::Rsa {
            bits: 3072,
            public_exponent: vec![1, 0, 1],
        },
        SERIAL,
    );
    let gen = dev.generate_key_pair(1, &params).unwrap();
    let PublicKey::Rsa { modulus, exponent } = gen.request.public_key().clone() else {
        panic!()
    };
    let blob = dev.wrap_key(1).unwrap();
    assert!(
        blob.len() + 7 > dev.max_apdu_len(),
        "blob of {} bytes fits inline",
        blob.len()
    );
    dev.delete_key(1).unwrap();
    dev.unwrap_key(1, &blob).unwrap();
    assert!(!dev.file_exists(Fid::UNWRAP_STAGING).unwrap());
    let sig = dev
        .sign(1, SignAlgorithm::RsaPkcs1(Hash::Sha256), b"big")
        .unwrap();
    rsa_key(&modulus, &exponent)
        .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(b"big"), &sig)
        .expect("unwrapped RSA-3072 key signs");
}

#[test]
fn bug_168_on_firmware_3_1_and_the_host_reencoding() {
    let tmp = TempDevice::new("3.1", Some(1));
    let mut dev = tmp.open();
    assert!(dev.profile().bug_168_unwrap_restricted);
    dev.verify_pin(PIN).unwrap();
    dev.import_dkek_share(&share()).unwrap();
    let dkek = Dkek::from_shares(&[share()]);

    // The shim would not send the list for an exportable key; force it to provoke the bug.
    assert!(!firmware::keep_algorithm_list_at_generation(
        dev.profile(),
        true
    ));
    let mut params = KeyGenParams::new(KeySpec::Ec(Curve::by_name("secp256r1").unwrap()), SERIAL);
    params.algorithms = Some(vec![0x70, 0x92]);
    dev.generate_key_pair(1, &params).unwrap();
    let point = ec_point(&mut dev, 1);
    let blob = dev.wrap_key(1).unwrap();
    let parsed = KeyBlob::parse(&blob).unwrap();
    assert_eq!(parsed.header.algorithms, [0x70, 0x92]);

    assert!(firmware::unwrap_needs_reencoding(
        dev.profile(),
        &parsed.header.algorithms
    ));
    assert_eq!(
        dev.unwrap_key(2, &blob),
        Err(Error::InternalError),
        "6F00 of bug #168"
    );

    let bare = parsed.reencode(&dkek, &[], &[3; 8]).unwrap();
    dev.unwrap_key(2, &bare).unwrap();
    let hash = Sha256::digest(b"after #168");
    let der = dev.sign(2, SignAlgorithm::EcdsaHashed, &hash).unwrap();
    p256_verify(&point, &hash, &der);
}

#[test]
fn reset_drops_authentication() {
    let tmp = TempDevice::new("3.5", None);
    let mut dev = tmp.open();
    dev.verify_pin(PIN).unwrap();
    dev.transport_mut().reset().unwrap();
    dev.select_applet().unwrap();
    assert_eq!(
        dev.pin_status().unwrap(),
        PinStatus::NotVerified { tries_left: 3 }
    );
    // No DKEK configured.
    assert_eq!(dev.dkek_status(), Err(Error::ReferencedDataNotFound));
    assert!(dev.transport_mut().is_card_present().unwrap());
    assert_eq!(dev.transport_mut().atr().unwrap()[..2], [0x3B, 0xDE]);
}
