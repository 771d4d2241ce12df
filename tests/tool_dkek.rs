//! schsm-tool dkek create → import → check, password shares, the real share file of a
//! Nitrokey HSM 2, and wrong passwords / damaged files leaving the device unchanged.

mod tool_common;

use std::path::Path;

use tool_common::*;

#[test]
fn create_import_check_round_trip() {
    let s = Scratch::new("dkek");
    let dev = TempDevice::new("3.5", Some(2));
    let d = sim(&dev);
    let pw = s.path("pw");
    for f in ["a.pbe", "b.pbe"] {
        let out = ok(&[
            "--sim",
            &d,
            "--password-file",
            &pw,
            "--iterations",
            ITER,
            "dkek",
            "create",
            &s.path(f),
        ]);
        assert!(out.contains("share KCV"), "{out}");
        assert_eq!(std::fs::read(s.0.join(f)).unwrap().len(), 64);
    }
    // Refuses to overwrite.
    let err = fails(&[
        "--sim",
        &d,
        "--password-file",
        &pw,
        "--iterations",
        ITER,
        "dkek",
        "create",
        &s.path("a.pbe"),
    ]);
    assert!(err.contains("--force"), "{err}");

    // Wrong password on the second file: nothing imported.
    let before = snapshot(&dev.0);
    let err = fails(&[
        "--sim",
        &d,
        "--password-file",
        &pw,
        "--password-file",
        &s.path("badpw"),
        "--iterations",
        ITER,
        "dkek",
        "import",
        &s.path("a.pbe"),
        &s.path("b.pbe"),
    ]);
    assert!(err.contains("wrong password"), "{err}");
    assert_eq!(snapshot(&dev.0), before);
    // A damaged file: nothing imported.
    std::fs::write(s.0.join("bad.pbe"), b"Salted__ but far too short").unwrap();
    let err = fails(&[
        "--sim",
        &d,
        "--password-file",
        &pw,
        "--iterations",
        ITER,
        "dkek",
        "import",
        &s.path("bad.pbe"),
    ]);
    assert!(err.contains("not a DKEK share file"), "{err}");
    assert_eq!(snapshot(&dev.0), before);

    let check = ok(&[
        "--sim",
        &d,
        "--password-file",
        &pw,
        "--password-file",
        &pw,
        "--iterations",
        ITER,
        "dkek",
        "check",
        &s.path("a.pbe"),
        &s.path("b.pbe"),
    ]);
    assert!(check.contains("2 still to import"), "{check}");
    assert_eq!(snapshot(&dev.0), before, "check imports nothing");
    let out = ok(&[
        "--sim",
        &d,
        "--password-file",
        &pw,
        "--password-file",
        &pw,
        "--iterations",
        ITER,
        "dkek",
        "import",
        &s.path("a.pbe"),
        &s.path("b.pbe"),
    ]);
    assert!(out.contains("all imported"), "{out}");
    let check = ok(&[
        "--sim",
        &d,
        "--password-file",
        &pw,
        "--password-file",
        &pw,
        "--iterations",
        ITER,
        "dkek",
        "check",
        &s.path("a.pbe"),
        &s.path("b.pbe"),
    ]);
    assert!(
        check.contains("The files make the device's DKEK"),
        "{check}"
    );
    // One file alone is not the DKEK.
    let err = fails(&[
        "--sim",
        &d,
        "--password-file",
        &pw,
        "--iterations",
        ITER,
        "dkek",
        "check",
        &s.path("a.pbe"),
    ]);
    assert!(err.contains("do not make"), "{err}");
    // No more shares expected.
    let err = fails(&[
        "--sim",
        &d,
        "--password-file",
        &pw,
        "--iterations",
        ITER,
        "dkek",
        "import",
        &s.path("a.pbe"),
    ]);
    assert!(err.contains("expects 0 more"), "{err}");
}

#[test]
fn password_shares_open_the_file() {
    let s = Scratch::new("pwshares");
    let out = ok(&[
        "--iterations",
        ITER,
        "dkek",
        "create",
        "--no-device",
        &s.path("c.pbe"),
        "--pwd-shares-threshold",
        "2",
        "--pwd-shares-total",
        "3",
    ]);
    let lines: Vec<&str> = out
        .lines()
        .filter_map(|l| {
            l.split_once("--pwd-shares-file: ")
                .map(|(_, v)| v.trim_end_matches(')'))
        })
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    std::fs::write(s.0.join("two"), format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    std::fs::write(s.0.join("one"), format!("{}\n", lines[1])).unwrap();
    // The printout itself (sc-hsm-tool's form), shares 1 and 3 of it.
    let printout: String = out
        .split("\n\n")
        .filter(|b| !b.contains("Share ID    : 2"))
        .collect::<Vec<_>>()
        .join("\n\n");
    std::fs::write(s.0.join("printout"), printout).unwrap();
    let from_printout = ok(&[
        "--pwd-shares-file",
        &s.path("printout"),
        "--iterations",
        ITER,
        "dkek",
        "check",
        "--no-device",
        &s.path("c.pbe"),
    ]);
    let good = ok(&[
        "--pwd-shares-file",
        &s.path("two"),
        "--iterations",
        ITER,
        "dkek",
        "check",
        "--no-device",
        &s.path("c.pbe"),
    ]);
    assert!(good.contains("share KCV"), "{good}");
    assert_eq!(from_printout, good);
    let o = tool(&[
        "--pwd-shares-file",
        &s.path("one"),
        "--iterations",
        ITER,
        "dkek",
        "check",
        "--no-device",
        &s.path("c.pbe"),
    ]);
    // One share of a 2-of-3 split gives another password: almost always a padding failure.
    if o.status.success() {
        assert_ne!(String::from_utf8_lossy(&o.stdout), good);
    }
}

#[test]
fn real_nitrokey_share_file_imports_with_its_kcv() {
    let vector = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors/nitrokey-hsm2-dkek-share.pbe");
    if !vector.exists() {
        eprintln!("skipped: {} not present", vector.display());
        return;
    }
    let s = Scratch::new("vector");
    std::fs::write(s.0.join("vpw"), "passwordpassword").unwrap();
    let dev = TempDevice::new("3.5", Some(1));
    // The default 10 000 000 rounds, once.
    let out = ok(&[
        "--sim",
        &sim(&dev),
        "--password-file",
        &s.path("vpw"),
        "dkek",
        "import",
        &vector.display().to_string(),
    ]);
    assert!(out.contains("KCV 97E303855DC1C54D"), "{out}");
}
