//! Helpers of the schsm-tool tests (`mod tool_common;`): the built binary, secret files,
//! simulated devices (from tests/card_support.rs) and a device snapshot for "nothing changed".
#![allow(dead_code)]

#[path = "../card_support.rs"]
pub mod card_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[allow(unused_imports)]
pub use card_support::{open, TempDevice, PIN, SO_PIN};

/// Rounds for share files made in tests (the default, 10 million, is for real ceremonies).
pub const ITER: &str = "1000";

/// A scratch folder with a PIN, SO-PIN and password file, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "schsm-tool-test-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("pin"),
            format!("{}\n", std::str::from_utf8(PIN).unwrap()),
        )
        .unwrap();
        std::fs::write(dir.join("so"), "3537363231383830\n").unwrap();
        std::fs::write(dir.join("pw"), "share password\n").unwrap();
        std::fs::write(dir.join("badpin"), "111111\n").unwrap();
        std::fs::write(dir.join("badpw"), "not the password\n").unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `dkek create --no-device FILE` with the scratch password ("pw") and [`ITER`] rounds; returns
/// the file's path.
pub fn create_share(s: &Scratch, name: &str) -> String {
    let file = s.path(name);
    ok(&[
        "--password-file",
        &s.path("pw"),
        "--iterations",
        ITER,
        "dkek",
        "create",
        "--no-device",
        &file,
    ]);
    file
}

pub fn tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schsm-tool"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("schsm-tool runs")
}

/// Runs the tool, expects success, returns stdout.
pub fn ok(args: &[&str]) -> String {
    let o = tool(args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "schsm-tool {args:?} failed:\n{out}\n{err}"
    );
    out
}

/// Runs the tool, expects a failure exit, returns stderr.
pub fn fails(args: &[&str]) -> String {
    let o = tool(args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !o.status.success(),
        "schsm-tool {args:?} should fail:\n{out}\n{err}"
    );
    assert!(
        err.starts_with("schsm-tool: ") || err.contains("error:"),
        "message: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The device's state as `schsm-sim stat` describes it, without the counters that any APDU
/// moves.
pub fn snapshot(dir: &Path) -> String {
    schsm_sim::stat(dir)
        .expect("stat")
        .lines()
        .filter(|l| !l.starts_with("APDU counter") && !l.starts_with("State writes"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn sim(dev: &TempDevice) -> String {
    dev.0.display().to_string()
}
