//! schsm-tool status / init / list / delete, and what a new user gets wrong: wrong PIN, wrong
//! SO-PIN, missing device, no terminal for a confirmation. Each failure: clear message,
//! non-zero exit, device unchanged.

mod tool_common;

use schsm_pkcs11::card::curves::Curve;
use schsm_pkcs11::card::keys::{KeyGenParams, KeySpec};
use schsm_pkcs11::card::pkcs15::KeyUsage;
use schsm_pkcs11::card::prkd::{KeyDescription, KeyKind};
use schsm_pkcs11::card::Fid;
use tool_common::*;

/// An EC key at `id` with an OpenSC-style description.
fn ec_key(dev: &TempDevice, id: u8, label: &str) {
    let mut d = dev.open();
    d.verify_pin(PIN).unwrap();
    let spec = KeySpec::Ec(Curve::by_name("secp256r1").unwrap());
    d.generate_key_pair(id, &KeyGenParams::new(spec, "DENK0100001"))
        .unwrap();
    let desc = KeyDescription::opensc(KeyKind::Ec, label, &[0xA0, id], KeyUsage::SIGN, id, 256);
    d.write_file(Fid::prkd(id), &desc.encode()).unwrap();
}

#[test]
fn status_shows_firmware_quirks_pins_dkek_and_keys() {
    let dev = TempDevice::new("3.1", Some(1));
    ec_key(&dev, 1, "signing key");
    let out = ok(&["--sim", &sim(&dev), "status"]);
    assert!(out.contains("Firmware:      3.1"), "{out}");
    assert!(out.contains("bug #168"), "{out}");
    assert!(out.contains("weak AES"), "{out}");
    assert!(out.contains("User PIN:      3 tries left"), "{out}");
    assert!(out.contains("SO-PIN:        15 tries left"), "{out}");
    assert!(out.contains("1 share(s), 1 still to import"), "{out}");
    assert!(out.contains("signing key") && out.contains("A001"), "{out}");
    let list = ok(&["--sim", &sim(&dev), "list"]);
    assert!(
        list.contains("EC") && list.contains("256") && list.contains("CV request"),
        "{list}"
    );
}

#[test]
fn init_sets_options_label_and_asks_before_wiping_keys() {
    let s = Scratch::new("init");
    let dev = TempDevice::new("3.5", None);
    ec_key(&dev, 1, "precious");
    let base = [
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("pin"),
        "--so-pin-file",
        &s.path("so"),
    ];
    let args = |extra: &[&'static str]| -> Vec<String> {
        base.iter()
            .map(|x| x.to_string())
            .chain(extra.iter().map(|x| x.to_string()))
            .collect()
    };
    let before = snapshot(&dev.0);
    let a = args(&["init", "--dkek-shares", "2", "--label", "Test HSM"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let err = fails(&a);
    assert!(err.contains("--yes") && err.contains("1 key"), "{err}");
    assert_eq!(snapshot(&dev.0), before, "refused init changed the device");

    let a = args(&[
        "init",
        "--dkek-shares",
        "2",
        "--retry",
        "5",
        "--label",
        "Test HSM",
        "--yes",
    ]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    ok(&a);
    let out = ok(&["--sim", &sim(&dev), "status"]);
    assert!(out.contains("Label:         Test HSM"), "{out}");
    assert!(out.contains("User PIN:      5 tries left"), "{out}");
    assert!(out.contains("2 share(s), 2 still to import"), "{out}");
    assert!(out.contains("(no keys)"), "{out}");

    // Transport PIN mode and a wrong SO-PIN.
    std::fs::write(s.0.join("so2"), "0000000000000000").unwrap();
    let before = snapshot(&dev.0);
    let err = fails(&[
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("pin"),
        "--so-pin-file",
        &s.path("so2"),
        "init",
    ]);
    assert!(err.contains("wrong SO-PIN (14 tries left)"), "{err}");
    let after = snapshot(&dev.0);
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("SO-PIN"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&after), strip(&before));
    // A bad PIN length never reaches the device.
    std::fs::write(s.0.join("short"), "123").unwrap();
    let err = fails(&[
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("short"),
        "--so-pin-file",
        &s.path("so"),
        "init",
    ]);
    assert!(err.contains("6 to 16"), "{err}");
    assert_eq!(snapshot(&dev.0), after);

    ok(&[
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("pin"),
        "--so-pin-file",
        &s.path("so"),
        "init",
        "--transport-pin",
    ]);
    let out = ok(&["--sim", &sim(&dev), "status"]);
    assert!(out.contains("transport PIN"), "{out}");
}

#[test]
fn delete_asks_and_removes_key_and_files() {
    let s = Scratch::new("delete");
    let dev = TempDevice::new("3.5", None);
    ec_key(&dev, 1, "one");
    ec_key(&dev, 2, "two");
    let before = snapshot(&dev.0);
    let err = fails(&[
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("pin"),
        "delete",
        "2",
    ]);
    assert!(err.contains("--yes"), "{err}");
    let err = fails(&[
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("pin"),
        "delete",
        "7",
        "--yes",
    ]);
    assert!(err.contains("no key 7"), "{err}");
    assert_eq!(snapshot(&dev.0), before);

    // Wrong PIN: a clear message; only the retry counter moved.
    let err = fails(&[
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("badpin"),
        "delete",
        "2",
        "--yes",
    ]);
    assert!(err.contains("wrong PIN (2 tries left)"), "{err}");
    let after = snapshot(&dev.0);
    assert!(after.contains("User PIN:      2 of 3"), "{after}");
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("User PIN"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&after), strip(&before));

    ok(&[
        "--sim",
        &sim(&dev),
        "--pin-file",
        &s.path("pin"),
        "delete",
        "2",
        "--yes",
    ]);
    let mut d = dev.open();
    let fids = d.enumerate().unwrap();
    assert!(
        !fids.contains(&Fid::key(2))
            && !fids.contains(&Fid::prkd(2))
            && !fids.contains(&Fid::ee_certificate(2))
    );
    assert!(fids.contains(&Fid::key(1)) && fids.contains(&Fid::prkd(1)));
}

#[test]
fn missing_device_and_no_pin_source_are_clear_errors() {
    let err = fails(&["--sim", "/nonexistent/schsm-device", "status"]);
    assert!(err.contains("no simulated device"), "{err}");
    let dev = TempDevice::new("3.5", None);
    let before = snapshot(&dev.0);
    let err = fails(&["--sim", &sim(&dev), "backup", "/tmp/never-written"]);
    assert!(err.contains("--pin-file"), "{err}");
    assert_eq!(snapshot(&dev.0), before);
    // --help for every command.
    for cmd in [
        "status", "init", "list", "delete", "dkek", "backup", "restore", "import",
    ] {
        let o = tool(&[cmd, "--help"]);
        assert!(o.status.success() && !o.stdout.is_empty(), "{cmd} --help");
    }
    let o = tool(&["dkek", "create", "--help"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("--pwd-shares-threshold"));
}
