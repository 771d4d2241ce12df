//! Keys for the crypto helper: [`KeyInfo`] (what an operation needs to know about the key
//! behind a handle) and adding keys it created on the card ([`NewKey`], [`write_key_files`],
//! [`add_card_key`]). See the CONTRACT in `token/mod.rs`.

use cryptoki_sys::*;

use super::build;
use super::key_meta::{self, KeyMeta};
use super::load;
use super::model::{Body, Identity, PublicInfo, PublicKind};
use crate::card::curves::Curve;
use crate::card::pkcs15::KeyUsage;
use crate::card::prkd::{KeyDescription, KeyKind};
use crate::card::{self, Device, Fid};
use crate::token::error::{Error, Result};
use crate::token::session::SessionRef;

/// What an operation needs to know about a key object.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub handle: CK_OBJECT_HANDLE,
    pub class: CK_OBJECT_CLASS,
    pub key_type: CK_KEY_TYPE,
    /// The card's key id (CCxx); `None` for session public keys and the DKEK object.
    pub key_id: Option<u8>,
    /// The virtual DKEK secret-key object.
    pub dkek: bool,
    /// RSA modulus bits, EC field bits, AES key bits.
    pub bits: u16,
    pub curve: Option<&'static Curve>,
    /// The public key, when known (RSA/EC keys with a CExx, public key objects).
    pub public: Option<PublicInfo>,
    /// PKCS#15 usage of the key (for a public key: of its private key, or as created).
    pub usage: KeyUsage,
    /// CKA_ALLOWED_MECHANISMS; `None` = unrestricted.
    pub allowed_mechanisms: Option<Vec<CK_MECHANISM_TYPE>>,
    pub meta: KeyMeta,
    /// The PKCS#15 description (C4xx) of a card key.
    pub description: Option<KeyDescription>,
    pub label: String,
    pub id: Vec<u8>,
    /// The DKEK's key check value.
    pub kcv: Option<[u8; 8]>,
    /// The boolean usage attributes that are true (see [`KeyInfo::permits`]).
    pub flags: Vec<CK_ATTRIBUTE_TYPE>,
}

impl KeyInfo {
    /// Whether the key's usage allows the operation named by a boolean attribute
    /// (CKA_SIGN, CKA_VERIFY, CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE,
    /// CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER), as C_GetAttributeValue reports it.
    pub fn permits(&self, attribute: CK_ATTRIBUTE_TYPE) -> bool {
        self.flags.contains(&attribute)
    }

    /// Whether a mechanism is allowed by CKA_ALLOWED_MECHANISMS.
    pub fn allows_mechanism(&self, m: CK_MECHANISM_TYPE) -> bool {
        self.allowed_mechanisms
            .as_ref()
            .is_none_or(|list| list.contains(&m))
    }
}

/// A key the crypto helper made on the card (GENERATE, UNWRAP, DERIVE).
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key_id: u8,
    /// The C4xx content; build it with `KeyDescription::opensc` so OpenSC sees the key.
    pub description: KeyDescription,
    pub meta: KeyMeta,
    /// The CExx content the card wrote (the CV request of GENERATE ASYMMETRIC KEY PAIR), when
    /// known: the public key object is made from it without reading it back.
    pub public_file: Option<Vec<u8>>,
}

impl NewKey {
    /// The description as written: a restricted key's CKA_ALLOWED_MECHANISMS goes into its
    /// algReference (see `restriction.rs`) unless the caller set one.
    pub fn description_to_write(&self) -> KeyDescription {
        let mut d = self.description.clone();
        if d.alg_reference.is_none() {
            d.alg_reference = self
                .meta
                .allowed_mechanisms
                .as_deref()
                .map(|m| super::restriction::to_alg_reference(m, self.meta.extractable));
        }
        d
    }
}

/// The objects of a new key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHandles {
    pub private: CK_OBJECT_HANDLE,
    pub public: Option<CK_OBJECT_HANDLE>,
}

/// Writes a new key's host files (inside the caller's `with_card`): the description C4xx and
/// the metadata CBxx (written when not default, deleted otherwise so no stale file applies).
pub fn write_key_files(dev: &mut Device, key: &NewKey) -> card::Result<()> {
    dev.write_file(Fid::prkd(key.key_id), &key.description_to_write().encode())?;
    let meta = key_meta::fid(key.key_id);
    if key.meta.is_default() {
        dev.delete_file_if_exists(meta)?;
    } else {
        dev.write_file(meta, &key.meta.encode())?;
    }
    Ok(())
}

/// Deletes the descriptions (C4xx) and metadata (CBxx) of key references that hold no key
/// (CCxx): what a C_UnwrapKey cut before the card acted leaves (`wrap::unwrap::import_to_card`
/// writes them before UNWRAP KEY). Nothing else leaves them: deleting a key removes its
/// description first, and OpenSC writes a description after the key. Certificates (CExx) stay:
/// a destroyed key's certificate is an object of its own. The cached file list only says whether
/// to look; the decision is taken on a fresh ENUMERATE inside the card transaction, so another
/// process's import in progress is never touched. Called with the user logged in; best effort.
pub fn clear_ghost_descriptions(token: &crate::token::token_state::Token) {
    let ghost = |fids: &std::collections::BTreeSet<Fid>, f: &Fid| {
        f.prefix() == crate::card::fid::prefix::PRKD
            && f.id() != 0
            && !fids.contains(&Fid::key(f.id()))
    };
    let suspected = {
        let st = token.objects.read();
        st.fids
            .as_ref()
            .is_some_and(|fids| fids.iter().any(|f| ghost(fids, f)))
    };
    if !suspected {
        return;
    }
    let cleared = token.with_card(crate::token::card_error::CardOp::Write, |dev| {
        let fids: std::collections::BTreeSet<Fid> = dev.enumerate()?.into_iter().collect();
        let ghosts: Vec<u8> = fids
            .iter()
            .filter(|f| ghost(&fids, f))
            .map(|f| f.id())
            .collect();
        for id in &ghosts {
            dev.delete_file_if_exists(Fid::prkd(*id))?;
            dev.delete_file_if_exists(key_meta::fid(*id))?;
        }
        Ok(ghosts)
    });
    match cleared {
        Ok(ghosts) => {
            let mut st = token.objects.write();
            for id in ghosts {
                log::info!("key reference {id}: description without key (a cut import) deleted");
                st.note_written(Fid::prkd(id), None);
                st.note_written(key_meta::fid(id), None);
            }
        }
        Err(e) => log::warn!("deleting descriptions without key failed ({e:?}); retried later"),
    }
}

/// Writes the default description of keys shown without one (`build.rs`: a CCxx whose C4xx
/// was never written, e.g. a key generation interrupted after GENERATE), so that OpenSC and other
/// processes see them too. Called once the user is logged in (writing needs the PIN); best
/// effort: a failure is logged and retried at the next login.
pub fn finish_orphan_keys(token: &crate::token::token_state::Token) {
    let pending: Vec<(u8, Vec<u8>)> = {
        let st = token.objects.read();
        st.objects
            .values()
            .filter_map(|o| match (&o.identity, &o.body) {
                (Identity::Key(id), Body::Key(k)) if !st.has_file(Fid::prkd(*id)) => {
                    Some((*id, k.desc.encode()))
                }
                _ => None,
            })
            .collect()
    };
    if pending.is_empty() {
        return;
    }
    let written = token.with_card(crate::token::card_error::CardOp::Write, |dev| {
        for (id, d) in &pending {
            dev.write_file(Fid::prkd(*id), d)?;
        }
        Ok(())
    });
    match written {
        Ok(()) => {
            let mut st = token.objects.write();
            for (id, d) in pending {
                log::info!("key CC{id:02X}: default description written to C4{id:02X}");
                st.note_written(Fid::prkd(id), Some(d));
            }
        }
        Err(e) => {
            log::warn!("writing default key descriptions failed ({e:?}); retried at the next login")
        }
    }
}

/// Puts a new card key's objects into the cache (after `write_key_files`).
pub fn add_card_key(s: &SessionRef, key: NewKey) -> Result<KeyHandles> {
    let token = s.token();
    let id = key.key_id;
    let mut st = token.objects.write();
    // The key object itself is never readable; only its presence in the list matters.
    if let Some(fids) = &mut st.fids {
        fids.insert(Fid::key(id));
    }
    st.note_written(Fid::prkd(id), Some(key.description_to_write().encode()));
    let meta = (!key.meta.is_default()).then(|| key.meta.encode());
    st.note_written(key_meta::fid(id), meta);
    let ce = Fid::ee_certificate(id);
    match key.public_file {
        Some(c) => st.note_written(ce, Some(c)),
        None if key.description.kind == KeyKind::Aes => st.note_written(ce, None),
        None => {}
    }
    build::build_key(&mut st, token, id);
    let private = st
        .by_identity(Identity::Key(id))
        .map(|o| o.handle)
        .ok_or(Error::GeneralError)?;
    let public = st.by_identity(Identity::PublicKey(id)).map(|o| o.handle);
    Ok(KeyHandles { private, public })
}

/// The key behind a handle (loading its public part first if needed).
pub fn key_info(s: &SessionRef, handle: CK_OBJECT_HANDLE) -> Result<KeyInfo> {
    key_info_with(s, handle, true)
}

/// The key behind a handle as far as its description tells (no CExx read): enough to sign
/// (key id, usage, size, algorithm list), which saves an APDU per key and process. `public`
/// and `curve` are then `None` unless the CExx was read before.
pub fn key_info_for_signing(s: &SessionRef, handle: CK_OBJECT_HANDLE) -> Result<KeyInfo> {
    key_info_with(s, handle, false)
}

fn key_info_with(s: &SessionRef, handle: CK_OBJECT_HANDLE, public: bool) -> Result<KeyInfo> {
    let token = s.token();
    let obj = super::key_object(s, handle)?;
    let obj = match &obj.body {
        Body::Key(k) if public && k.public.is_none() => {
            load::load_public(token, &[k.key_id])?;
            super::key_object(s, handle)?
        }
        _ => obj,
    };
    let flag_attrs = [
        CKA_SIGN,
        CKA_VERIFY,
        CKA_ENCRYPT,
        CKA_DECRYPT,
        CKA_WRAP,
        CKA_UNWRAP,
        CKA_DERIVE,
        CKA_SIGN_RECOVER,
        CKA_VERIFY_RECOVER,
    ];
    let flags = flag_attrs
        .into_iter()
        .filter(|&a| {
            matches!(super::values::get(&obj, a), crate::token::api::AttributeValue::Value(v) if v == [CK_TRUE])
        })
        .collect();
    let curve_of = |p: &Option<PublicInfo>| match p.as_ref().map(|p| &p.kind) {
        Some(PublicKind::Ec { curve, .. }) => *curve,
        _ => None,
    };
    let info = match &obj.body {
        Body::Key(k) => {
            let public = k.public_part().map(|p| p.info.clone());
            KeyInfo {
                handle,
                class: k.class(),
                key_type: k.key_type(),
                key_id: Some(k.key_id),
                dkek: false,
                bits: public
                    .as_ref()
                    .map(|p| p.bits())
                    .filter(|&b| b != 0)
                    .unwrap_or(k.desc.size_bits),
                curve: curve_of(&public),
                public,
                usage: k.desc.usage,
                allowed_mechanisms: k.meta.allowed_mechanisms.clone(),
                meta: k.meta.clone(),
                description: Some(k.desc.clone()),
                label: k.desc.common.label.clone(),
                id: k.desc.id.clone(),
                kcv: None,
                flags,
            }
        }
        Body::PublicKey(p) => KeyInfo {
            handle,
            class: CKO_PUBLIC_KEY,
            key_type: p.info.key_type(),
            key_id: p.key_id,
            dkek: false,
            bits: p.info.bits(),
            curve: curve_of(&Some(p.info.clone())),
            public: Some(p.info.clone()),
            usage: p.usage,
            allowed_mechanisms: p.meta.allowed_mechanisms.clone(),
            meta: p.meta.clone(),
            description: None,
            label: p.label.clone(),
            id: p.id.clone(),
            kcv: None,
            flags,
        },
        Body::Dkek(d) => KeyInfo {
            handle,
            class: CKO_SECRET_KEY,
            key_type: CKK_GENERIC_SECRET,
            key_id: None,
            dkek: true,
            bits: 256,
            curve: None,
            public: None,
            usage: KeyUsage(KeyUsage::WRAP | KeyUsage::UNWRAP),
            allowed_mechanisms: None,
            meta: KeyMeta {
                local: false,
                ..KeyMeta::default()
            },
            description: None,
            label: d.label(),
            id: d.kcv.to_vec(),
            kcv: Some(d.kcv),
            flags,
        },
        Body::SessionSecret(k) => KeyInfo {
            handle,
            class: CKO_SECRET_KEY,
            key_type: k.key_type,
            key_id: None,
            dkek: false,
            bits: u16::try_from(k.value.len() * 8).unwrap_or(u16::MAX),
            curve: None,
            public: None,
            usage: KeyUsage(0),
            allowed_mechanisms: None,
            meta: KeyMeta {
                local: false,
                extractable: k.extractable,
                ..KeyMeta::default()
            },
            description: None,
            label: k.label.clone(),
            id: k.id.clone(),
            kcv: None,
            flags,
        },
        _ => return Err(Error::KeyHandleInvalid),
    };
    Ok(info)
}
