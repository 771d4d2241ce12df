//! Key domains (firmware 3.0 and later; PROTOCOL.md §4.6, §8.7): each domain has its own DKEK.
//! GENERATE puts a key into a domain (tag 92), WRAP KEY wraps a key under its own domain's
//! DKEK, and UNWRAP KEY puts a key into the domain whose complete DKEK has the blob's KCV.
//! Domain 0 is the device's default domain (the DKEK of `init --dkek-shares`).
//!
//! Also `dkek domain create|delete`.

use schsm_pkcs11::card::dkek::{DkekStatus, DomainDkek};
use schsm_pkcs11::card::{Device, Error};

use crate::args::{DomainCreateArgs, DomainDeleteArgs, Global};
use crate::output::{explain, hex, Doing, Failure, Outcome};
use crate::status::describe_dkek;
use crate::{open_logged_in, secrets};

/// The key domains the device has, from 0 up, with their DKEK state. Domain 0 of a device
/// without DKEK (or of firmware without the command) is `NoDkek`.
pub fn all(dev: &mut Device) -> Outcome<Vec<(u8, DomainDkek)>> {
    let domain0 = match dev.dkek_status_of(0) {
        Err(Error::InsNotSupported) => DomainDkek::NoDkek,
        other => other.doing("query the DKEK")?,
    };
    let mut out = vec![(0, domain0)];
    if !dev.profile().key_domains {
        return Ok(out);
    }
    for domain in 1..=u8::MAX {
        match dev.dkek_status_of(domain) {
            Ok(DomainDkek::NoSuchDomain) => break,
            Ok(state) => out.push((domain, state)),
            // Domains are numbered from 0 without gaps: any other refusal ends the list.
            Err(_) => break,
        }
    }
    Ok(out)
}

/// The domains with a complete DKEK and its KCV: where wrapped keys can come from and go to.
pub fn complete(domains: &[(u8, DomainDkek)]) -> Vec<(u8, [u8; 8])> {
    domains
        .iter()
        .filter_map(|(d, s)| match s {
            DomainDkek::Dkek(st) if st.is_complete() => Some((*d, st.kcv)),
            _ => None,
        })
        .collect()
}

/// "domain 0 KCV …, domain 2 KCV …" for messages.
pub fn describe_kcvs(complete: &[(u8, [u8; 8])]) -> String {
    if complete.is_empty() {
        return "none".into();
    }
    complete
        .iter()
        .map(|(d, k)| format!("domain {d} KCV {}", hex(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The share files' DKEK (KCV `kcv`) must be that of a complete domain: the card unwraps a blob
/// into the domain whose DKEK has the blob's KCV.
pub fn require_share_kcv(complete: &[(u8, [u8; 8])], kcv: &[u8; 8]) -> Outcome {
    if complete.iter().any(|(_, k)| k == kcv) {
        return Ok(());
    }
    Err(Failure::new(format!(
        "the share files make DKEK KCV {}; the device has {}",
        hex(kcv),
        describe_kcvs(complete)
    )))
}

/// The complete domains, or why the device can wrap or unwrap nothing.
pub fn require_complete(dev: &mut Device) -> Outcome<Vec<(u8, [u8; 8])>> {
    let domains = all(dev)?;
    let complete = complete(&domains);
    if !complete.is_empty() {
        return Ok(complete);
    }
    let pending: Vec<String> = domains
        .iter()
        .filter_map(|(d, s)| match s {
            DomainDkek::Dkek(st) => Some(format!(
                "domain {d}: {} share(s) still to import",
                st.outstanding_shares
            )),
            _ => None,
        })
        .collect();
    if pending.is_empty() {
        Err(Failure::new(
            "the device has no DKEK (initialized without --dkek-shares): keys cannot be wrapped",
        ))
    } else {
        Err(Failure::new(format!(
            "the device's DKEK is incomplete ({}); import the shares with `schsm-tool dkek import`",
            pending.join("; ")
        )))
    }
}

/// The DKEK state of domain `n` (one query), or a message saying why the domain cannot be used.
pub fn dkek_of(dev: &mut Device, n: u8) -> Outcome<DkekStatus> {
    require_domains(dev, n)?;
    match dev.dkek_status_of(n) {
        Ok(DomainDkek::Dkek(st)) => Ok(st),
        Ok(DomainDkek::NoDkek) | Err(Error::InsNotSupported) if n == 0 => Err(Failure::new(
            "the device was initialized without DKEK shares (init --dkek-shares N)",
        )),
        Ok(DomainDkek::NoDkek) => Err(Failure::new(format!(
            "key domain {n} has no DKEK; set it up with `schsm-tool dkek domain create {n} \
             --shares N`"
        ))),
        Ok(DomainDkek::NoSuchDomain) => Err(no_such_domain(dev, n)),
        Err(e) => Err(query_failed(n, &e)),
    }
}

/// Domains other than 0 need firmware 3.0 or later.
fn require_domains(dev: &Device, n: u8) -> Outcome {
    if n == 0 || dev.profile().key_domains {
        return Ok(());
    }
    Err(Failure::new(format!(
        "firmware {} has no key domains (they came with 3.0); use domain 0",
        dev.profile().version
    )))
}

fn query_failed(n: u8, e: &Error) -> Failure {
    Failure::new(format!(
        "cannot query the DKEK of key domain {n}: {}",
        explain(e)
    ))
}

fn no_such_domain(dev: &mut Device, n: u8) -> Failure {
    let count = all(dev).map(|d| d.len()).unwrap_or(1);
    Failure::new(format!(
        "the device has no key domain {n}: it has {count} (0 to {}); the number is set at \
         initialization (init --key-domains N)",
        count - 1
    ))
}

pub fn create(g: &Global, a: &DomainCreateArgs) -> Outcome {
    let mut dev = open_logged_in(g)?;
    if a.domain == 0 {
        return Err(Failure::new(
            "key domain 0 is the device's default domain: its DKEK is set at initialization \
             (init --dkek-shares N)",
        ));
    }
    require_domains(&dev, a.domain)?;
    match dev.dkek_status_of(a.domain) {
        Ok(DomainDkek::NoDkek) => {}
        Ok(DomainDkek::Dkek(st)) => {
            return Err(Failure::new(format!(
                "key domain {} is already set up ({}); delete it first (dkek domain delete {})",
                a.domain,
                describe_dkek(&st),
                a.domain
            )))
        }
        Ok(DomainDkek::NoSuchDomain) => return Err(no_such_domain(&mut dev, a.domain)),
        Err(e) => return Err(query_failed(a.domain, &e)),
    }
    let st = dev
        .create_key_domain(a.domain, a.shares)
        .doing(&format!("create key domain {}", a.domain))?;
    println!("Key domain {}: {}", a.domain, describe_dkek(&st));
    if st.outstanding_shares > 0 {
        println!(
            "Import its shares with `schsm-tool dkek import --domain {} FILE...`.",
            a.domain
        );
    }
    Ok(())
}

pub fn delete(g: &Global, a: &DomainDeleteArgs) -> Outcome {
    if a.domain == 0 {
        return Err(Failure::new(
            "key domain 0 is the device's default domain and cannot be deleted (init erases it)",
        ));
    }
    let mut dev = open_logged_in(g)?;
    let st = dkek_of(&mut dev, a.domain)?;
    let question = format!(
        "Delete key domain {} ({})? Its DKEK is gone unless you keep its share files",
        a.domain,
        describe_dkek(&st)
    );
    if !secrets::confirm(g, &question)? {
        return Err(Failure::new("not deleted"));
    }
    match dev.delete_key_domain(a.domain) {
        Ok(()) => {}
        Err(Error::AlreadyExists) => {
            return Err(Failure::new(format!(
                "key domain {} still holds keys; delete them first (back them up before)",
                a.domain
            )))
        }
        Err(e) => {
            return Err(Failure::new(format!(
                "cannot delete key domain {}: {}",
                a.domain,
                explain(&e)
            )))
        }
    }
    println!("Key domain {} deleted.", a.domain);
    Ok(())
}
