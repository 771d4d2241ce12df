//! `init`: INITIALIZE DEVICE with every option, after asking when the device holds keys, then
//! the label in EF 2F03 (TokenInfo, as sc-hsm-tool --label writes it).

use schsm_pkcs11::card::firmware::options;
use schsm_pkcs11::card::pkcs15::TokenInfo;
use schsm_pkcs11::card::{Fid, InitParams, PinStatus, SecretBytes};

use crate::args::{Global, InitArgs};
use crate::output::{Doing, Failure, Outcome};
use crate::{open_device, secrets};

fn parse_pka(text: &str) -> Outcome<(u8, u8)> {
    let bad = || {
        Failure::new(format!(
            "--public-key-auth {text:?}: give TOTAL:REQUIRED, e.g. 3:2"
        ))
    };
    let (t, r) = text.split_once(':').ok_or_else(bad)?;
    let (t, r): (u8, u8) = (t.parse().map_err(|_| bad())?, r.parse().map_err(|_| bad())?);
    if r == 0 || r > t {
        return Err(bad());
    }
    Ok((t, r))
}

/// The INITIALIZE parameters from the arguments (checked before anything is sent).
fn params(
    a: &InitArgs,
    so_pin: schsm_pkcs11::card::SoPin,
    pin: &SecretBytes,
) -> Outcome<InitParams> {
    let mut p = InitParams::new(so_pin, pin.expose());
    p.options = 0;
    if !a.no_reset_retry_counter {
        p.options |= options::RESET_RETRY_COUNTER_ENABLED;
    }
    if a.transport_pin {
        p.options |= options::TRANSPORT_PIN;
    }
    p.retry_counter = a.retry;
    p.dkek_shares = a.dkek_shares;
    p.key_domains = a.key_domains;
    p.public_key_auth = a.public_key_auth.as_deref().map(parse_pka).transpose()?;
    // Encoding checks PIN length and retry range: a bad value never reaches the device.
    p.encode()
        .map_err(|e| Failure::new(crate::output::explain(&e)))?;
    Ok(p)
}

/// INITIALIZE's refusals in its own terms (the generic wording would talk of DKEKs and keys).
fn init_failure(e: schsm_pkcs11::card::Error) -> Failure {
    use schsm_pkcs11::card::Error as E;
    let why = match e {
        E::IncorrectData | E::IncorrectP1P2 | E::WrongLength => {
            "the device refused the parameters (an option this firmware does not have?)".into()
        }
        E::PinIncorrect { tries_left } => format!("wrong SO-PIN ({tries_left} tries left)"),
        E::SecurityStatusNotSatisfied | E::CommandNotAllowed | E::ConditionsNotSatisfied => {
            "wrong SO-PIN".into()
        }
        e => crate::output::explain(&e),
    };
    Failure::new(format!("cannot initialize the device: {why}"))
}

pub fn run(g: &Global, a: &InitArgs) -> Outcome {
    let mut dev = open_device(g)?;
    let so_pin = secrets::so_pin(g)?;
    let pin = secrets::new_user_pin(g)?;
    let p = params(a, so_pin, &pin)?;
    if a.key_domains.is_some() && !dev.profile().key_domains {
        return Err(Failure::new(format!(
            "firmware {} has no key domains",
            dev.profile().version
        )));
    }
    let initialized = dev.pin_status().doing("query the device")? != PinStatus::NotInitialized;
    if initialized {
        let keys = dev.key_ids().doing("list the keys")?;
        if !keys.is_empty() {
            let q = format!(
                "The device holds {} key(s); initializing erases them all. Continue?",
                keys.len()
            );
            if !secrets::confirm(g, &q)? {
                return Err(Failure::new("not initialized; the device is unchanged"));
            }
        }
    }
    if let Err(e) = dev.initialize(&p) {
        let mut f = init_failure(e);
        if f.message.ends_with("wrong SO-PIN") {
            if let Ok(PinStatus::NotVerified { tries_left }) = dev.so_pin_status() {
                f.message += &format!(" ({tries_left} tries left)");
            }
        }
        return Err(f);
    }
    println!("Device initialized.");
    if let Some(label) = &a.label {
        if a.transport_pin {
            eprintln!(
                "schsm-tool: the label is not written: in transport PIN mode the PIN must be \
                 changed first"
            );
        } else {
            dev.verify_pin(pin.expose())
                .doing("verify the new user PIN")?;
            let ti = TokenInfo::with_label(label).encode();
            let written = dev.write_file(Fid::TOKEN_INFO, &ti);
            let _ = dev.logout();
            written.doing("write the label")?;
            println!("Label set to {label:?}.");
        }
    }
    match a.dkek_shares {
        Some(0) => println!("The device made a random DKEK."),
        Some(n) => println!("Import {n} DKEK share(s) now with `schsm-tool dkek import FILE`."),
        None => println!("No DKEK: keys on this device can never be backed up."),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_auth_syntax() {
        assert_eq!(parse_pka("3:2").unwrap(), (3, 2));
        assert!(parse_pka("2:3").is_err());
        assert!(parse_pka("x").is_err());
    }
}
