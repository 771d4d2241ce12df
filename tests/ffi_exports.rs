//! The shared library exports the 68 PKCS#11 2.40 functions by name, and nothing else.

use std::path::PathBuf;
use std::process::Command;

/// The module cargo built for this test run: target/<profile>/deps/libschsm_pkcs11.so, beside
/// this test binary (`cargo test` builds the cdylib there; `cargo build` also copies it up).
fn shared_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps folder");
    [deps.to_path_buf(), deps.join("..")]
        .into_iter()
        .map(|d| d.join("libschsm_pkcs11.so"))
        .find(|so| so.exists())
        .expect("libschsm_pkcs11.so built beside the test binary (cargo test builds it)")
}

#[test]
fn exports_every_pkcs11_function_and_nothing_else() {
    let so = shared_library();
    // nm: binutils, which the C toolchain the build needs (gcc) brings along.
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("nm runs (Debian binutils)");
    assert!(output.status.success(), "nm -D {}", so.display());
    let listing = String::from_utf8_lossy(&output.stdout);
    let functions: Vec<&str> = listing
        .lines()
        .filter_map(|line| {
            line.split_whitespace()
                .collect::<Vec<_>>()
                .get(1..3)
                .map(<[_]>::to_vec)
        })
        .filter(|kind_name| kind_name[0] == "T")
        .map(|kind_name| kind_name[1])
        .collect();
    let pkcs11: Vec<&&str> = functions
        .iter()
        .filter(|name| name.starts_with("C_"))
        .collect();
    assert_eq!(pkcs11.len(), 68, "{pkcs11:?}");
    assert!(functions.contains(&"C_GetFunctionList"));
    assert!(functions.contains(&"C_WaitForSlotEvent"));
    let others: Vec<&&str> = functions
        .iter()
        .filter(|name| !name.starts_with("C_"))
        .collect();
    assert!(others.is_empty(), "unexpected exports: {others:?}");
}
