//! The DKEK ceremony: `dkek create` (a share file in sc-hsm-tool's format, password typed or
//! split n-of-m), `dkek import` (every file is decrypted before the first share is sent, so a
//! wrong password changes nothing), `dkek check` (KCVs of files against the device). Both take
//! `--domain N` for key domains (see `domains.rs`).

use std::io::Write;
use std::path::Path;

use crypto_bigint::U64;
use crypto_primes::{is_prime, Flavor};
use schsm_pkcs11::card::dkek::{Dkek, DkekShare, DkekStatus, DomainDkek};
use schsm_pkcs11::card::shamir::{self, PasswordShare};
use schsm_pkcs11::card::{share_file, Device, SecretBytes};

use crate::args::{DkekCreateArgs, DkekFilesArgs, Global};
use crate::output::{hex, Doing, Failure, Outcome};
use crate::status::describe_dkek;
use crate::{domains, open_device, secrets};

/// Random bytes from the device (GET CHALLENGE, as sc-hsm-tool does) or from the OS.
fn random(dev: Option<&mut Device>, n: usize) -> Outcome<SecretBytes> {
    match dev {
        Some(d) => d.get_challenge(n).doing("get random bytes from the device"),
        None => {
            let mut b = vec![0u8; n];
            getrandom::fill(&mut b).map_err(|e| Failure::new(format!("OS random: {e}")))?;
            Ok(SecretBytes::new(b))
        }
    }
}

fn random_u64(dev: Option<&mut Device>) -> Outcome<u64> {
    let b = random(dev, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b.expose());
    Ok(u64::from_be_bytes(a))
}

/// A random prime of 64 bits (top bit set, so above every 63-bit secret).
fn random_prime(dev: Option<&mut Device>) -> Outcome<u64> {
    let mut candidate = random_u64(dev)? | (1 << 63) | 1;
    loop {
        if is_prime(Flavor::Any, &U64::from_u64(candidate)) {
            return Ok(candidate);
        }
        candidate = candidate.wrapping_add(2) | (1 << 63);
    }
}

/// sc-hsm-tool's password split: an 8-byte random password (top bit clear, first byte not
/// zero so that the rebuilt big-endian number has all 8 bytes), split t-of-n over a random
/// 64-bit prime.
fn split_password(
    mut dev: Option<&mut Device>,
    t: u8,
    n: u8,
) -> Outcome<(SecretBytes, u64, Vec<PasswordShare>)> {
    if n < 3 || t < 2 || t > n {
        return Err(Failure::new(
            "password shares: need at least 3 shares in total and a threshold of 2 up to the total",
        ));
    }
    let secret = loop {
        let s = random_u64(dev.as_deref_mut())? & 0x7FFF_FFFF_FFFF_FFFF;
        if s >> 56 != 0 {
            break s;
        }
    };
    let prime = random_prime(dev.as_deref_mut())?;
    let mut coefficients = Vec::with_capacity(usize::from(t) - 1);
    for _ in 1..t {
        coefficients.push(random_u64(dev.as_deref_mut())? % prime);
    }
    let shares = shamir::split_secret(secret, prime, &coefficients, n)
        .map_err(|e| Failure::new(e.to_string()))?;
    Ok((
        SecretBytes::from_slice(&secret.to_be_bytes()),
        prime,
        shares,
    ))
}

fn print_password_shares(prime: u64, t: u8, shares: &[PasswordShare]) {
    println!(
        "The share file's password is split into {} shares; any {t} of them open the file.",
        shares.len()
    );
    println!("Give each share to one custodian. They are shown only now.\n");
    for s in shares {
        println!("Share {} of {}\n", s.x, shares.len());
        println!("Prime       : {}", colon_hex(prime));
        println!("Share ID    : {}", s.x);
        println!("Share value : {}", colon_hex(s.y));
        println!(
            "(as a line of a --pwd-shares-file: {prime:X} {} {:X})\n",
            s.x, s.y
        );
    }
}

/// sc-hsm-tool's display of a share number: lower-case hex bytes joined by colons.
fn colon_hex(v: u64) -> String {
    v.to_be_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn create(g: &Global, a: &DkekCreateArgs) -> Outcome {
    if a.file.exists() && !a.force {
        return Err(Failure::new(format!(
            "{} exists; not overwritten (add --force)",
            a.file.display()
        )));
    }
    let mut device = if a.no_device {
        None
    } else {
        Some(open_device(g)?)
    };
    let split = a.pwd_shares_threshold.zip(a.pwd_shares_total);
    let (password, shown) = match split {
        Some((t, n)) => {
            let (pw, prime, shares) = split_password(device.as_mut(), t, n)?;
            (pw, Some((prime, t, shares)))
        }
        None => (secrets::new_password(g)?, None),
    };
    let share_bytes = random(device.as_mut(), 32)?;
    let salt_bytes = random(device.as_mut(), 8)?;
    let share =
        DkekShare::from_slice(share_bytes.expose()).map_err(|e| Failure::new(e.to_string()))?;
    let mut salt = [0u8; 8];
    salt.copy_from_slice(salt_bytes.expose());
    let bar = secrets::kdf_bar("encrypting the share", g.iterations);
    let file = share_file::encrypt_share_file_with_progress(
        &share,
        password.expose(),
        &salt,
        g.iterations,
        &mut |done, _| bar.set_position(done),
    );
    bar.finish_and_clear();
    let file = file.map_err(|e| Failure::new(e.to_string()))?;
    write_new(&a.file, &file, a.force)?;
    if let Some((prime, t, shares)) = shown {
        print_password_shares(prime, t, &shares);
    }
    println!(
        "DKEK share written to {} (share KCV {}).",
        a.file.display(),
        hex(&share.kcv())
    );
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8], force: bool) -> Outcome {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let what = format!("write {}", path.display());
    let mut f = opts.open(path).doing(&what)?;
    f.write_all(bytes).doing(&what)?;
    f.sync_all().doing(&what)
}

fn decrypt_all(g: &Global, files: &[std::path::PathBuf]) -> Outcome<Vec<DkekShare>> {
    files
        .iter()
        .enumerate()
        .map(|(i, f)| secrets::open_share(g, i, f))
        .collect()
}

pub fn import(g: &Global, a: &DkekFilesArgs) -> Outcome {
    let mut dev = open_device(g)?;
    let domain = a.domain.unwrap_or(0);
    let st = domains::dkek_of(&mut dev, domain)?;
    let which = if domain == 0 {
        "the device".to_string()
    } else {
        format!("key domain {domain}")
    };
    if st.total_shares == 0 {
        return Err(Failure::new(format!(
            "{which} uses a random DKEK; shares cannot be imported"
        )));
    }
    if usize::from(st.outstanding_shares) < a.files.len() {
        return Err(Failure::new(format!(
            "{which} expects {} more share(s), {} file(s) given; nothing imported",
            st.outstanding_shares,
            a.files.len()
        )));
    }
    let shares = decrypt_all(g, &a.files)?;
    for (share, file) in shares.iter().zip(&a.files) {
        let st = dev
            .import_dkek_share_into(domain, share)
            .doing("import the DKEK share")?;
        println!(
            "{}: imported (share KCV {}).",
            file.display(),
            hex(&share.kcv())
        );
        println!("DKEK{}: {}", domain_suffix(domain), describe_dkek(&st));
    }
    Ok(())
}

fn domain_suffix(domain: u8) -> String {
    if domain == 0 {
        String::new()
    } else {
        format!(" of key domain {domain}")
    }
}

pub fn check(g: &Global, a: &DkekFilesArgs) -> Outcome {
    let mut dev = if a.no_device {
        None
    } else {
        Some(open_device(g)?)
    };
    let shares = decrypt_all(g, &a.files)?;
    for (share, file) in shares.iter().zip(&a.files) {
        println!("{}: share KCV {}", file.display(), hex(&share.kcv()));
    }
    let kcv = Dkek::from_shares(&shares).kcv();
    println!("DKEK of these {} share(s): KCV {}", shares.len(), hex(&kcv));
    let Some(dev) = dev.as_mut() else {
        return Ok(());
    };
    let candidates: Vec<(u8, DkekStatus)> = match a.domain {
        Some(n) => vec![(n, domains::dkek_of(dev, n)?)],
        None => domains::all(dev)?
            .into_iter()
            .filter_map(|(d, s)| match s {
                DomainDkek::Dkek(st) => Some((d, st)),
                _ => None,
            })
            .collect(),
    };
    if candidates.is_empty() {
        return Err(Failure::new(
            "the device has no DKEK (initialized without --dkek-shares)",
        ));
    }
    for (d, st) in &candidates {
        println!("Device DKEK{}: {}", domain_suffix(*d), describe_dkek(st));
    }
    let complete: Vec<&(u8, DkekStatus)> = candidates
        .iter()
        .filter(|(_, st)| st.is_complete())
        .collect();
    if let Some((d, _)) = complete.iter().find(|(_, st)| st.kcv == kcv) {
        if *d == 0 {
            println!("The files make the device's DKEK (key domain 0).");
        } else {
            println!("The files make the DKEK of key domain {d}.");
        }
        return Ok(());
    }
    if complete.is_empty() {
        // Shares still to import: nothing to compare with yet.
        return Ok(());
    }
    Err(Failure::new(format!(
        "the files do not make {} (KCVs differ: files {}, device {})",
        match a.domain {
            Some(n) => format!("the DKEK of key domain {n}"),
            None => "the DKEK of any key domain".to_string(),
        },
        hex(&kcv),
        domains::describe_kcvs(
            &complete
                .iter()
                .map(|(d, st)| (*d, st.kcv))
                .collect::<Vec<_>>()
        )
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rebuilds_the_password() {
        let (pw, prime, shares) = split_password(None, 2, 3).unwrap();
        assert_eq!(pw.len(), 8);
        assert!(prime >> 63 == 1);
        let back = shamir::reconstruct_password(prime, &shares[1..]).unwrap();
        assert_eq!(back.expose(), pw.expose());
        assert!(split_password(None, 3, 2).is_err());
        assert!(split_password(None, 1, 3).is_err());
    }
}
