//! schsm-tool generate: EC, RSA and AES keys made by the tool are listed and used by the
//! PKCS#11 module (in-process, over the same simulated device) with their label, ID,
//! restriction and exportability; wrong sizes, curves, domains, algorithm lists, PINs and a
//! missing device fail with a clear message and leave the device as it was.

mod token_ops_common;
mod token_support;

use std::path::Path;
use std::process::{Command, Output};

use cryptoki_sys::*;
use schsm_pkcs11::token::api::{self, Error, MechanismParam, Operation};
use token_ops_common::*;
use token_support::*;

fn tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schsm-tool"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("schsm-tool runs")
}

fn ok(args: &[&str]) -> String {
    let o = tool(args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "schsm-tool {args:?}:\n{out}\n{err}");
    out
}

fn fails(args: &[&str]) -> String {
    let o = tool(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "schsm-tool {args:?} should fail");
    assert!(err.starts_with("schsm-tool: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The simulated device's whole state file: "nothing changed" means byte for byte, apart from
/// the APDU counter that every command moves.
fn state(dir: &Path) -> String {
    schsm_sim::stat(dir)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("APDU counter") && !l.starts_with("State writes"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn pin_file(dir: &Path, name: &str, pin: &str) -> String {
    let p = dir.with_extension(name);
    std::fs::write(&p, format!("{pin}\n")).unwrap();
    p.display().to_string()
}

/// The private (or secret) key object with this label.
fn key_by_label(s: CK_SESSION_HANDLE, class: CK_OBJECT_CLASS, label: &str) -> CK_OBJECT_HANDLE {
    let found = find(
        s,
        &[
            token_support::class(class),
            attr(CKA_LABEL, label.as_bytes().to_vec()),
        ],
    );
    assert_eq!(found.len(), 1, "{label}: {found:?}");
    found[0]
}

#[test]
fn keys_made_by_the_tool_are_listed_and_used_by_the_module() {
    let env = Env::new(&[Dev {
        firmware: "3.5",
        init: true,
        dkek_shares: Some(0),
    }]);
    let dir = env.dirs[0].display().to_string();
    let pin = pin_file(&env.dirs[0], "pin", "648219");
    let g = ["--sim", dir.as_str(), "--pin-file", pin.as_str()];
    let run = |extra: &[&str]| ok(&[&g[..], extra].concat());

    let ec_args = ["generate", "ec:P-256", "--label", "tool ec", "--id", "0a0b"];
    let o = tool(&[&g[..], &ec_args].concat());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        out.contains("EC secp256r1") && out.contains("0A0B"),
        "{out}"
    );
    // stderr is not a terminal here: no spinner, nothing at all.
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = run(&[
        "generate",
        "rsa:2048",
        "--label",
        "tool rsa",
        "--algorithms",
        "RSA-PSS-SHA256",
    ]);
    assert!(out.contains("RSA-PSS-SHA256,WRAP"), "{out}");
    let out = run(&[
        "generate",
        "aes:128",
        "--label",
        "tool aes",
        "--non-exportable",
    ]);
    assert!(out.contains("not exportable"), "{out}");

    // What the card holds: the lists the module's policy makes.
    let ids = sim_key_ids(&env.dirs[0]);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(sim_key(&env.dirs[0], ids[0]).algorithms.is_empty());
    assert_eq!(sim_key(&env.dirs[0], ids[1]).algorithms, vec![0x43, 0x92]);
    let aes_list = sim_key(&env.dirs[0], ids[2]).algorithms;
    assert!(
        !aes_list.is_empty() && !aes_list.contains(&0x92),
        "{aes_list:02X?}"
    );

    // The module, as a new process would see the device.
    env.reinitialize();
    let s = env.user_session();
    let ec = key_by_label(s, CKO_PRIVATE_KEY, "tool ec");
    assert_eq!(get(s, ec, CKA_ID), vec![0x0A, 0x0B]);
    assert!(get_bool(s, ec, CKA_EXTRACTABLE));
    let ec_public = find(s, &[class(CKO_PUBLIC_KEY), attr(CKA_ID, vec![0x0A, 0x0B])]);
    assert_eq!(ec_public.len(), 1, "public key from the CV request");
    let sig = sign(s, &mech(CKM_ECDSA_SHA256), ec, b"made by the tool").unwrap();
    verify(
        s,
        &mech(CKM_ECDSA_SHA256),
        ec_public[0],
        b"made by the tool",
        &sig,
    )
    .unwrap();

    let rsa = key_by_label(s, CKO_PRIVATE_KEY, "tool rsa");
    assert_eq!(get_ulong(s, rsa, CKA_KEY_TYPE), CKK_RSA);
    let pss = mech_with(
        CKM_SHA256_RSA_PKCS_PSS,
        MechanismParam::Pss {
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            salt_len: 32,
        },
    );
    assert_eq!(sign(s, &pss, rsa, b"pss only").unwrap().len(), 256);
    assert_eq!(
        api::operation_init(s, Operation::Sign, &mech(CKM_SHA256_RSA_PKCS), Some(rsa)),
        Err(Error::MechanismInvalid),
        "the restriction travels to the module"
    );

    let aes = key_by_label(s, CKO_SECRET_KEY, "tool aes");
    assert!(!get_bool(s, aes, CKA_EXTRACTABLE));
    assert_eq!(get_ulong(s, aes, CKA_VALUE_LEN), 16);
    let mac = sign(s, &mech(CKM_AES_CMAC), aes, b"cmac").unwrap();
    verify(s, &mech(CKM_AES_CMAC), aes, b"cmac", &mac).unwrap();
}

#[test]
fn wrong_requests_change_nothing() {
    let env = Env::new(&[
        HSM,
        Dev {
            firmware: "2.6",
            init: true,
            dkek_shares: None,
        },
    ]);
    let dir = env.dirs[0].display().to_string();
    let old = env.dirs[1].display().to_string();
    let pin = pin_file(&env.dirs[0], "pin", "648219");
    let bad_pin = pin_file(&env.dirs[0], "badpin", "111111");
    let before = state(&env.dirs[0]);
    let before_old = state(&env.dirs[1]);
    let on = |d: &str, pin: &str, extra: &[&str]| {
        fails(&[&["--sim", d, "--pin-file", pin][..], extra].concat())
    };

    // A wrong PIN: the retry counter is its only trace, and the next right PIN (in the checks
    // below, which log in before asking the firmware) resets it.
    let err = on(&dir, &bad_pin, &["generate", "ec:P-256"]);
    assert!(err.contains("wrong PIN"), "{err}");
    assert!(state(&env.dirs[0]).contains("2 of 3 tries"));
    for (args, expect) in [
        (&["generate", "rsa:1000"][..], "steps of 8"),
        (&["generate", "rsa:8192"], "4096"),
        (&["generate", "ec:secp999r1"], "unknown curve"),
        (&["generate", "dsa:1024"], "ec:CURVE"),
        (&["generate", "aes:64"], "aes:BITS"),
        (
            &["generate", "ec:P-256", "--algorithms", "ECDSA-MD5"],
            "unknown algorithm",
        ),
        (
            &["generate", "ec:P-256", "--algorithms", "AES-CMAC"],
            "applies to",
        ),
        (
            &[
                "generate",
                "ec:P-256",
                "--algorithms",
                "WRAP",
                "--non-exportable",
            ],
            "--non-exportable",
        ),
        (
            &["generate", "ec:P-256", "--domain", "1"],
            "no key domain 1",
        ),
        (&["generate", "ec:P-256", "--id", "xyz"], "not hex"),
    ] {
        let err = on(&dir, &pin, args);
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    let err = on(&old, &pin, &["generate", "aes:128"]);
    assert!(err.contains("no AES keys"), "{err}");
    let err = on(&old, &pin, &["generate", "rsa:4096"]);
    assert!(err.contains("2048"), "{err}");
    let err = on(&old, &pin, &["generate", "ec:P-256", "--domain", "2"]);
    assert!(err.contains("no key domains"), "{err}");
    let missing = format!("{dir}-missing");
    let err = on(&missing, &pin, &["generate", "ec:P-256"]);
    assert!(err.contains("no simulated device"), "{err}");

    assert_eq!(state(&env.dirs[0]), before);
    assert_eq!(state(&env.dirs[1]), before_old);
    assert!(sim_key_ids(&env.dirs[0]).is_empty());
}
