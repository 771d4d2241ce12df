//! schsm-tool backup / restore: a whole device (EC, RSA, AES keys, a certificate) into a fresh
//! device with the same DKEK, every key working as before with its label and ID; the bug #168
//! shim on firmware 3.1; the real wrapped key of a Nitrokey HSM 2; damaged files.

mod tool_common;

use std::path::Path;

use schsm_pkcs11::card::algorithm::{CipherAlgorithm, Hash, SignAlgorithm};
use schsm_pkcs11::card::curves::Curve;
use schsm_pkcs11::card::cvc::{CvRequest, PublicKey};
use schsm_pkcs11::card::keys::{AesKeySize, KeyGenParams, KeySpec, SymKeyParams};
use schsm_pkcs11::card::pkcs15::KeyUsage;
use schsm_pkcs11::card::prkd::{KeyDescription, KeyKind};
use schsm_pkcs11::card::{Device, Fid};
use sha2::{Digest, Sha256};
use tool_common::*;

const CERT: &[u8] = &[0x30, 0x06, 0x30, 0x01, 0x00, 0x30, 0x01, 0x00];

fn describe(d: &mut Device, id: u8, kind: KeyKind, label: &str, bits: u16) {
    let desc = KeyDescription::opensc(kind, label, &[0xC0, id], KeyUsage::SIGN, id, bits);
    d.write_file(Fid::prkd(id), &desc.encode()).unwrap();
}

/// EC (restricted to ECDSA-SHA256 + WRAP), RSA-1024 with an "X.509" certificate, AES-256.
fn populate(dev: &TempDevice) {
    let mut d = dev.open();
    d.verify_pin(PIN).unwrap();
    let mut ec = KeyGenParams::new(
        KeySpec::Ec(Curve::by_name("secp256r1").unwrap()),
        "DENK0100001",
    );
    ec.algorithms = Some(vec![0x73, 0x92]);
    d.generate_key_pair(1, &ec).unwrap();
    describe(&mut d, 1, KeyKind::Ec, "ec key", 256);
    let rsa = KeySpec::Rsa {
        bits: 1024,
        public_exponent: vec![1, 0, 1],
    };
    d.generate_key_pair(2, &KeyGenParams::new(rsa, "DENK0100001"))
        .unwrap();
    describe(&mut d, 2, KeyKind::Rsa, "rsa key", 1024);
    d.write_file(Fid::ee_certificate(2), CERT).unwrap();
    d.generate_aes_key(3, AesKeySize::Aes256, &SymKeyParams::default())
        .unwrap();
    describe(&mut d, 3, KeyKind::Aes, "aes key", 256);
}

/// Key reference of the key labelled `label`.
fn by_label(d: &mut Device, label: &str) -> (u8, KeyDescription) {
    for id in d.key_ids().unwrap() {
        if let Some(p) = d.read_file_if_exists(Fid::prkd(id)).unwrap() {
            let desc = KeyDescription::decode(&p).unwrap();
            if desc.common.label == label {
                return (id, desc);
            }
        }
    }
    panic!("no key labelled {label}");
}

fn ec_point(d: &mut Device, id: u8) -> Vec<u8> {
    let req = CvRequest::parse(&d.read_file(Fid::ee_certificate(id)).unwrap()).unwrap();
    match req.public_key() {
        PublicKey::Ec { point, .. } => point.clone(),
        other => panic!("{other:?}"),
    }
}

/// The shared DKEK: one share file, imported into every device given.
fn dkek(s: &Scratch, devices: &[&TempDevice]) -> String {
    let share = s.path("share.pbe");
    if !Path::new(&share).exists() {
        create_share(s, "share.pbe");
    }
    for dev in devices {
        ok(&[
            "--sim",
            &sim(dev),
            "--password-file",
            &s.path("pw"),
            "--iterations",
            ITER,
            "dkek",
            "import",
            &share,
        ]);
    }
    share
}

#[test]
fn whole_device_backup_restores_into_a_fresh_device() {
    let s = Scratch::new("backup");
    let a = TempDevice::new("3.5", Some(1));
    let b = TempDevice::new("3.5", Some(1));
    dkek(&s, &[&a, &b]);
    populate(&a);
    let dir = s.path("backup");
    let out = ok(&[
        "--sim",
        &sim(&a),
        "--pin-file",
        &s.path("pin"),
        "backup",
        "--all",
        &dir,
    ]);
    assert!(out.contains("3 key(s) backed up"), "{out}");
    let manifest = std::fs::read_to_string(s.0.join("backup/manifest.tsv")).unwrap();
    assert!(
        manifest.contains("key-001.bin\t1\tec key\tC001\tEC\t256"),
        "{manifest}"
    );
    assert!(
        manifest.contains("rsa key") && manifest.contains("aes key"),
        "{manifest}"
    );
    let err = fails(&[
        "--sim",
        &sim(&a),
        "--pin-file",
        &s.path("pin"),
        "backup",
        &dir,
    ]);
    assert!(err.contains("--force"), "{err}");
    ok(&[
        "--sim",
        &sim(&a),
        "--pin-file",
        &s.path("pin"),
        "backup",
        "--force",
        &dir,
    ]);

    ok(&[
        "--sim",
        &sim(&b),
        "--pin-file",
        &s.path("pin"),
        "restore",
        &dir,
    ]);
    let (mut da, mut db) = (a.open(), b.open());
    da.verify_pin(PIN).unwrap();
    db.verify_pin(PIN).unwrap();
    for (label, id) in [("ec key", 1u8), ("rsa key", 2), ("aes key", 3)] {
        let (_, orig) = by_label(&mut da, label);
        let (nid, desc) = by_label(&mut db, label);
        assert_eq!(
            (desc.id.clone(), desc.kind, desc.size_bits),
            (orig.id.clone(), orig.kind, orig.size_bits)
        );
        let _ = id;
        match desc.kind {
            KeyKind::Ec => {
                let data = b"signed after restore";
                let sig = db
                    .sign(nid, SignAlgorithm::Ecdsa(Hash::Sha256), data)
                    .unwrap();
                card_support::p256_verify(&ec_point(&mut da, 1), &Sha256::digest(data), &sig);
            }
            KeyKind::Rsa => {
                let alg = SignAlgorithm::RsaPkcs1(Hash::Sha256);
                assert_eq!(
                    db.sign(nid, alg, b"m").unwrap(),
                    da.sign(2, alg, b"m").unwrap()
                );
                assert_eq!(db.read_file(Fid::ee_certificate(nid)).unwrap(), CERT);
            }
            KeyKind::Aes => {
                let enc = |d: &mut Device, k| {
                    d.cipher(k, CipherAlgorithm::AesCbcEncrypt, &[0x42; 32])
                        .unwrap()
                };
                assert_eq!(enc(&mut db, nid).expose(), enc(&mut da, 3).expose());
            }
        }
    }
}

#[test]
fn firmware_3_1_needs_the_dkek_for_restricted_keys() {
    let s = Scratch::new("bug168");
    let a = TempDevice::new("3.5", Some(1));
    let c = TempDevice::new("3.1", Some(1));
    let share = dkek(&s, &[&a, &c]);
    populate(&a);
    let dir = s.path("backup");
    ok(&[
        "--sim",
        &sim(&a),
        "--pin-file",
        &s.path("pin"),
        "backup",
        &dir,
    ]);

    // Without the DKEK: the restricted EC key is refused with the advice, the others restored.
    let err = fails(&[
        "--sim",
        &sim(&c),
        "--pin-file",
        &s.path("pin"),
        "restore",
        &dir,
    ]);
    assert!(
        err.contains("bug #168") && err.contains("--dkek-share"),
        "{err}"
    );
    assert!(err.contains("1 of 3 key(s) not restored"), "{err}");
    let mut dc = c.open();
    dc.verify_pin(PIN).unwrap();
    by_label(&mut dc, "rsa key");
    by_label(&mut dc, "aes key");
    assert_eq!(dc.key_ids().unwrap().len(), 2);

    // With the share file: re-encoded without the list, the restriction kept in the description.
    let one = format!("{dir}/key-001.bin");
    ok(&[
        "--sim",
        &sim(&c),
        "--pin-file",
        &s.path("pin"),
        "--password-file",
        &s.path("pw"),
        "--iterations",
        ITER,
        "restore",
        &one,
        "--dkek-share",
        &share,
        "--key-ref",
        "9",
    ]);
    let mut dc = c.open();
    dc.verify_pin(PIN).unwrap();
    let (id, desc) = by_label(&mut dc, "ec key");
    assert_eq!(id, 9);
    assert_eq!(desc.alg_reference, Some(vec![0x73, 0x92]));
    let sig = dc
        .sign(9, SignAlgorithm::Ecdsa(Hash::Sha256), b"x")
        .unwrap();
    let mut da = a.open();
    card_support::p256_verify(&ec_point(&mut da, 1), &Sha256::digest(b"x"), &sig);

    // The reference is taken now.
    let err = fails(&[
        "--sim",
        &sim(&c),
        "--pin-file",
        &s.path("pin"),
        "restore",
        &format!("{dir}/key-002.bin"),
        "--key-ref",
        "9",
    ]);
    assert!(err.contains("not free"), "{err}");
}

#[test]
fn damaged_files_and_wrong_dkek_change_nothing() {
    let s = Scratch::new("damaged");
    let a = TempDevice::new("3.5", Some(1));
    let share = dkek(&s, &[&a]);
    populate(&a);
    let dir = s.path("backup");
    ok(&[
        "--sim",
        &sim(&a),
        "--pin-file",
        &s.path("pin"),
        "backup",
        "--key",
        "2",
        &dir,
    ]);
    let good = std::fs::read(s.0.join("backup/key-002.bin")).unwrap();
    let before = snapshot(&a.0);

    let mut flipped = good.clone();
    flipped[60] ^= 1;
    std::fs::write(s.0.join("flipped.bin"), &flipped).unwrap();
    let err = fails(&[
        "--sim",
        &sim(&a),
        "--pin-file",
        &s.path("pin"),
        "--password-file",
        &s.path("pw"),
        "--iterations",
        ITER,
        "restore",
        &s.path("flipped.bin"),
        "--dkek-share",
        &share,
    ]);
    assert!(err.contains("damaged"), "{err}");
    std::fs::write(s.0.join("short.bin"), &good[..good.len() / 2]).unwrap();
    let err = fails(&[
        "--sim",
        &sim(&a),
        "--pin-file",
        &s.path("pin"),
        "restore",
        &s.path("short.bin"),
    ]);
    assert!(err.contains("damaged"), "{err}");
    let err = fails(&[
        "--sim",
        &sim(&a),
        "--pin-file",
        &s.path("pin"),
        "restore",
        &s.path("missing.bin"),
    ]);
    assert!(err.contains("does not exist"), "{err}");
    // A key from another device's DKEK.
    let other = TempDevice::new("3.5", Some(0));
    let err = fails(&[
        "--sim",
        &sim(&other),
        "--pin-file",
        &s.path("pin"),
        "restore",
        &format!("{dir}/key-002.bin"),
    ]);
    assert!(err.contains("another DKEK"), "{err}");
    // Wrong share password.
    let err = fails(&[
        "--sim",
        &sim(&a),
        "--pin-file",
        &s.path("pin"),
        "--password-file",
        &s.path("badpw"),
        "--iterations",
        ITER,
        "restore",
        &format!("{dir}/key-002.bin"),
        "--dkek-share",
        &share,
    ]);
    assert!(err.contains("wrong password"), "{err}");
    assert_eq!(snapshot(&a.0), before);
}

#[test]
fn real_nitrokey_wrapped_key_restores() {
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors");
    let (share, wky) = (
        vectors.join("nitrokey-hsm2-dkek-share.pbe"),
        vectors.join("nitrokey-hsm2-secp256k1.wky"),
    );
    if !share.exists() || !wky.exists() {
        eprintln!("skipped: vectors not present");
        return;
    }
    let s = Scratch::new("realwky");
    std::fs::write(s.0.join("vpw"), "passwordpassword").unwrap();
    let dev = TempDevice::new("3.5", Some(1));
    ok(&[
        "--sim",
        &sim(&dev),
        "--password-file",
        &s.path("vpw"),
        "dkek",
        "import",
        &share.display().to_string(),
    ]);
    let out = ok(&[
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("pin"),
        "restore",
        &wky.display().to_string(),
    ]);
    assert!(out.contains("key reference 1"), "{out}");
    let list = ok(&["--sim", &sim(&dev), "list"]);
    assert!(list.contains("btc-test") && list.contains("EC"), "{list}");
}
