//! Build metadata (crate version, git id) for CK_INFO and logs, and the check that
//! include/schsm-pkcs11.h says what src/vendor.rs says. No dependencies: both files are parsed
//! with plain string handling (`pub const NAME: T = 0x...;` and `#define NAME 0x...UL`).

use std::collections::BTreeMap;
use std::process::Command;

fn parse_number(text: &str) -> Option<u64> {
    let t = text.trim().trim_end_matches(';').trim();
    let t = t.trim_end_matches(['U', 'L', 'u', 'l']).replace('_', "");
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

fn rust_constants(src: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in src.lines() {
        let Some(rest) = line.trim().strip_prefix("pub const ") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if !(name.starts_with("CKM_") || name.starts_with("CKA_") || name.starts_with("CKK_")) {
            continue;
        }
        if let Some(v) = rest.split_once('=').and_then(|(_, v)| parse_number(v)) {
            out.insert(name.to_string(), v);
        }
    }
    out
}

fn header_constants(src: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in src.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("#define") {
            continue;
        }
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        if let Some(v) = parse_number(value) {
            out.insert(name.to_string(), v);
        }
    }
    out
}

fn main() {
    println!("cargo:rerun-if-changed=src/vendor.rs");
    println!("cargo:rerun-if-changed=include/schsm-pkcs11.h");
    // The git id changes with a commit (refs/heads) or a checkout (HEAD). Only existing paths
    // are named: a missing one would make cargo run this script on every build.
    for path in [".git/HEAD", ".git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let rust = rust_constants(&std::fs::read_to_string("src/vendor.rs").expect("src/vendor.rs"));
    let header = header_constants(
        &std::fs::read_to_string("include/schsm-pkcs11.h").expect("include/schsm-pkcs11.h"),
    );
    if rust != header {
        panic!(
            "include/schsm-pkcs11.h disagrees with src/vendor.rs:\n  vendor.rs: {rust:X?}\n  header:    {header:X?}"
        );
    }
    let git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SCHSM_GIT_ID={git}");
}
