//! C_UnwrapKey(CKM_SCHSM_DKEK_WRAP): an sc-hsm-tool envelope or a bare key blob onto the card.
//!
//! Everything that can be checked on the host is checked before the card sees a byte, so a
//! refused unwrap changes nothing on the card: the envelope's shape, the blob's shape, its KCV
//! against the device's DKEK, the template; with the DKEK held by the module also the MAC.
//!
//! Bug #168 (firmware 3.1 answers 6F00 to a blob with an algorithm list): the blob is re-encoded
//! without its list when the module holds the DKEK, and the list goes into the new key's
//! algReference (module-enforced); without the DKEK the unwrap fails with CKR_FUNCTION_FAILED
//! (the blob is valid, the device cannot take it: not CKR_WRAPPED_KEY_INVALID, which would
//! send the user looking for a corrupt file) and an error log saying what to do.
//!
//! After UNWRAP KEY the description (C4xx), certificate (CExx) and metadata are written in the
//! same card transaction; if any write fails, everything written, the key included, is removed.

use cryptoki_sys::*;

use crate::card::blob::{key_type, BlobKey, KeyBlob};
use crate::card::firmware::{unwrap_needs_reencoding, BUG_168_ADVICE};
use crate::card::pkcs15::KeyUsage;
use crate::card::prkd::{KeyDescription, KeyKind};
use crate::card::wrapped_file::WrappedKeyFile;
use crate::card::{self, Device, Fid};
use crate::token::api::Attribute;
use crate::token::card_error::CardOp;
use crate::token::dkek_holder;
use crate::token::error::{Error, Result};
use crate::token::keygen::template::{self, DEFAULT_PRIVATE_KEY_LABEL, DEFAULT_SECRET_KEY_LABEL};
use crate::token::objects::attributes::{find, find_bool, find_text, find_ulong};
use crate::token::objects::key_meta;
use crate::token::objects::restriction::from_alg_reference;
use crate::token::objects::{write_key_files, KeyInfo, KeyMeta, NewKey};
use crate::token::session::SessionRef;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Blob, description and certificate from an envelope (`30 ...`) or a bare blob.
fn parse_input(wrapped: &[u8]) -> Result<WrappedKeyFile> {
    if wrapped.is_empty() {
        return Err(Error::WrappedKeyLenRange);
    }
    if wrapped[0] == 0x30 {
        return WrappedKeyFile::decode(wrapped).map_err(|e| {
            log::info!("C_UnwrapKey: not a wrapped-key envelope: {e}");
            Error::WrappedKeyInvalid
        });
    }
    Ok(WrappedKeyFile {
        blob: wrapped.to_vec(),
        prkd: None,
        certificate: None,
    })
}

pub fn kind_of(blob_type: u8) -> Result<KeyKind> {
    Ok(match blob_type {
        key_type::RSA | key_type::RSA_CRT => KeyKind::Rsa,
        key_type::EC => KeyKind::Ec,
        key_type::AES => KeyKind::Aes,
        t => {
            log::info!("C_UnwrapKey: key blob of unknown type {t:#04x}");
            return Err(Error::WrappedKeyInvalid);
        }
    })
}

/// CKA_CLASS / CKA_KEY_TYPE / CKA_TOKEN of the template must fit the key.
pub fn check_template(template: &[Attribute], kind: KeyKind) -> Result<()> {
    let (class, key_type) = match kind {
        KeyKind::Rsa => (CKO_PRIVATE_KEY, CKK_RSA),
        KeyKind::Ec => (CKO_PRIVATE_KEY, CKK_EC),
        KeyKind::Aes => (CKO_SECRET_KEY, CKK_AES),
    };
    let bad = |what: &str| {
        log::info!("C_UnwrapKey: template {what} does not fit the wrapped {kind:?} key");
        Err(Error::TemplateInconsistent)
    };
    if find_ulong(template, CKA_CLASS).is_some_and(|c| c != class) {
        return bad("CKA_CLASS");
    }
    if find_ulong(template, CKA_KEY_TYPE).is_some_and(|t| t != key_type) {
        return bad("CKA_KEY_TYPE");
    }
    if find_bool(template, CKA_TOKEN) == Some(false) {
        return bad("CKA_TOKEN false (keys on the card are token objects)");
    }
    Ok(())
}

pub fn unwrap_envelope(
    s: &SessionRef,
    dkek: &KeyInfo,
    wrapped: &[u8],
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    let file = parse_input(wrapped)?;
    let blob = KeyBlob::parse(&file.blob).map_err(|e| {
        log::info!("C_UnwrapKey: {e}");
        if matches!(e, card::Error::Malformed(ref m) if m.contains("truncated")) {
            Error::WrappedKeyLenRange
        } else {
            Error::WrappedKeyInvalid
        }
    })?;
    let device_kcv = dkek.kcv.ok_or(Error::GeneralError)?;
    if blob.header.kcv != device_kcv {
        log::info!(
            "C_UnwrapKey: blob made under another DKEK (KCV {}, device KCV {})",
            hex(&blob.header.kcv),
            hex(&device_kcv)
        );
        return Err(Error::WrappedKeyInvalid);
    }
    let kind = kind_of(blob.header.key_type)?;
    check_template(template, kind)?;
    let description = match file.key_description() {
        Some(Ok(d)) if d.kind == kind => Some(d),
        Some(Ok(d)) => {
            log::info!(
                "C_UnwrapKey: the envelope's description is for a {:?} key, the blob holds {kind:?}; \
                 description ignored",
                d.kind
            );
            None
        }
        Some(Err(e)) => {
            log::info!("C_UnwrapKey: the envelope's description is unreadable ({e}); ignored");
            None
        }
        None => None,
    };

    let profile = s.profile();
    let list = blob.header.algorithms.clone();
    let needs_reencoding = unwrap_needs_reencoding(&profile, &list);
    let host = match dkek_holder::host_dkek(s.config()) {
        Ok(h) => h,
        Err(why) => {
            log::error!("the DKEK shares of the configuration cannot be used: {why}");
            None
        }
    };
    let host = host.filter(|d| {
        let same = d.kcv() == device_kcv;
        if !same {
            log::warn!(
                "the configured DKEK shares give KCV {}, the device's DKEK is {}: not used",
                hex(&d.kcv()),
                hex(&device_kcv)
            );
        }
        same
    });
    if needs_reencoding && host.is_none() {
        log::error!(
            "C_UnwrapKey: not sent to the card: the blob carries the algorithm list {} and the \
             device runs firmware {}: {BUG_168_ADVICE}",
            hex(&list),
            profile.version
        );
        return Err(Error::FunctionFailed);
    }
    let clear = match &host {
        Some(d) => Some(blob.decrypt(d).map_err(|e| {
            log::info!("C_UnwrapKey: the blob does not verify under the DKEK: {e}");
            Error::WrappedKeyInvalid
        })?),
        None => None,
    };
    let to_send = match (&host, needs_reencoding) {
        (Some(d), true) => {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(|_| Error::FunctionFailed)?;
            let out = blob.reencode(d, &[], &random).map_err(|e| {
                log::warn!("C_UnwrapKey: re-encoding failed: {e}");
                Error::WrappedKeyInvalid
            })?;
            log::info!(
                "C_UnwrapKey: firmware {} (bug #168): blob re-encoded without its algorithm list \
                 {}; the restriction is kept in the key's description and enforced by the module",
                profile.version,
                hex(&list)
            );
            out
        }
        _ => blob.as_bytes().to_vec(),
    };
    let incoming = Incoming {
        blob: to_send,
        kind,
        list,
        key: clear.as_ref(),
        cipher_len: file.blob.len(),
        description,
        certificate: file.certificate.clone(),
        meta: None,
    };
    import_to_card(s, incoming, template)
}

/// A key on its way onto the card.
pub struct Incoming<'a> {
    /// What UNWRAP KEY gets.
    pub blob: Vec<u8>,
    pub kind: KeyKind,
    /// The algorithm list of the blob as it was made (the restriction), empty = none.
    pub list: Vec<u8>,
    /// The clear key, when the module holds the DKEK.
    pub key: Option<&'a BlobKey>,
    /// Length of the original blob (key size guess when nothing better is known).
    pub cipher_len: usize,
    pub description: Option<KeyDescription>,
    pub certificate: Option<Vec<u8>>,
    /// The key's metadata when the caller knows it exactly (import: the template's
    /// CKA_ALLOWED_MECHANISMS); else it is derived from the restriction.
    pub meta: Option<KeyMeta>,
}

/// Key size from the blob length alone (no DKEK on the host, no description): the card writes
/// fixed-width components, so the padded plaintext length says the size.
fn size_guess(kind: KeyKind, blob_len: usize, list_len: usize) -> u16 {
    let header = if kind == KeyKind::Aes { 25 } else { 27 } + list_len;
    let ct = blob_len.saturating_sub(header + 16);
    let padded = |plain: usize| (plain / 16 + 1) * 16;
    match kind {
        // random 8, size 2, A B P N D (2 + f each), G Q (2 + 2f + 1 each)
        KeyKind::Ec => [
            (24, 192),
            (28, 224),
            (32, 256),
            (40, 320),
            (48, 384),
            (64, 512),
            (66, 521),
        ]
        .into_iter()
        .find(|(f, _)| padded(26 + 9 * f) == ct)
        .map_or(256, |(_, bits)| bits),
        // CRT: 5 halves, N, E (3 bytes): 27 + 3.5 k; plain: D, N, E: 19 + 2 k
        KeyKind::Rsa => (4..=16)
            .map(|i| i * 256)
            .find(|bits| {
                let k = bits / 8;
                padded(27 + 7 * k / 2) == ct || padded(19 + 2 * k) == ct
            })
            .map_or(2048, |b| b as u16),
        KeyKind::Aes if ct <= 32 => 128,
        KeyKind::Aes => 256,
    }
}

/// The host files of a free key reference, then UNWRAP KEY into it; rolled back on failure.
pub fn import_to_card(
    s: &SessionRef,
    k: Incoming,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    let (bits, intrinsic) = match k.key {
        Some(key) => key.facts(),
        None => (
            k.description
                .as_ref()
                .map(|d| d.size_bits)
                .unwrap_or_else(|| size_guess(k.kind, k.cipher_len, k.list.len())),
            None,
        ),
    };
    let alg_reference = k
        .description
        .as_ref()
        .and_then(|d| d.alg_reference.clone())
        .or_else(|| (!k.list.is_empty()).then(|| k.list.clone()));
    let meta = k.meta.clone().unwrap_or_else(|| KeyMeta {
        allowed_mechanisms: alg_reference.as_deref().map(from_alg_reference),
        extractable: alg_reference
            .as_ref()
            .is_none_or(|l| l.contains(&crate::card::algorithm::id::WRAP)),
        local: false,
    });
    let default_usage = match k.kind {
        KeyKind::Ec => KeyUsage::SIGN | KeyUsage::DERIVE,
        KeyKind::Rsa => KeyUsage::SIGN | KeyUsage::DECRYPT,
        KeyKind::Aes => KeyUsage::ENCRYPT | KeyUsage::DECRYPT | KeyUsage::SIGN | KeyUsage::VERIFY,
    };
    let label = find_text(template, CKA_LABEL);
    let cka_id = find(template, CKA_ID).map(<[u8]>::to_vec);
    let make = |key_id: u8| -> NewKey {
        let mut d = match &k.description {
            Some(d) => d.clone(),
            None => {
                let default_label = match k.kind {
                    KeyKind::Aes => DEFAULT_SECRET_KEY_LABEL,
                    _ => DEFAULT_PRIVATE_KEY_LABEL,
                };
                let id = intrinsic.clone().unwrap_or_else(|| vec![key_id]);
                KeyDescription::opensc(
                    k.kind,
                    default_label,
                    &id,
                    template::usage(template, default_usage),
                    key_id,
                    bits,
                )
            }
        };
        if let Some(l) = &label {
            d.common.label = l.clone();
        }
        if let Some(i) = &cka_id {
            d.id = i.clone();
        }
        d.key_reference = Some(key_id);
        d.alg_reference = alg_reference.clone();
        NewKey {
            key_id,
            description: d,
            meta: meta.clone(),
            public_file: k.certificate.clone(),
        }
    };
    let blob = &k.blob;
    let certificate = k.certificate.clone();
    // The files first, then UNWRAP KEY: when the card is pulled (or the process dies) after the
    // card imported the key but before its answer came, the key is complete on the card. Nothing
    // on the card would tell the type of a key without description (unlike a generated key,
    // whose CV request the card answers with). The other cut, before the card acted, leaves a
    // description without key: not a key for our module, removed at the next login
    // (`objects::keys::clear_ghost_descriptions`), and overwritten by the next key at this
    // reference anyway.
    let new_key = s.with_card(CardOp::Unwrap, |dev| {
        let id = dev.free_key_id()?;
        let new_key = make(id);
        let done = write_files(dev, &new_key, certificate.as_deref())
            .and_then(|()| dev.unwrap_key(id, blob));
        if let Err(e) = done {
            log::warn!("C_UnwrapKey: key {id} not imported ({e}); its files removed");
            remove_key(dev, id);
            return Err(e);
        }
        Ok(new_key)
    })?;
    let id = new_key.key_id;
    let label = new_key.description.common.label.clone();
    let handles = s.add_card_key(new_key)?;
    log::info!(
        "C_UnwrapKey: {:?} key ({bits} bits) unwrapped into key reference {id}, label {label:?}, \
         restriction {}",
        k.kind,
        alg_reference.as_deref().map_or("none".to_string(), hex)
    );
    Ok(handles.private)
}

fn write_files(dev: &mut Device, key: &NewKey, certificate: Option<&[u8]>) -> card::Result<()> {
    write_key_files(dev, key)?;
    let ce = Fid::ee_certificate(key.key_id);
    match certificate {
        Some(c) => dev.write_file(ce, c),
        // A stale CExx of an earlier key under this reference must not describe this one.
        None => dev.delete_file_if_exists(ce).map(|_| ()),
    }
}

/// Best effort: the key and every host file of reference `id`.
pub fn remove_key(dev: &mut Device, id: u8) {
    for fid in [
        Fid::prkd(id),
        Fid::ee_certificate(id),
        key_meta::fid(id),
        Fid::key(id),
    ] {
        if let Err(e) = dev.delete_file_if_exists(fid) {
            log::warn!("rollback: could not delete {fid}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_from_blob_lengths() {
        // Real secp256k1 blob: 363 bytes, empty list.
        assert_eq!(size_guess(KeyKind::Ec, 363, 0), 256);
        assert_eq!(size_guess(KeyKind::Ec, 363 + 2, 2), 256);
        // P-521: 26 + 9·66 = 620 → 624 bytes of ciphertext.
        assert_eq!(size_guess(KeyKind::Ec, 27 + 624 + 16, 0), 521);
        // RSA-CRT 2048: 27 + 3.5·256 = 923 → 928.
        assert_eq!(size_guess(KeyKind::Rsa, 27 + 928 + 16, 0), 2048);
        assert_eq!(size_guess(KeyKind::Aes, 25 + 48 + 16, 0), 256);
        assert_eq!(size_guess(KeyKind::Aes, 25 + 32 + 16, 0), 128);
    }

    #[test]
    fn template_consistency() {
        let t = |k, v: CK_ULONG| Attribute {
            kind: k,
            value: v.to_ne_bytes().to_vec(),
        };
        assert!(check_template(&[t(CKA_CLASS, CKO_PRIVATE_KEY)], KeyKind::Ec).is_ok());
        assert_eq!(
            check_template(&[t(CKA_KEY_TYPE, CKK_RSA)], KeyKind::Ec),
            Err(Error::TemplateInconsistent)
        );
        assert_eq!(
            check_template(&[t(CKA_CLASS, CKO_PRIVATE_KEY)], KeyKind::Aes),
            Err(Error::TemplateInconsistent)
        );
        assert!(parse_input(&[]).is_err());
        assert_eq!(
            parse_input(&[0x30, 0x05, 0x04]).unwrap_err(),
            Error::WrappedKeyInvalid
        );
    }
}
