//! The keys on a device (what `list`, `status` and `backup` show) and `delete`.
//!
//! A key is a CCxx object; what the user knows it by — label, CKA_ID, type, size, allowed
//! algorithms — is in its description C4xx (PKCS#15, written by the host), and its public key
//! in CExx (a CV request from generation, or an X.509 certificate).

use schsm_pkcs11::card::algorithm::id::WRAP;
use schsm_pkcs11::card::cvc::{CvRequest, PublicKey};
use schsm_pkcs11::card::prkd::{KeyDescription, KeyKind};
use schsm_pkcs11::card::{Device, Fid};
use schsm_pkcs11::token::objects::key_meta::{self, KeyMeta};
use schsm_pkcs11::token::objects::restriction::from_alg_reference;

use crate::args::{DeleteArgs, Global};
use crate::output::{algorithm_list, hex, Doing, Failure, Outcome};
use crate::{log_in, open_device, secrets};

/// One key as the device describes it.
pub struct KeyEntry {
    pub key_ref: u8,
    pub description: Option<KeyDescription>,
    /// The content of CExx when present.
    pub certificate: Option<Vec<u8>>,
}

impl KeyEntry {
    pub fn kind(&self) -> &'static str {
        let from_cert = || match self.public_key() {
            Some(PublicKey::Rsa { .. }) => "RSA",
            Some(PublicKey::Ec { .. }) => "EC",
            None => "?",
        };
        match self.description.as_ref().map(|d| d.kind) {
            Some(KeyKind::Rsa) => "RSA",
            Some(KeyKind::Ec) => "EC",
            Some(KeyKind::Aes) => "AES",
            None => from_cert(),
        }
    }

    pub fn bits(&self) -> Option<u16> {
        self.description
            .as_ref()
            .map(|d| d.size_bits)
            .or_else(|| self.public_key().map(|p| p.bits()))
    }

    /// The description's label; a key without description (a key generation or unwrap cut
    /// before the host wrote it, or another tool's key) says so, since PKCS#11 modules show it
    /// only once the type is known and `delete` is how to free its reference.
    pub fn label(&self) -> &str {
        self.description
            .as_ref()
            .map_or("(no description)", |_| self.stored_label())
    }

    /// The description's label as stored ("" without description), for files.
    pub fn stored_label(&self) -> &str {
        self.description
            .as_ref()
            .map_or("", |d| d.common.label.as_str())
    }

    pub fn cka_id(&self) -> Vec<u8> {
        self.description
            .as_ref()
            .map_or(Vec::new(), |d| d.id.clone())
    }

    fn public_key(&self) -> Option<PublicKey> {
        let c = self.certificate.as_deref()?;
        (c.first() == Some(&0x67))
            .then(|| CvRequest::parse(c).ok())
            .flatten()
            .map(|r| r.public_key().clone())
    }

    fn certificate_kind(&self) -> &'static str {
        match self.certificate.as_deref().and_then(|c| c.first()) {
            Some(0x67) => "CV request",
            Some(0x30) => "X.509",
            Some(_) => "other",
            None => "-",
        }
    }
}

/// Every key with its description and certificate. Descriptions that do not decode are shown
/// as missing rather than failing the listing.
pub fn inventory(dev: &mut Device) -> Outcome<Vec<KeyEntry>> {
    let fids = dev.enumerate().doing("list the device's objects")?;
    let mut out = Vec::new();
    for f in fids.iter().filter(|f| f.is_key() && f.id() != 0) {
        let id = f.id();
        let prkd = if fids.contains(&Fid::prkd(id)) {
            dev.read_file_if_exists(Fid::prkd(id))
                .doing("read a key description")?
        } else {
            None
        };
        let certificate = if fids.contains(&Fid::ee_certificate(id)) {
            dev.read_file_if_exists(Fid::ee_certificate(id))
                .doing("read a key's certificate")?
        } else {
            None
        };
        out.push(KeyEntry {
            key_ref: id,
            description: prkd.and_then(|p| KeyDescription::decode(&p).ok()),
            certificate,
        });
    }
    Ok(out)
}

/// The key table of `list` and `status`.
pub fn print_table(keys: &[KeyEntry]) {
    if keys.is_empty() {
        println!("  (no keys)");
        return;
    }
    println!(
        "  {:>3}  {:<4} {:>5}  {:<24} {:<10}  {:<40}  Label",
        "Ref", "Type", "Size", "Algorithms", "Public", "ID"
    );
    for k in keys {
        let algs = algorithm_list(
            k.description
                .as_ref()
                .and_then(|d| d.alg_reference.as_deref()),
        );
        println!(
            "  {:>3}  {:<4} {:>5}  {:<24} {:<10}  {:<40}  {}",
            k.key_ref,
            k.kind(),
            k.bits().map_or("?".to_string(), |b| b.to_string()),
            algs,
            k.certificate_kind(),
            hex(&k.cka_id()),
            k.label()
        );
    }
}

pub fn list(g: &Global) -> Outcome {
    let mut dev = open_device(g)?;
    let keys = inventory(&mut dev)?;
    print_table(&keys);
    Ok(())
}

pub fn delete(g: &Global, a: &DeleteArgs) -> Outcome {
    if a.key_ref == 0 {
        return Err(Failure::new(
            "key reference 0 is the device key; it cannot be deleted",
        ));
    }
    let mut dev = open_device(g)?;
    let keys = inventory(&mut dev)?;
    let key = keys
        .iter()
        .find(|k| k.key_ref == a.key_ref)
        .ok_or_else(|| Failure::new(format!("there is no key {} on the device", a.key_ref)))?;
    let question = format!(
        "Delete key {} ({} {}, label {:?})? It cannot be recovered without a backup",
        key.key_ref,
        key.kind(),
        key.bits().unwrap_or(0),
        key.label()
    );
    if !secrets::confirm(g, &question)? {
        return Err(Failure::new("not deleted"));
    }
    let mut dev = log_in(dev, g)?;
    remove_key_files(&mut dev, a.key_ref).doing("delete the key")?;
    println!("Key {} deleted.", a.key_ref);
    Ok(())
}

/// Deletes a key and the files that describe it (the key last but one: a description without
/// key would show a ghost; a key without description still shows).
pub fn remove_key_files(dev: &mut Device, id: u8) -> schsm_pkcs11::card::Result<()> {
    dev.delete_file_if_exists(Fid::prkd(id))?;
    dev.delete_file_if_exists(Fid::ee_certificate(id))?;
    dev.delete_file_if_exists(key_meta::fid(id))?;
    dev.delete_file_if_exists(Fid::key(id))?;
    Ok(())
}

/// Puts a key blob onto the device at the free reference `id` the way the PKCS#11 module does:
/// the key's files first (`write_files`), then UNWRAP KEY, in one card transaction, so that a
/// cut after the card imported the key (card pulled, process killed) leaves it complete, not a
/// key nothing describes. On any failure everything at `id` is removed again.
pub fn unwrap_with_files(
    dev: &mut Device,
    id: u8,
    blob: &[u8],
    write_files: impl FnOnce(&mut Device) -> schsm_pkcs11::card::Result<()>,
) -> Outcome {
    let outcome = dev
        .transaction(|dev| {
            let done = write_files(dev)
                .map_err(|e| ("write the key's files", e))
                .and_then(|()| {
                    dev.unwrap_key(id, blob)
                        .map_err(|e| ("unwrap the key onto the device", e))
                });
            if done.is_err() {
                let _ = remove_key_files(dev, id);
            }
            Ok(done)
        })
        .doing("reserve the card")?;
    outcome.map_err(|(what, e)| {
        Failure::new(format!(
            "cannot {what}: {}; nothing was imported",
            crate::output::explain(&e)
        ))
    })
}

/// The PKCS#11 module's metadata file (CBxx) of a key that came from outside the device, as
/// its C_UnwrapKey writes it: not generated on the card (CKA_LOCAL false), the restriction from
/// the description's algReference, exportable unless a restriction leaves out WRAP.
pub fn write_module_meta(
    dev: &mut Device,
    id: u8,
    alg_reference: Option<&[u8]>,
) -> schsm_pkcs11::card::Result<()> {
    let meta = KeyMeta {
        allowed_mechanisms: alg_reference.map(from_alg_reference),
        extractable: alg_reference.is_none_or(|l| l.contains(&WRAP)),
        local: false,
    };
    dev.write_file(key_meta::fid(id), &meta.encode())
}
