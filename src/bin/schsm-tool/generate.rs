//! `generate`: a key made on the device — EC on a curve the firmware takes, RSA 1024–4096, AES
//! 128/192/256 (fw >= 3.0) — through the module's own card-facing code
//! (`token::keygen::generate_*_on_card`), so that the key gets the same PKCS#15 description
//! (C4xx), metadata (CBxx) and CV request (CExx) as from C_GenerateKeyPair, and OpenSC and our
//! module list and use it. The allowed-algorithm list follows the module's policy
//! (`token::keygen::algorithm_list`, with the bug #168 rule of firmware 3.1).
//!
//! Everything is checked before GENERATE is sent; RSA 4096 takes minutes on a real card, so a
//! spinner with the elapsed time runs meanwhile (only when stderr is a terminal).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use schsm_pkcs11::card::curves::Curve;
use schsm_pkcs11::card::cvc::device_serial;
use schsm_pkcs11::card::keys::{AesKeySize, KeyGenParams, KeySpec, SymKeyParams};
use schsm_pkcs11::card::pkcs15::KeyUsage;
use schsm_pkcs11::card::prkd::KeyKind;
use schsm_pkcs11::card::{Device, Fid};
use schsm_pkcs11::token::keygen::template::KeyRequest;
use schsm_pkcs11::token::keygen::{algorithm_list, generate_aes_on_card, generate_pair_on_card};
use schsm_pkcs11::token::mechanisms::Family;
use schsm_pkcs11::token::objects::restriction::from_alg_reference;
use schsm_pkcs11::token::objects::NewKey;

use crate::args::{GenerateArgs, Global};
use crate::output::{algorithm_list as list_names, algorithm_name, hex, parse_hex};
use crate::output::{Doing, Failure, Outcome};
use crate::{domains, open_logged_in};

/// What to make, from `ec:CURVE`, `rsa:BITS` or `aes:BITS`.
enum KeyType {
    Ec(&'static Curve),
    Rsa(u16),
    Aes(AesKeySize),
}

impl KeyType {
    fn parse(text: &str) -> Outcome<KeyType> {
        let usage = || {
            Failure::new(format!(
                "key type {text:?}: use ec:CURVE (e.g. ec:secp256r1, ec:brainpoolP256r1), \
                 rsa:BITS (e.g. rsa:2048) or aes:BITS (128, 192, 256)"
            ))
        };
        let (kind, arg) = text.split_once(':').ok_or_else(usage)?;
        match kind.to_ascii_lowercase().as_str() {
            "ec" => Curve::by_name(arg).map(KeyType::Ec).ok_or_else(|| {
                Failure::new(format!(
                    "unknown curve {arg:?}; curves: {}",
                    schsm_pkcs11::card::curves::all()
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }),
            "rsa" => arg.parse().map(KeyType::Rsa).map_err(|_| usage()),
            "aes" => arg
                .parse::<usize>()
                .ok()
                .filter(|b| b % 8 == 0)
                .and_then(|b| AesKeySize::from_bytes(b / 8))
                .map(KeyType::Aes)
                .ok_or_else(usage),
            _ => Err(usage()),
        }
    }

    fn family(&self) -> Family {
        match self {
            KeyType::Ec(_) => Family::Ec,
            KeyType::Rsa(_) => Family::Rsa,
            KeyType::Aes(_) => Family::Aes,
        }
    }

    fn describe(&self) -> String {
        match self {
            KeyType::Ec(c) => format!("EC {}", c.name),
            KeyType::Rsa(b) => format!("RSA {b}"),
            KeyType::Aes(s) => format!("AES {}", s.bits()),
        }
    }

    /// What the key's description says it is for (as `import` and the module's defaults).
    fn usage(&self) -> u32 {
        match self {
            KeyType::Ec(_) => KeyUsage::SIGN | KeyUsage::DERIVE,
            KeyType::Rsa(_) => KeyUsage::SIGN | KeyUsage::DECRYPT,
            KeyType::Aes(_) => {
                KeyUsage::ENCRYPT | KeyUsage::DECRYPT | KeyUsage::SIGN | KeyUsage::VERIFY
            }
        }
    }

    /// The firmware can make this key.
    fn check(&self, dev: &Device) -> Outcome {
        let p = dev.profile();
        let ok = match self {
            KeyType::Ec(c) => p.supports_ec_bits(c.field_bits),
            KeyType::Rsa(b) => p.supports_rsa_bits(*b),
            KeyType::Aes(_) => p.aes,
        };
        if ok {
            return Ok(());
        }
        Err(Failure::new(match self {
            KeyType::Rsa(b) => format!(
                "firmware {} makes RSA keys of {} to {} bits in steps of 8, not {b}",
                p.version, p.rsa_min_bits, p.rsa_max_bits
            ),
            KeyType::Ec(c) => format!(
                "firmware {} takes curves of up to {} bits; {} has {}",
                p.version, p.ec_max_bits, c.name, c.field_bits
            ),
            KeyType::Aes(_) => format!(
                "firmware {} has no AES keys (they came with 3.0)",
                p.version
            ),
        }))
    }
}

/// `--algorithms`: names as `list` shows them (ECDSA-SHA256, WRAP, ...) or hex ids (73).
fn parse_algorithms(text: &str) -> Outcome<Vec<u8>> {
    let mut ids = Vec::new();
    for word in text.split([',', ' ']).filter(|w| !w.is_empty()) {
        let by_name = (0..=u8::MAX).find(|&i| algorithm_name(i).eq_ignore_ascii_case(word));
        let by_hex = (word.len() == 2).then(|| parse_hex(word)).flatten();
        match by_name.or(by_hex.map(|h| h[0])) {
            Some(id) => ids.push(id),
            None => {
                return Err(Failure::new(format!(
                    "unknown algorithm {word:?} in --algorithms (names as `schsm-tool list` \
                     shows them, e.g. ECDSA-SHA256,RSA-PSS-SHA256,AES-CMAC, or hex ids)"
                )))
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// A spinner with the elapsed time on stderr while the card works; hidden without a terminal.
fn spinner(message: String) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

pub fn run(g: &Global, a: &GenerateArgs) -> Outcome {
    let key_type = KeyType::parse(&a.key_type)?;
    let family = key_type.family();
    let cka_id = match &a.id {
        Some(h) => Some(
            parse_hex(h)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Failure::new(format!("--id {h:?} is not hex")))?,
        ),
        None => None,
    };
    // The restriction in the module's terms; the card list is made from it by the module's
    // policy, so a key generated here behaves as one from C_GenerateKeyPair.
    let extractable = !a.non_exportable;
    let allowed = match &a.algorithms {
        None => None,
        Some(text) => {
            let ids = parse_algorithms(text)?;
            if a.non_exportable && ids.contains(&schsm_pkcs11::card::algorithm::id::WRAP) {
                return Err(Failure::new(
                    "--algorithms lists WRAP, which --non-exportable forbids",
                ));
            }
            let mechanisms: Vec<_> = from_alg_reference(&ids)
                .into_iter()
                .filter(|&m| {
                    schsm_pkcs11::token::mechanisms::spec(m).is_some_and(|s| s.family == family)
                })
                .collect();
            if mechanisms.is_empty() {
                return Err(Failure::new(format!(
                    "none of --algorithms {} applies to an {} key",
                    list_names(Some(&ids)),
                    key_type.describe()
                )));
            }
            Some(mechanisms)
        }
    };

    let mut dev = open_logged_in(g)?;
    key_type.check(&dev)?;
    if a.domain != 0 {
        domains::dkek_of(&mut dev, a.domain)?;
    }
    let profile = dev.profile().clone();
    let card_list = algorithm_list(&profile, family, allowed.as_deref(), extractable);
    let request = KeyRequest {
        label: a.label.clone(),
        id: cka_id,
        usage: key_type.usage(),
        extractable,
        allowed_mechanisms: allowed,
        key_domain: (a.domain != 0).then_some(a.domain),
    };
    if matches!(key_type, KeyType::Aes(_)) && profile.weak_aes_generation {
        eprintln!(
            "schsm-tool: warning: firmware {} generates weak AES keys (advisory, fixed in 3.3)",
            profile.version
        );
    }
    let serial = match dev.read_file_if_exists(Fid::DEVICE_CERTIFICATE) {
        Ok(Some(cert)) => device_serial(&cert).unwrap_or_default(),
        _ => String::new(),
    };

    let bar = spinner(format!(
        "generating an {} key on the device",
        key_type.describe()
    ));
    let started = Instant::now();
    let made: schsm_pkcs11::card::Result<NewKey> = match &key_type {
        KeyType::Aes(size) => {
            let params = SymKeyParams {
                algorithms: card_list.clone(),
                use_counter: None,
                key_domain: request.key_domain,
            };
            generate_aes_on_card(&mut dev, *size, &params, &request)
        }
        KeyType::Ec(_) | KeyType::Rsa(_) => {
            let (spec, kind) = match &key_type {
                KeyType::Ec(c) => (KeySpec::Ec(c), KeyKind::Ec),
                KeyType::Rsa(bits) => (
                    KeySpec::Rsa {
                        bits: *bits,
                        public_exponent: vec![1, 0, 1],
                    },
                    KeyKind::Rsa,
                ),
                KeyType::Aes(_) => unreachable!("handled above"),
            };
            let mut params = KeyGenParams::new(spec, &serial);
            params.algorithms = card_list.clone();
            params.key_domain = request.key_domain;
            generate_pair_on_card(&mut dev, &params, kind, &request)
        }
    };
    bar.finish_and_clear();
    let key = made.doing(&format!("generate the {} key", key_type.describe()))?;
    let written = key.description_to_write();
    println!(
        "Generated {} key in key reference {} in {:.1} s: label {:?}, ID {}, algorithms {}{}{}",
        key_type.describe(),
        key.key_id,
        started.elapsed().as_secs_f64(),
        written.common.label,
        hex(&written.id),
        match (&written.alg_reference, extractable) {
            (None, false) => "any but WRAP".to_string(),
            (list, _) => list_names(list.as_deref()),
        },
        if a.domain != 0 {
            format!(", key domain {}", a.domain)
        } else {
            String::new()
        },
        if extractable { "" } else { ", not exportable" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_types_and_algorithm_names() {
        assert!(matches!(KeyType::parse("ec:P-256"), Ok(KeyType::Ec(c)) if c.name == "secp256r1"));
        assert!(matches!(KeyType::parse("RSA:4096"), Ok(KeyType::Rsa(4096))));
        assert!(matches!(
            KeyType::parse("aes:192"),
            Ok(KeyType::Aes(AesKeySize::Aes192))
        ));
        assert!(KeyType::parse("aes:64").is_err());
        assert!(KeyType::parse("ec:nocurve").is_err());
        assert!(KeyType::parse("dsa:1024").is_err());
        assert_eq!(
            parse_algorithms("ecdsa-sha256,WRAP").unwrap(),
            vec![0x73, 0x92]
        );
        assert_eq!(parse_algorithms("73 18").unwrap(), vec![0x18, 0x73]);
        assert!(parse_algorithms("ECDSA-MD5").is_err());
    }
}
