//! schsm-tool and key domains (firmware >= 3.0): `dkek domain create|delete`, `dkek import|check
//! --domain N`, `generate --domain N`, a backup of keys living in two domains, and a restore
//! that takes a blob whose KCV is that of any complete domain (the card puts the key there) and
//! refuses, naming the KCVs, one that matches none — with the device unchanged after every
//! refusal.

mod tool_common;

use std::path::Path;

use schsm_pkcs11::card::algorithm::{Hash, SignAlgorithm};
use sha2::{Digest, Sha256};
use tool_common::card_support::{ec_point, p256_verify};
use tool_common::*;

/// The key domain the simulated card gives key `id`.
fn domain_of(dir: &Path, id: u8) -> u8 {
    let store = schsm_sim::state::Store::open(dir).unwrap();
    store.load().unwrap().keys[&id].domain
}

/// Global options: device, PIN, SO-PIN, share password, fast share files, no questions.
fn g<'a>(s: &'a Scratch, dev: &'a str) -> Vec<String> {
    [
        "--sim",
        dev,
        "--pin-file",
        &s.path("pin"),
        "--so-pin-file",
        &s.path("so"),
        "--password-file",
        &s.path("pw"),
        "--iterations",
        ITER,
        "-y",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

fn run_ok(base: &[String], extra: &[&str]) -> String {
    let args: Vec<&str> = base
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect();
    ok(&args)
}

fn run_fails(base: &[String], extra: &[&str]) -> String {
    let args: Vec<&str> = base
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect();
    fails(&args)
}

/// A device re-initialised with `domains` key domains, domain 0's DKEK from `share0`.
fn device_with_domains(s: &Scratch, domains: &str, share0: &str) -> TempDevice {
    let dev = TempDevice::new("3.5", None);
    let base = g(s, &sim(&dev));
    run_ok(
        &base,
        &["init", "--dkek-shares", "1", "--key-domains", domains],
    );
    run_ok(&base, &["dkek", "import", &s.path(share0)]);
    dev
}

fn make_shares(s: &Scratch, names: &[&str]) {
    for n in names {
        create_share(s, n);
    }
}

#[test]
fn domains_from_ceremony_to_backup_and_restore() {
    let s = Scratch::new("domains");
    make_shares(&s, &["d0.pbe", "d1.pbe", "other.pbe"]);
    let a = device_with_domains(&s, "3", "d0.pbe");
    let base = g(&s, &sim(&a));
    let d1 = s.path("d1.pbe");

    // Before domain 1 is set up: every use of it is refused, nothing changes.
    let before = snapshot(&a.0);
    for (extra, expect) in [
        (
            &["dkek", "import", "--domain", "1", d1.as_str()][..],
            "key domain 1 has no DKEK",
        ),
        (
            &["dkek", "check", "--domain", "1", d1.as_str()],
            "dkek domain create 1",
        ),
        (
            &["dkek", "import", "--domain", "7", d1.as_str()],
            "no key domain 7",
        ),
        (&["generate", "ec:P-256", "--domain", "1"], "no DKEK"),
        (
            &["generate", "ec:P-256", "--domain", "3"],
            "it has 3 (0 to 2)",
        ),
        (
            &["dkek", "domain", "create", "0", "--shares", "1"],
            "default domain",
        ),
        (
            &["dkek", "domain", "create", "9", "--shares", "1"],
            "no key domain 9",
        ),
        (&["dkek", "domain", "delete", "2"], "no DKEK"),
        (&["dkek", "domain", "delete", "0"], "cannot be deleted"),
    ] {
        let err = run_fails(&base, extra);
        assert!(err.contains(expect), "{extra:?}: {err}");
    }
    assert_eq!(snapshot(&a.0), before);

    let out = run_ok(&base, &["dkek", "domain", "create", "1", "--shares", "1"]);
    assert!(out.contains("1 still to import"), "{out}");
    let err = run_fails(&base, &["dkek", "domain", "create", "1", "--shares", "1"]);
    assert!(err.contains("already set up"), "{err}");
    let out = run_ok(&base, &["dkek", "import", "--domain", "1", &d1]);
    assert!(
        out.contains("of key domain 1: 1 share(s), all imported"),
        "{out}"
    );
    let err = run_fails(&base, &["dkek", "import", "--domain", "1", &d1]);
    assert!(err.contains("expects 0 more"), "{err}");

    // check: without --domain any domain; with --domain only that one.
    let out = run_ok(&base, &["dkek", "check", &d1]);
    assert!(
        out.contains("The files make the DKEK of key domain 1"),
        "{out}"
    );
    let err = run_fails(&base, &["dkek", "check", "--domain", "0", &d1]);
    assert!(err.contains("KCVs differ"), "{err}");
    let err = run_fails(&base, &["dkek", "check", &s.path("other.pbe")]);
    assert!(err.contains("any key domain"), "{err}");
    let status = ok(&["--sim", &sim(&a), "status"]);
    assert!(
        status.contains("DKEK (dom 1):  1 share(s), all imported"),
        "{status}"
    );
    assert!(status.contains("DKEK (dom 2):  not set up"), "{status}");

    // One key per domain, both backed up, each under its own domain's DKEK.
    run_ok(&base, &["generate", "ec:P-256", "--label", "in 0"]);
    let out = run_ok(
        &base,
        &["generate", "ec:P-256", "--label", "in 1", "--domain", "1"],
    );
    assert!(out.contains("key domain 1"), "{out}");
    assert_eq!((domain_of(&a.0, 1), domain_of(&a.0, 2)), (0, 1));
    let bk = s.path("bk");
    let out = run_ok(&base, &["backup", &bk]);
    assert!(out.contains("2 key(s) backed up"), "{out}");
    let manifest = std::fs::read_to_string(s.0.join("bk/manifest.tsv")).unwrap();
    assert!(manifest.contains("(key domain 1)"), "{manifest}");
    let point = ec_point(&mut a.open(), 2);

    // Device B: domain 0 has another DKEK, domain 1 the same as A's.
    let b = device_with_domains(&s, "2", "other.pbe");
    let base_b = g(&s, &sim(&b));
    run_ok(&base_b, &["dkek", "domain", "create", "1", "--shares", "1"]);
    run_ok(&base_b, &["dkek", "import", "--domain", "1", &d1]);
    let before = snapshot(&b.0);
    let err = run_fails(&base_b, &["restore", &bk]);
    assert!(
        err.contains("key-001.bin: made under another DKEK") && err.contains("domain 1 KCV"),
        "{err}"
    );
    assert_eq!(snapshot(&b.0), before, "nothing restored");
    let out = run_ok(&base_b, &["restore", &format!("{bk}/key-002.bin")]);
    assert!(out.contains("key reference 1 (key domain 1)"), "{out}");
    assert_eq!(domain_of(&b.0, 1), 1);
    // The restored key is A's: it signs what A's public key verifies.
    let mut dev = b.open();
    dev.verify_pin(PIN).unwrap();
    let data = b"moved through key domain 1";
    let der = dev
        .sign(1, SignAlgorithm::Ecdsa(Hash::Sha256), data)
        .unwrap();
    drop(dev);
    p256_verify(&point, &Sha256::digest(data), &der);

    // A domain with a key cannot be deleted; once the key is gone it can.
    let before = snapshot(&b.0);
    let err = run_fails(&base_b, &["dkek", "domain", "delete", "1"]);
    assert!(err.contains("still holds keys"), "{err}");
    assert_eq!(snapshot(&b.0), before);
    run_ok(&base_b, &["delete", "1"]);
    let out = run_ok(&base_b, &["dkek", "domain", "delete", "1"]);
    assert!(out.contains("deleted"), "{out}");
    let status = ok(&["--sim", &sim(&b), "status"]);
    assert!(status.contains("DKEK (dom 1):  not set up"), "{status}");
}

#[test]
fn firmware_without_key_domains_says_so() {
    let s = Scratch::new("nodomains");
    make_shares(&s, &["a.pbe"]);
    let dev = TempDevice::new("2.6", Some(1));
    let base = g(&s, &sim(&dev));
    let before = snapshot(&dev.0);
    for extra in [
        &["dkek", "import", "--domain", "1", &s.path("a.pbe")][..],
        &["dkek", "domain", "create", "1", "--shares", "1"],
        &["generate", "ec:P-256", "--domain", "1"],
    ] {
        let err = run_fails(&base, extra);
        assert!(err.contains("no key domains"), "{extra:?}: {err}");
    }
    assert_eq!(snapshot(&dev.0), before);
    // A device without DKEK: backup says why.
    let bare = TempDevice::new("3.5", None);
    let base = g(&s, &sim(&bare));
    run_ok(&base, &["generate", "ec:P-256"]);
    let err = run_fails(&base, &["backup", &s.path("bk")]);
    assert!(err.contains("has no DKEK"), "{err}");
}
