//! `import`: a private key and its certificate from PKCS#12 (OpenSSL 3's PBES2/AES with an
//! HMAC-SHA256 MAC, and the legacy forms p12-keystore reads), PKCS#8 (plain or encrypted) or a
//! traditional RSA/EC key (DER or PEM; see `key_formats.rs`), onto the
//! device through a key blob encoded with the DKEK held by the tool (share files), then UNWRAP
//! KEY and the key's description (C4xx) and certificate (CExx).
//!
//! The key is parsed by the card layer (`card::private_key`, shared with the module's import)
//! and everything is checked before the card is touched; a failed write after UNWRAP removes
//! the key again.

use schsm_pkcs11::card::blob::{self, BlobHeader, BlobKey};
use schsm_pkcs11::card::pkcs15::KeyUsage;
use schsm_pkcs11::card::private_key;
use schsm_pkcs11::card::prkd::{KeyDescription, KeyKind};
use schsm_pkcs11::card::{Device, Fid, SecretBytes};
use zeroize::Zeroizing;

use crate::args::{Global, ImportArgs};
use crate::domains;
use crate::key_formats::{self, KeyFormat, CONVERT_HINT};
use crate::keys::{unwrap_with_files, write_module_meta};
use crate::output::{explain, hex, parse_hex, Doing, Failure, Outcome};
use crate::{open_logged_in, secrets};

/// What an input file holds.
struct Input {
    pkcs8: Zeroizing<Vec<u8>>,
    certificate: Option<Vec<u8>>,
    name: Option<String>,
}

/// OpenSSL's legacy PEM encryption: a key derived with one MD5 round, not read.
const LEGACY_PEM_ENCRYPTION: &str = "Proc-Type: 4,ENCRYPTED";

/// PEM blocks of a file: (label, DER).
fn pem_blocks(text: &str) -> Outcome<Vec<(String, Zeroizing<Vec<u8>>)>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let label_end = block[11..]
            .find("-----")
            .map(|i| i + 11)
            .ok_or_else(|| Failure::new("damaged PEM"))?;
        let label = &block[11..label_end];
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or_else(|| Failure::new(format!("PEM block {label} has no END line")))?
            + end_marker.len();
        if block[..end].contains(LEGACY_PEM_ENCRYPTION) {
            return Err(Failure::new(format!(
                "PEM \"{label}\" uses OpenSSL's legacy MD5-based encryption ({LEGACY_PEM_ENCRYPTION}), \
                 which is not read; {CONVERT_HINT}"
            )));
        }
        let (l, der) = pem_rfc7468::decode_vec(&block.as_bytes()[..end])
            .map_err(|e| Failure::new(format!("damaged PEM block {label}: {e}")))?;
        out.push((l.to_string(), Zeroizing::new(der)));
        rest = &block[end..];
    }
    Ok(out)
}

/// The key (in whichever format the PEM names) and the first certificate of a PEM file.
fn from_pem(text: &str, password: impl FnOnce() -> Outcome<SecretBytes>) -> Outcome<Input> {
    let mut key = None;
    let mut certificate = None;
    for (label, der) in pem_blocks(text)? {
        if let Some(format) = KeyFormat::from_pem_label(&label) {
            key.get_or_insert((format, der));
        } else if label == "CERTIFICATE" && certificate.is_none() {
            certificate = Some(der.to_vec());
        }
    }
    let (format, der) = key.ok_or_else(|| {
        Failure::new(
            "the PEM file has no private key (\"PRIVATE KEY\", \"ENCRYPTED PRIVATE KEY\", \
             \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\")",
        )
    })?;
    Ok(Input {
        pkcs8: key_formats::to_pkcs8(format, &der, password)?,
        certificate,
        name: None,
    })
}

/// A PFX is `SEQUENCE { INTEGER 3, ... }`; PKCS#8 starts with INTEGER 0 or 1.
fn is_pkcs12(der: &[u8]) -> bool {
    use schsm_pkcs11::card::tlv::{parse_all, Tlv};
    Tlv::parse(der)
        .ok()
        .and_then(|(t, _)| {
            parse_all(t.value)
                .ok()
                .map(|p| p.first().map(|v| (v.tag, v.value.to_vec())))
        })
        .flatten()
        == Some((0x02, vec![3]))
}

/// The password of the input file (PKCS#12 or encrypted key): file, argv if insisted, prompt.
fn file_password(a: &ImportArgs) -> Outcome<SecretBytes> {
    match (&a.p12_password_file, &a.p12_password_insecure) {
        (Some(f), _) => secrets::read_secret_file(f, "key file password"),
        (None, Some(v)) => Ok(SecretBytes::from_slice(v.as_bytes())),
        (None, None) => secrets::prompt(
            &format!("Password of {}", a.file.display()),
            "--key-password-file FILE",
        ),
    }
}

fn from_pkcs12(a: &ImportArgs, der: &[u8]) -> Outcome<Input> {
    let password = file_password(a)?;
    let pw = Zeroizing::new(
        String::from_utf8(password.expose().to_vec())
            .map_err(|_| Failure::new("the PKCS#12 password is not UTF-8"))?,
    );
    let store =
        p12_keystore::KeyStore::from_pkcs12(der, &pw, p12_keystore::Pkcs12ImportPolicy::Relaxed)
            .map_err(|e| match e {
                p12_keystore::error::Error::MacError(_) => Failure::new(
                    "wrong PKCS#12 password (or a damaged file: the MAC does not verify)",
                ),
                e => Failure::new(format!("cannot read the PKCS#12 file: {e}")),
            })?;
    let (alias, chain) = store
        .private_key_chain()
        .ok_or_else(|| Failure::new("the PKCS#12 file holds no private key"))?;
    Ok(Input {
        pkcs8: Zeroizing::new(chain.key().as_der().to_vec()),
        certificate: chain.certs().first().map(|c| c.as_der().to_vec()),
        name: (!alias.is_empty()).then(|| alias.to_string()),
    })
}

fn read_input(a: &ImportArgs) -> Outcome<Input> {
    let bytes =
        Zeroizing::new(std::fs::read(&a.file).doing(&format!("read {}", a.file.display()))?);
    let mut input = match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN ") => from_pem(text, || file_password(a))?,
        _ if is_pkcs12(&bytes) => from_pkcs12(a, &bytes)?,
        _ => {
            // DER: PKCS#8 (plain or encrypted), PKCS#1 or SEC 1.
            let format = KeyFormat::sniff_der(&bytes).ok_or_else(|| {
                Failure::new(format!(
                    "{}: damaged, or not a private key (PKCS#12, PKCS#8, encrypted PKCS#8, \
                     PKCS#1 or SEC 1, in PEM or DER)",
                    a.file.display()
                ))
            })?;
            Input {
                pkcs8: key_formats::to_pkcs8(format, &bytes, || file_password(a))?,
                certificate: None,
                name: None,
            }
        }
    };
    if let Some(c) = &a.cert {
        let raw = std::fs::read(c).doing(&format!("read {}", c.display()))?;
        let der = match std::str::from_utf8(&raw) {
            Ok(t) if t.contains("-----BEGIN CERTIFICATE") => pem_blocks(t)?
                .into_iter()
                .find(|(l, _)| l == "CERTIFICATE")
                .map(|(_, d)| d.to_vec())
                .ok_or_else(|| Failure::new("no certificate in the PEM file"))?,
            _ => raw,
        };
        if der.first() != Some(&0x30) {
            return Err(Failure::new(format!(
                "{} is not an X.509 certificate",
                c.display()
            )));
        }
        input.certificate = Some(der);
    }
    Ok(input)
}

fn kind_of(key: &BlobKey) -> KeyKind {
    match key {
        BlobKey::Ec { .. } => KeyKind::Ec,
        BlobKey::Aes { .. } => KeyKind::Aes,
        _ => KeyKind::Rsa,
    }
}

/// The device can hold this key (size, curve), before anything is sent.
fn check_supported(dev: &Device, key: &BlobKey, bits: u16) -> Outcome {
    let p = dev.profile();
    let ok = match key {
        BlobKey::Ec { .. } => key.curve().is_some() && p.supports_ec_bits(bits),
        BlobKey::Rsa { .. } | BlobKey::RsaCrt { .. } => p.supports_rsa_bits(bits),
        BlobKey::Aes { .. } => p.aes,
    };
    if ok {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "firmware {} cannot hold this {:?} key of {bits} bits",
            p.version,
            kind_of(key)
        )))
    }
}

pub fn run(g: &Global, a: &ImportArgs) -> Outcome {
    let input = read_input(a)?;
    let key = private_key::from_pkcs8(&input.pkcs8)
        .map_err(|e| Failure::new(format!("{}: {}", a.file.display(), explain(&e))))?;
    let (bits, intrinsic_id) = key.facts();
    let cka_id = match &a.id {
        Some(h) => parse_hex(h).ok_or_else(|| Failure::new(format!("--id {h:?} is not hex")))?,
        None => intrinsic_id.unwrap_or_default(),
    };
    let label = a
        .label
        .clone()
        .or(input.name.clone())
        .unwrap_or_else(|| "Imported key".to_string());
    let dkek = secrets::host_dkek(g, &a.dkek_share)?;
    let mut dev = open_logged_in(g)?;
    // The card unwraps the blob into the key domain whose DKEK has the blob's KCV.
    let complete = domains::require_complete(&mut dev)?;
    domains::require_share_kcv(&complete, &dkek.kcv())?;
    check_supported(&dev, &key, bits)?;
    let id = match a.key_ref {
        Some(r) if r == 0 || dev.key_ids().doing("list the keys")?.contains(&r) => {
            return Err(Failure::new(format!("key reference {r} is not free")))
        }
        Some(r) => r,
        None => dev.free_key_id().doing("find a free key reference")?,
    };
    // No algorithm list: the key is unrestricted and exportable (also on firmware 3.1).
    let header =
        BlobHeader::new(key.key_type(), Vec::new()).map_err(|e| Failure::new(explain(&e)))?;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| Failure::new(format!("OS random: {e}")))?;
    let encoded = blob::encode(&dkek, &header, &key, &random).doing("encode the key blob")?;
    let kind = kind_of(&key);
    let usage = match kind {
        KeyKind::Ec => KeyUsage::SIGN | KeyUsage::DERIVE,
        _ => KeyUsage::SIGN | KeyUsage::DECRYPT,
    };
    let description = KeyDescription::opensc(kind, &label, &cka_id, usage, id, bits);
    unwrap_with_files(&mut dev, id, &encoded, |dev| {
        dev.write_file(Fid::prkd(id), &description.encode())?;
        match &input.certificate {
            Some(c) => dev.write_file(Fid::ee_certificate(id), c)?,
            None => {
                dev.delete_file_if_exists(Fid::ee_certificate(id))?;
            }
        }
        write_module_meta(dev, id, None)
    })?;
    println!(
        "Imported {kind:?} key of {bits} bits into key reference {id}: label {label:?}, ID {}{}",
        hex(&cka_id),
        if input.certificate.is_some() {
            ", with certificate"
        } else {
            ""
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_and_pfx_detection() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n\
                   -----BEGIN PRIVATE KEY-----\nBAUG\n-----END PRIVATE KEY-----\n";
        let blocks = pem_blocks(pem).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[1].1.as_slice(), &[4, 5, 6]);
        let input = from_pem(pem, || unreachable!()).unwrap();
        assert_eq!(input.certificate.unwrap(), vec![1, 2, 3]);
        let damaged = "-----BEGIN EC PRIVATE KEY-----\nAQID\n-----END EC PRIVATE KEY-----\n";
        assert!(from_pem(damaged, || unreachable!()).is_err());
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                      DEK-Info: AES-256-CBC,00\n\nAQID\n-----END RSA PRIVATE KEY-----\n";
        let err = from_pem(legacy, || unreachable!()).err().unwrap();
        assert!(err.message.contains("legacy"), "{err}");
        assert!(is_pkcs12(&[0x30, 0x03, 0x02, 0x01, 0x03]));
        assert!(!is_pkcs12(&[0x30, 0x03, 0x02, 0x01, 0x00]));
    }
}
