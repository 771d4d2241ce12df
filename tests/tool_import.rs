//! schsm-tool import: a PKCS#12 from `openssl pkcs12 -export` (OpenSSL 3: PBES2/AES-256,
//! HMAC-SHA256 MAC) and a PKCS#8 PEM; the imported key signs what the certificate's public key
//! verifies (checked by openssl itself). Skipped when openssl is not installed.

mod tool_common;

use std::process::Command;

use schsm_pkcs11::card::algorithm::{Hash, SignAlgorithm};
use schsm_pkcs11::card::prkd::KeyDescription;
use schsm_pkcs11::card::Fid;
use tool_common::*;

fn openssl(args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .output()
        .map(|o| {
            if !o.status.success() {
                eprintln!("openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
            }
            o.status.success()
        })
        .unwrap_or(false)
}

fn have_openssl() -> bool {
    let ok = openssl(&["version"]);
    if !ok {
        eprintln!("skipped: openssl not installed");
    }
    ok
}

/// Signs `data` with key `id` on the device and lets openssl verify it with the certificate.
fn openssl_verifies(s: &Scratch, dev: &TempDevice, id: u8, alg: SignAlgorithm, cert: &str) {
    let mut d = dev.open();
    d.verify_pin(PIN).unwrap();
    let data = b"imported keys sign";
    let sig = d.sign(id, alg, data).unwrap();
    std::fs::write(s.0.join("data"), data).unwrap();
    std::fs::write(s.0.join("sig"), &sig).unwrap();
    assert!(openssl(&[
        "x509",
        "-in",
        cert,
        "-pubkey",
        "-noout",
        "-out",
        &s.path("pub.pem")
    ]));
    assert!(
        openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            &s.path("pub.pem"),
            "-signature",
            &s.path("sig"),
            &s.path("data"),
        ]),
        "openssl does not verify the device's signature"
    );
}

fn device_with_dkek(s: &Scratch) -> (TempDevice, String) {
    let dev = TempDevice::new("3.5", Some(1));
    let share = create_share(s, "share.pbe");
    ok(&[
        "--sim",
        &sim(&dev),
        "--password-file",
        &s.path("pw"),
        "--iterations",
        ITER,
        "dkek",
        "import",
        &share,
    ]);
    (dev, share)
}

#[test]
fn pkcs12_from_openssl_imports_and_signs() {
    if !have_openssl() {
        return;
    }
    let s = Scratch::new("p12");
    let (dev, share) = device_with_dkek(&s);
    let (key, cert, p12) = (s.path("key.pem"), s.path("cert.pem"), s.path("id.p12"));
    assert!(openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &cert,
        "-subj",
        "/CN=schsm-tool test",
        "-days",
        "2"
    ]));
    std::fs::write(s.0.join("p12pw"), "p12 secret").unwrap();
    assert!(openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        &key,
        "-in",
        &cert,
        "-name",
        "my identity",
        "-passout",
        &format!("file:{}", s.path("p12pw")),
        "-out",
        &p12
    ]));
    let base = [
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("pin"),
        "--password-file",
        &s.path("pw"),
        "--iterations",
        ITER,
    ];

    // Wrong PKCS#12 password: clear message, nothing on the device.
    let before = snapshot(&dev.0);
    let mut args: Vec<&str> = base.to_vec();
    let bad = s.path("badpw");
    args.extend([
        "import",
        &p12,
        "--dkek-share",
        &share,
        "--p12-password-file",
        &bad,
    ]);
    let err = fails(&args);
    assert!(err.contains("wrong PKCS#12 password"), "{err}");
    assert_eq!(snapshot(&dev.0), before);

    let mut args: Vec<&str> = base.to_vec();
    let pw = s.path("p12pw");
    args.extend([
        "import",
        &p12,
        "--dkek-share",
        &share,
        "--p12-password-file",
        &pw,
    ]);
    let out = ok(&args);
    assert!(
        out.contains("key reference 1") && out.contains("with certificate"),
        "{out}"
    );
    let mut d = dev.open();
    let desc = KeyDescription::decode(&d.read_file(Fid::prkd(1)).unwrap()).unwrap();
    assert_eq!(desc.common.label, "my identity");
    assert_eq!(desc.id.len(), 20);
    assert_eq!(d.read_file(Fid::ee_certificate(1)).unwrap()[0], 0x30);
    openssl_verifies(&s, &dev, 1, SignAlgorithm::Ecdsa(Hash::Sha256), &cert);
}

#[test]
fn pkcs8_pem_with_certificate_imports_and_signs() {
    if !have_openssl() {
        return;
    }
    let s = Scratch::new("pkcs8");
    let (dev, share) = device_with_dkek(&s);
    let (key, cert) = (s.path("rsa.pem"), s.path("rsa-cert.pem"));
    assert!(openssl(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &cert, "-subj",
        "/CN=rsa", "-days", "2"
    ]));
    let base = [
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("pin"),
        "--password-file",
        &s.path("pw"),
        "--iterations",
        ITER,
    ];
    // A key from another DKEK: refused before the device changes.
    let other = TempDevice::new("3.5", Some(0));
    let before = snapshot(&other.0);
    let err = fails(&[
        "--sim",
        &sim(&other),
        "--pin-file",
        &s.path("pin"),
        "--password-file",
        &s.path("pw"),
        "--iterations",
        ITER,
        "import",
        &key,
        "--dkek-share",
        &share,
    ]);
    assert!(err.contains("KCV"), "{err}");
    assert_eq!(snapshot(&other.0), before);
    // Not a key at all.
    let err = fails(&[
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("pin"),
        "--password-file",
        &s.path("pw"),
        "--iterations",
        ITER,
        "import",
        &s.path("pw"),
        "--dkek-share",
        &share,
    ]);
    assert!(err.contains("key import") || err.contains("not"), "{err}");

    let mut args: Vec<&str> = base.to_vec();
    args.extend([
        "import",
        &key,
        "--cert",
        &cert,
        "--dkek-share",
        &share,
        "--label",
        "rsa pem",
        "--id",
        "0102",
        "--key-ref",
        "5",
    ]);
    ok(&args);
    let mut d = dev.open();
    let desc = KeyDescription::decode(&d.read_file(Fid::prkd(5)).unwrap()).unwrap();
    assert_eq!(
        (
            desc.common.label.as_str(),
            desc.id.as_slice(),
            desc.size_bits
        ),
        ("rsa pem", &[1u8, 2][..], 2048)
    );
    openssl_verifies(&s, &dev, 5, SignAlgorithm::RsaPkcs1(Hash::Sha256), &cert);
}
