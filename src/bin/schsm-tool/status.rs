//! `status`: everything the device tells without a PIN — firmware and its known quirks,
//! options, PIN tries left, DKEK state per key domain, the keys.

use schsm_pkcs11::card::cvc::device_serial;
use schsm_pkcs11::card::dkek::DomainDkek;
use schsm_pkcs11::card::firmware::options;
use schsm_pkcs11::card::pkcs15::TokenInfo;
use schsm_pkcs11::card::{Device, DkekStatus, Fid, PinStatus};

use crate::args::Global;
use crate::keys::{inventory, print_table};
use crate::open_device;
use crate::output::{hex, Doing, Outcome};

pub fn run(g: &Global) -> Outcome {
    let mut dev = open_device(g)?;
    let p = dev.profile().clone();
    println!("Device:        {}", dev.name());
    println!(
        "Firmware:      {}{} ({:?}, max APDU {} bytes)",
        p.version,
        if p.version_reported {
            ""
        } else {
            " (assumed: not reported)"
        },
        p.platform,
        p.max_apdu
    );
    println!("Applet:        {}", p.applet_name());
    let mut quirks = Vec::new();
    if p.bug_168_unwrap_restricted {
        quirks.push(
            "bug #168: UNWRAP of a key blob with an algorithm list fails (restore re-encodes \
             blobs when given --dkek-share)",
        );
    }
    if p.weak_aes_generation {
        quirks.push(
            "weak AES key generation (advisory; fixed in 3.3): regenerate AES keys made here",
        );
    }
    if p.aes_blob_algorithm_misencoded {
        quirks.push("AES key blobs carry a mis-encoded default algorithm");
    }
    if quirks.is_empty() {
        println!("Quirks:        none known");
    }
    for q in quirks {
        println!("Quirk:         {q}");
    }
    println!("Options:       {}", describe_options(p.options));
    if let Ok(Some(cert)) = dev.read_file_if_exists(Fid::DEVICE_CERTIFICATE) {
        if let Ok(serial) = device_serial(&cert) {
            println!("Serial:        {serial}");
        }
    }
    if let Ok(Some(ti)) = dev.read_file_if_exists(Fid::TOKEN_INFO) {
        if let Some(label) = TokenInfo::decode(&ti).ok().and_then(|t| t.label) {
            println!("Label:         {label}");
        }
    }
    let user = dev.pin_status().doing("query the user PIN")?;
    println!("User PIN:      {}", describe_pin(user));
    if user == PinStatus::NotInitialized {
        println!("The device is not initialized: run `schsm-tool init`.");
        return Ok(());
    }
    let so = dev.so_pin_status().doing("query the SO-PIN")?;
    println!("SO-PIN:        {}", describe_pin(so));
    for (domain, line) in dkek_lines(&mut dev) {
        println!("DKEK{:<10} {line}", domain_suffix(domain));
    }
    println!("Free memory:   not reported by this device");
    println!("Keys:");
    print_table(&inventory(&mut dev)?);
    Ok(())
}

fn domain_suffix(domain: u8) -> String {
    if domain == 0 {
        ":".to_string()
    } else {
        format!(" (dom {domain}):")
    }
}

pub fn describe_dkek(st: &DkekStatus) -> String {
    let state = if st.total_shares == 0 {
        "random DKEK made by the device".to_string()
    } else if st.is_complete() {
        format!("{} share(s), all imported", st.total_shares)
    } else {
        format!(
            "{} share(s), {} still to import",
            st.total_shares, st.outstanding_shares
        )
    };
    format!("{state}, KCV {}", hex(&st.kcv))
}

/// The DKEK of key domain 0 and of every further domain the device answers for.
fn dkek_lines(dev: &mut Device) -> Vec<(u8, String)> {
    let domains = match crate::domains::all(dev) {
        Ok(d) => d,
        Err(e) => return vec![(0, format!("unknown ({})", e.message))],
    };
    domains
        .into_iter()
        .map(|(domain, state)| {
            let line = match state {
                DomainDkek::Dkek(st) => describe_dkek(&st),
                DomainDkek::NoDkek if domain == 0 => {
                    "none (initialized without DKEK: keys cannot be backed up)".into()
                }
                // A configured domain without DKEK or XKEK yet.
                DomainDkek::NoDkek | DomainDkek::NoSuchDomain => "not set up".into(),
            };
            (domain, line)
        })
        .collect()
}

fn describe_pin(st: PinStatus) -> String {
    match st {
        PinStatus::Verified => "verified".into(),
        PinStatus::NotVerified { tries_left } => format!("{tries_left} tries left"),
        PinStatus::Blocked => "BLOCKED".into(),
        PinStatus::TransportPin => "transport PIN: change it before use".into(),
        PinStatus::NotInitialized => "not set (device not initialized)".into(),
    }
}

fn describe_options(opts: Option<u16>) -> String {
    let Some(o) = opts else {
        return "not reported (firmware before 2.0)".into();
    };
    let mut names = Vec::new();
    if o & options::RESET_RETRY_COUNTER_ENABLED != 0 {
        names.push("RESET RETRY COUNTER enabled");
    }
    if o & options::TRANSPORT_PIN != 0 {
        names.push("transport PIN");
    }
    if o & options::SESSION_PIN != 0 {
        names.push("session PIN");
    }
    format!(
        "{o:04X}{}{}",
        if names.is_empty() { "" } else { " — " },
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        assert!(describe_options(Some(3)).contains("transport PIN"));
        assert!(describe_options(None).contains("not reported"));
        let st = DkekStatus {
            total_shares: 2,
            outstanding_shares: 1,
            kcv: [0; 8],
        };
        assert!(describe_dkek(&st).contains("1 still to import"));
        assert_eq!(
            describe_pin(PinStatus::NotVerified { tries_left: 3 }),
            "3 tries left"
        );
    }
}
