//! schsm-tool import of the key encodings besides PKCS#12 and plain PKCS#8, each made by
//! openssl: encrypted PKCS#8 (PBES2 with PBKDF2 and with scrypt, AES-256-CBC; PEM and DER; from
//! `openssl pkcs8 -topk8 -v2 aes-256-cbc` and `openssl genpkey -aes256`), traditional RSA and EC
//! keys (PEM and DER). Every imported key signs what openssl verifies with the key's public
//! half. A wrong or missing password, a damaged file and OpenSSL's legacy encrypted PEM fail
//! with a clear message and leave the device unchanged. Skipped when openssl is not installed.

mod tool_common;

use std::process::Command;

use schsm_pkcs11::card::algorithm::{Hash, SignAlgorithm};
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

/// A device with a DKEK from one share file; returns it and the file.
fn device_with_dkek(s: &Scratch) -> (TempDevice, String) {
    let dev = TempDevice::new("3.5", Some(1));
    let share = create_share(s, "share.pbe");
    let common = ["--password-file", &s.path("pw"), "--iterations", ITER];
    ok(&[
        &["--sim", &sim(&dev)][..],
        &common,
        &["dkek", "import", &share],
    ]
    .concat());
    (dev, share)
}

/// Signs on the device with key `id` and lets openssl verify with the public key `public`.
fn signs(s: &Scratch, dev: &TempDevice, id: u8, alg: SignAlgorithm, public: &str) {
    let mut d = dev.open();
    d.verify_pin(PIN).unwrap();
    let data = b"keys from every encoding sign";
    let sig = d.sign(id, alg, data).unwrap();
    drop(d);
    std::fs::write(s.0.join("data"), data).unwrap();
    std::fs::write(s.0.join("sig"), &sig).unwrap();
    assert!(
        openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            public,
            "-signature",
            &s.path("sig"),
            &s.path("data"),
        ]),
        "key {id}: openssl does not verify the device's signature"
    );
}

#[test]
fn encrypted_and_traditional_keys_import_and_sign() {
    if !openssl(&["version"]) {
        eprintln!("skipped: openssl not installed");
        return;
    }
    let s = Scratch::new("formats");
    let (dev, share) = device_with_dkek(&s);
    std::fs::write(s.0.join("kpw"), "key password\n").unwrap();
    let kpw = format!("file:{}", s.path("kpw"));
    let p = |n: &str| s.path(n);
    // The keys and their public halves.
    assert!(openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &p("ec.pem")
    ]));
    assert!(openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &p("rsa.pem")
    ]));
    assert!(openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-aes256",
        "-pass",
        &kpw,
        "-out",
        &p("genpkey-aes.pem")
    ]));
    for (key, public, pass) in [
        ("ec.pem", "ec.pub", None),
        ("rsa.pem", "rsa.pub", None),
        ("genpkey-aes.pem", "genpkey.pub", Some(kpw.as_str())),
    ] {
        let mut args = vec!["pkey", "-in", &p(key), "-pubout", "-out", &p(public)]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        if let Some(pw) = pass {
            args.extend(["-passin".to_string(), pw.to_string()]);
        }
        assert!(openssl(
            &args.iter().map(String::as_str).collect::<Vec<_>>()
        ));
    }
    // The encodings.
    let topk8 = |inp: &str, out: &str, extra: &[&str]| {
        let mut a = vec![
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            inp,
            "-passout",
            &kpw,
        ];
        a.extend_from_slice(extra);
        a.extend(["-out", out]);
        assert!(openssl(&a));
    };
    topk8(&p("ec.pem"), &p("ec-pbkdf2.pem"), &[]);
    topk8(&p("ec.pem"), &p("ec-pbkdf2.der"), &["-outform", "DER"]);
    topk8(&p("rsa.pem"), &p("rsa-scrypt.pem"), &["-scrypt"]);
    assert!(openssl(&[
        "ec",
        "-in",
        &p("ec.pem"),
        "-out",
        &p("ec-trad.pem")
    ]));
    assert!(openssl(&[
        "ec",
        "-in",
        &p("ec.pem"),
        "-outform",
        "DER",
        "-out",
        &p("ec-trad.der")
    ]));
    assert!(openssl(&[
        "rsa",
        "-in",
        &p("rsa.pem"),
        "-traditional",
        "-out",
        &p("rsa-trad.pem")
    ]));
    assert!(std::fs::read_to_string(p("ec-trad.pem"))
        .unwrap()
        .contains("BEGIN EC PRIVATE KEY"));
    assert!(std::fs::read_to_string(p("rsa-trad.pem"))
        .unwrap()
        .contains("BEGIN RSA PRIVATE KEY"));
    assert!(std::fs::read_to_string(p("rsa-scrypt.pem"))
        .unwrap()
        .contains("ENCRYPTED PRIVATE KEY"));

    let d = sim(&dev);
    let pin = p("pin");
    let kpw_file = p("kpw");
    let share_pw = p("pw");
    // --password-file is the share file's password; the key's comes with --key-password-file.
    let import = |file: &str, key_ref: &str, extra: &[&str]| -> Vec<String> {
        let mut a = vec![
            "--sim",
            &d,
            "--pin-file",
            &pin,
            "--password-file",
            &share_pw,
            "--iterations",
            ITER,
            "import",
            file,
            "--dkek-share",
            &share,
            "--key-ref",
            key_ref,
        ];
        a.extend_from_slice(extra);
        a.iter().map(|x| x.to_string()).collect()
    };
    let run_ok = |file: &str, key_ref: &str, extra: &[&str]| {
        ok(&import(file, key_ref, extra)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>())
    };
    let run_fails = |file: &str, extra: &[&str]| {
        fails(
            &import(file, "20", extra)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
    };
    let with_pw = ["--key-password-file", kpw_file.as_str()];

    // Errors first, on the empty device: nothing may change.
    let before = snapshot(&dev.0);
    std::fs::write(p("wrong"), "not the key password\n").unwrap();
    let err = run_fails(&p("ec-pbkdf2.pem"), &["--key-password-file", &p("wrong")]);
    assert!(err.contains("wrong password"), "{err}");
    let err = run_fails(&p("rsa-scrypt.pem"), &["--key-password-file", &p("wrong")]);
    assert!(err.contains("wrong password"), "{err}");
    let err = run_fails(&p("ec-pbkdf2.pem"), &[]);
    assert!(
        err.contains("no terminal") && err.contains("--key-password-file"),
        "{err}"
    );
    let der = std::fs::read(p("ec-pbkdf2.der")).unwrap();
    std::fs::write(p("cut.der"), &der[..der.len() - 7]).unwrap();
    let err = run_fails(&p("cut.der"), &with_pw);
    assert!(err.contains("damaged"), "{err}");
    let pem = std::fs::read_to_string(p("ec-pbkdf2.pem")).unwrap();
    std::fs::write(p("bad.pem"), pem.replacen('M', "*", 1)).unwrap();
    let err = run_fails(&p("bad.pem"), &with_pw);
    assert!(err.contains("damaged PEM"), "{err}");
    assert!(openssl(&[
        "rsa",
        "-in",
        &p("rsa.pem"),
        "-traditional",
        "-aes256",
        "-passout",
        &kpw,
        "-out",
        &p("legacy.pem")
    ]));
    let err = run_fails(&p("legacy.pem"), &with_pw);
    assert!(
        err.contains("legacy") && err.contains("openssl pkcs8 -topk8"),
        "{err}"
    );
    assert_eq!(snapshot(&dev.0), before);

    let ecdsa = SignAlgorithm::Ecdsa(Hash::Sha256);
    let rsa = SignAlgorithm::RsaPkcs1(Hash::Sha256);
    for (file, key_ref, alg, public) in [
        ("ec-pbkdf2.pem", 1u8, ecdsa, "ec.pub"),
        ("ec-pbkdf2.der", 2, ecdsa, "ec.pub"),
        ("genpkey-aes.pem", 3, ecdsa, "genpkey.pub"),
        ("rsa-scrypt.pem", 4, rsa, "rsa.pub"),
        ("ec-trad.pem", 5, ecdsa, "ec.pub"),
        ("ec-trad.der", 6, ecdsa, "ec.pub"),
        ("rsa-trad.pem", 7, rsa, "rsa.pub"),
    ] {
        let out = run_ok(&p(file), &key_ref.to_string(), &with_pw);
        assert!(
            out.contains(&format!("key reference {key_ref}")),
            "{file}: {out}"
        );
        signs(&s, &dev, key_ref, alg, &p(public));
    }
}
