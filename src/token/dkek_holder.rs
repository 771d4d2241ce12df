//! The DKEK held by the module, from the share files of the configuration (`[dkek] shares`,
//! with `password_files` or an n-of-m `password_shares` split): needed by the bug #168 unwrap
//! shim (re-encoding a blob without its algorithm list) and by key import (encoding blobs).
//!
//! Decrypting a share file costs 10 million MD5 rounds, so it is done once per process, when a
//! caller first needs the DKEK, and the result (a zeroizing `Dkek`) is kept until C_Finalize.
//! Passwords are read, used and wiped; nothing secret is logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::card::dkek::{Dkek, DkekShare};
use crate::card::secret::SecretBytes;
use crate::card::shamir::{self, PasswordShare};
use crate::card::share_file;
use crate::config::Config;

/// The configured files the cached DKEK came from, and the DKEK.
type Cached = (Vec<PathBuf>, Arc<Dkek>);
static CACHE: Mutex<Option<Cached>> = Mutex::new(None);

/// Drops the kept DKEK (C_Finalize): nothing of it may outlive the library's use.
pub fn forget() {
    *CACHE.lock() = None;
}

/// Whether the configuration names share files at all.
pub fn configured(config: &Config) -> bool {
    !config.dkek_share_files.is_empty()
}

/// The DKEK of the configured share files: `Ok(None)` when none are configured, `Err(why)`
/// when they are but cannot be used (missing file, wrong password, ...).
pub fn host_dkek(config: &Config) -> Result<Option<Arc<Dkek>>, String> {
    if !configured(config) {
        return Ok(None);
    }
    let key: Vec<PathBuf> = config
        .dkek_share_files
        .iter()
        .chain(&config.dkek_password_files)
        .chain(&config.dkek_password_shares)
        .cloned()
        .collect();
    let mut cache = CACHE.lock();
    if let Some((k, d)) = cache.as_ref() {
        if *k == key {
            return Ok(Some(d.clone()));
        }
    }
    let dkek = Arc::new(load(config)?);
    log::info!(
        "DKEK assembled from {} configured share file(s), KCV {}",
        config.dkek_share_files.len(),
        hex(&dkek.kcv())
    );
    *cache = Some((key, dkek.clone()));
    Ok(Some(dkek))
}

fn load(config: &Config) -> Result<Dkek, String> {
    let files = &config.dkek_share_files;
    let split = !config.dkek_password_shares.is_empty();
    let passwords = if split {
        &config.dkek_password_shares
    } else {
        &config.dkek_password_files
    };
    if passwords.len() != files.len() {
        return Err(format!(
            "[dkek] names {} share file(s) but {} password {}",
            files.len(),
            passwords.len(),
            if split { "share file(s)" } else { "file(s)" }
        ));
    }
    let mut shares = Vec::with_capacity(files.len());
    for (file, pw) in files.iter().zip(passwords) {
        let content = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let password = if split {
            password_from_split(pw)?
        } else {
            password_from_file(pw)?
        };
        let share: DkekShare =
            share_file::decrypt_share_file(&content, password.expose(), config.dkek_iterations)
                .map_err(|e| format!("{}: {e}", file.display()))?;
        shares.push(share);
    }
    Ok(Dkek::from_shares(&shares))
}

/// A password file: its content without the final line break.
fn password_from_file(path: &Path) -> Result<SecretBytes, String> {
    let raw =
        SecretBytes::new(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
    let mut bytes = raw.expose();
    while let Some((b'\n' | b'\r', rest)) = bytes.split_last() {
        bytes = rest;
    }
    Ok(SecretBytes::from_slice(bytes))
}

/// A password share file: t lines `<prime hex> <id> <value hex>`; the password is rebuilt by
/// Lagrange interpolation as sc-hsm-tool does.
fn password_from_split(path: &Path) -> Result<SecretBytes, String> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    parse_split(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the text of a password share file (also schsm-tool's `--pwd-shares-file`).
pub fn parse_split(text: &str) -> Result<SecretBytes, String> {
    let number = |s: &str| {
        let s = s.trim_start_matches("0x");
        u64::from_str_radix(s, 16).map_err(|_| "a number is not hex of at most 64 bits".to_string())
    };
    let mut prime = None;
    // The share values rebuild the password: wiped when done, and room for all of them at once
    // (a growing vector frees its old buffer unwiped).
    let mut shares = zeroize::Zeroizing::new(Vec::with_capacity(text.lines().count()));
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [p, x, y] = w[..] else {
            return Err("expected lines `<prime> <id> <value>`".into());
        };
        let p = number(p)?;
        if *prime.get_or_insert(p) != p {
            return Err("the shares name different primes".into());
        }
        shares.push(PasswordShare {
            x: x.parse()
                .map_err(|_| "a share id is not a number".to_string())?,
            y: number(y)?,
        });
    }
    let prime = prime.ok_or("no password shares")?;
    shamir::reconstruct_password(prime, &shares).map_err(|e| e.to_string())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_file_rebuilds_the_password() {
        let secret = 0x1234_5678_9ABC_DEF0u64 & 0x7FFF_FFFF_FFFF_FFFF;
        let prime = 0xFFFF_FFFF_FFFF_FFC5u64; // 2^64 - 59, prime
        let shares = shamir::split_secret(secret, prime, &[777, 4242], 5).unwrap();
        let text: String = shares[1..4]
            .iter()
            .map(|s| format!("{prime:X} {} {:X}\n", s.x, s.y))
            .collect();
        let pw = parse_split(&text).unwrap();
        assert_eq!(pw.expose(), &secret.to_be_bytes()[..]);
        assert!(parse_split("").is_err());
        assert!(parse_split("zz 1 2").is_err());
        assert!(parse_split("7 1 2\n11 2 3").is_err());
    }

    #[test]
    fn not_configured_is_none() {
        assert!(matches!(host_dkek(&Config::default()), Ok(None)));
        let mut c = Config {
            dkek_share_files: vec!["/nonexistent/share.pbe".into()],
            ..Config::default()
        };
        assert!(host_dkek(&c).is_err(), "password files missing");
        c.dkek_password_files = vec!["/nonexistent/share.pw".into()];
        assert!(host_dkek(&c).is_err());
    }
}
