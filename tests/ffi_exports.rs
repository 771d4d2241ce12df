//! The shared library exports the 68 PKCS#11 2.40 functions by name, and nothing else.

use std::path::PathBuf;
use std::process::Command;

/// target/<profile>/libschsm_pkcs11.so, next to this test's own directory (target/<profile>/deps).
fn shared_library() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let so = exe.parent()?.parent()?.join("libschsm_pkcs11.so");
    so.exists().then_some(so)
}

#[test]
fn exports_every_pkcs11_function_and_nothing_else() {
    let Some(so) = shared_library() else {
        eprintln!("skipped: libschsm_pkcs11.so not found next to the test binary");
        return;
    };
    let output = match Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
    {
        Ok(output) if output.status.success() => output,
        _ => {
            eprintln!("skipped: nm is not available");
            return;
        }
    };
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
