//! The serial number and label of an inserted card, shared between processes.
//!
//! Every process that loads the module would otherwise read EF 2F02 and EF 2F03 (two APDUs)
//! for its first C_GetTokenInfo, although neither can change while the card stays in the
//! reader (2F02 is the device certificate; 2F03 changes only by re-initialisation, which our
//! C_InitToken handles by forgetting the entry). So the first process of an insertion leaves
//! them in a small file named after the insertion ([`crate::transport::Transport::insertion_id`]:
//! reader, ATR, the reader's event counter, the pcscd instance, the boot), and later processes
//! read the file instead of the card.
//!
//! Where: `$XDG_RUNTIME_DIR/schsm-pkcs11/` (per user, on tmpfs, gone at logout/reboot), else
//! `/tmp/schsm-pkcs11-<uid>/` (created 0700; used only if it is ours and not open to others).
//! `SCHSM_CACHE=0` turns it off. Nothing secret goes there: serial and label are what
//! C_GetTokenInfo shows anyone. A re-initialisation of the card by another program while the
//! card stays in the reader is not seen here (nor by the per-process cache) until the card is
//! re-inserted; our own C_InitToken forgets the entry.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

const MAGIC: &str = "schsm-pkcs11 token info 1";

/// The file of an insertion, if sharing is possible and wanted.
fn path_for(insertion: &str) -> Option<PathBuf> {
    if std::env::var("SCHSM_CACHE").is_ok_and(|v| v == "0") {
        return None;
    }
    let dir = directory()?;
    let digest = Sha256::digest(insertion.as_bytes());
    let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(dir.join(name))
}

#[cfg(unix)]
fn directory() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(run).join("schsm-pkcs11");
        let _ = fs::DirBuilder::new().mode(0o700).create(&dir);
        return dir.is_dir().then_some(dir);
    }
    // Our uid without libc: the owner of /proc/self (Linux); elsewhere no sharing.
    let uid = fs::metadata("/proc/self").ok()?.uid();
    let dir = PathBuf::from(format!("/tmp/schsm-pkcs11-{uid}"));
    let _ = fs::DirBuilder::new().mode(0o700).create(&dir);
    let m = fs::symlink_metadata(&dir).ok()?;
    // Someone else's directory (made before us in the shared /tmp) is not trusted.
    (m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0).then_some(dir)
}

#[cfg(not(unix))]
fn directory() -> Option<PathBuf> {
    None
}

/// (serial, label) left by a process for this insertion.
pub fn load(insertion: &str) -> Option<(String, String)> {
    let text = fs::read_to_string(path_for(insertion)?).ok()?;
    let mut lines = text.split('\n');
    if lines.next()? != MAGIC || lines.next()? != insertion {
        return None;
    }
    let serial = lines.next()?.to_string();
    let label = lines.next()?.to_string();
    (lines.next()? == "end").then_some((serial, label))
}

/// Leaves serial and label for later processes (best effort: a failure only costs APDUs).
pub fn save(insertion: &str, serial: &str, label: &str) {
    let Some(path) = path_for(insertion) else {
        return;
    };
    if [insertion, serial, label].iter().any(|s| s.contains('\n')) {
        return;
    }
    let text = format!("{MAGIC}\n{insertion}\n{serial}\n{label}\nend\n");
    // Written under a private temporary name, then renamed: readers never see half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = written {
        log::debug!("token info cache {}: {e}", path.display());
        let _ = fs::remove_file(&tmp);
    }
}

/// Forgets the entry (after our C_InitToken changed the label).
pub fn forget(insertion: &str) {
    if let Some(path) = path_for(insertion) {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mismatch() {
        let id = format!("test reader|3B00|{}|svc", std::process::id());
        forget(&id);
        assert_eq!(load(&id), None);
        save(&id, "DENK0100001", "my token");
        if path_for(&id).is_some_and(|p| p.exists()) {
            assert_eq!(
                load(&id),
                Some(("DENK0100001".to_string(), "my token".to_string()))
            );
            assert_eq!(load(&format!("{id}x")), None, "another insertion");
        }
        save(&id, "DENK0100001", "two\nlines");
        forget(&id);
        assert_eq!(load(&id), None);
    }
}
