//! Reading objects from the card, as late and as rarely as possible.
//!
//! - Nothing is read before someone asks: the first find (or handle lookup) ENUMERATEs (one
//!   APDU) and reads only the files its scope needs: key descriptions C4xx (and CBxx metadata
//!   when present) for key classes, CExx for public keys and certificates, C8xx + CAxx for CA
//!   certificates, C9xx for data objects. Data content (CDxx/CFxx) and CExx for a private key's
//!   public attributes are read when an attribute needs them.
//! - Every file is read at most once per insertion (cache in `ObjectStore::files`).
//! - Changes by other processes: the first C_FindObjectsInit of every session ENUMERATEs again
//!   ([`Refresh::Enumerate`]); files that disappeared take their objects with them, new files
//!   are read when a scope needs them. A file rewritten in place by another process (same FID,
//!   new label) is not noticed until the card is re-inserted.
//!
//! Locking: the card is used without any cache lock held; the cache is then updated under
//! its write lock (see `token/mod.rs`).

use std::collections::BTreeSet;
use std::sync::Arc;

use cryptoki_sys::*;

use super::build::{build, build_key, path_fid};
use super::dkek_objects;
use super::key_meta;
use super::model::*;
use super::store::ObjectStore;
use crate::card::cd_dcod::CertificateDescription;
use crate::card::fid::prefix;
use crate::card::{self, Device, Fid};
use crate::token::card_error::CardOp;
use crate::token::error::Result;
use crate::token::token_state::Token;

/// Which kinds of objects a caller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scope {
    pub keys: bool,
    pub public: bool,
    pub ca: bool,
    pub data: bool,
    /// The find cannot match the DKEK object (a secret key): do not ask the card for the
    /// DKEK status (one APDU saved for finds of private keys, public keys and certificates).
    pub skip_dkek: bool,
}

impl Scope {
    pub const ALL: Scope = Scope {
        keys: true,
        public: true,
        ca: true,
        data: true,
        skip_dkek: false,
    };

    /// The scope a find template can match (by CKA_CLASS; everything without one).
    pub fn for_class(class: Option<CK_OBJECT_CLASS>) -> Scope {
        let none = Scope::default();
        match class {
            None => Scope::ALL,
            Some(CKO_PRIVATE_KEY) => Scope {
                keys: true,
                skip_dkek: true,
                ..none
            },
            Some(CKO_SECRET_KEY) => Scope { keys: true, ..none },
            Some(CKO_PUBLIC_KEY) => Scope {
                keys: true,
                public: true,
                skip_dkek: true,
                ..none
            },
            Some(CKO_CERTIFICATE) => Scope {
                skip_dkek: true,
                ..Scope::ALL.without_data()
            },
            Some(CKO_DATA) => Scope { data: true, ..none },
            Some(_) => none,
        }
    }

    fn without_data(self) -> Scope {
        Scope {
            data: false,
            ..self
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Use the cached ENUMERATE if there is one.
    Cached,
    /// ENUMERATE again (first find of a session).
    Enumerate,
}

/// Makes sure every object of `scope` is in the store.
pub fn materialize(token: &Token, scope: Scope, refresh: Refresh) -> Result<()> {
    let (fids, known, dkek_checked) = {
        let st = token.objects.read();
        // Files whose content we have; files known to be absent are read again when a (new)
        // ENUMERATE lists them.
        let known: BTreeSet<Fid> = st
            .files
            .iter()
            .filter(|(_, c)| c.is_some())
            .map(|(f, _)| *f)
            .collect();
        (st.fids.clone(), known, st.dkek_checked)
    };
    let want_dkek = scope.keys && !scope.skip_dkek && !dkek_checked;
    let enumerate = fids.is_none() || refresh == Refresh::Enumerate;
    let (fids, read, dkek) = token.with_card(CardOp::Read, |dev| {
        let fids: BTreeSet<Fid> = match (&fids, enumerate) {
            (Some(f), false) => f.clone(),
            _ => dev.enumerate()?.into_iter().collect(),
        };
        let mut read = Vec::new();
        for fid in files_for(&fids, scope) {
            read_into(dev, fid, &known, &mut read)?;
        }
        if scope.ca {
            read_ca_files(dev, &fids, &known, &mut read)?;
        }
        let dkek = if want_dkek {
            Some(dkek_objects::probe(dev)?)
        } else {
            None
        };
        Ok((fids, read, dkek))
    })?;
    let mut st = token.objects.write();
    if enumerate {
        apply_enumeration(&mut st, fids);
    }
    for (fid, content) in read {
        st.files.insert(fid, content.map(Arc::new));
    }
    if let Some(statuses) = dkek {
        st.dkek_checked = true;
        dkek_objects::apply(&mut st, token, &statuses);
    }
    build(&mut st, token, scope);
    drop(st);
    // Keys found without description (a key generation or import cut after the card made the
    // key: card pulled, process killed) get theirs written as soon as the user is logged in. At
    // C_Login the keys are usually not listed yet, so it is done here too.
    if scope.keys && token.login_state() == crate::token::token_state::LoginState::User {
        super::finish_orphan_keys(token);
        super::clear_ghost_descriptions(token);
    }
    Ok(())
}

/// Reads `fid` unless cached (content or known absence).
fn read_into(
    dev: &mut Device,
    fid: Fid,
    known: &BTreeSet<Fid>,
    out: &mut Vec<(Fid, Option<Vec<u8>>)>,
) -> card::Result<()> {
    if known.contains(&fid) || out.iter().any(|(f, _)| *f == fid) {
        return Ok(());
    }
    out.push((fid, dev.read_file_if_exists(fid)?));
    Ok(())
}

/// C8xx descriptions and the CA certificate files they name.
fn read_ca_files(
    dev: &mut Device,
    fids: &BTreeSet<Fid>,
    known: &BTreeSet<Fid>,
    out: &mut Vec<(Fid, Option<Vec<u8>>)>,
) -> card::Result<()> {
    for fid in fids.iter().filter(|f| f.prefix() == prefix::CD) {
        read_into(dev, *fid, known, out)?;
    }
    let paths: Vec<Fid> = out
        .iter()
        .filter(|(f, _)| f.prefix() == prefix::CD)
        .filter_map(|(_, c)| c.as_deref())
        .filter_map(|c| CertificateDescription::decode(c).ok())
        .filter_map(|d| path_fid(&d.path))
        .collect();
    for fid in paths {
        read_into(dev, fid, known, out)?;
    }
    Ok(())
}

/// The files a scope needs, given the ENUMERATE list.
fn files_for(fids: &BTreeSet<Fid>, scope: Scope) -> Vec<Fid> {
    let mut out = Vec::new();
    for fid in fids.iter().filter(|f| f.is_key() && f.id() != 0) {
        let id = fid.id();
        if !fids.contains(&Fid::prkd(id)) {
            // A key without description is shown from its public key (build.rs).
            if (scope.keys || scope.public) && fids.contains(&Fid::ee_certificate(id)) {
                out.push(Fid::ee_certificate(id));
            }
            continue;
        }
        if scope.keys || scope.public {
            out.push(Fid::prkd(id));
            if fids.contains(&key_meta::fid(id)) {
                out.push(key_meta::fid(id));
            }
        }
        if scope.public && fids.contains(&Fid::ee_certificate(id)) {
            out.push(Fid::ee_certificate(id));
        }
    }
    if scope.data {
        out.extend(fids.iter().filter(|f| f.prefix() == prefix::DCOD));
    }
    out
}

/// A new ENUMERATE result: cached contents of files no longer listed are dropped (a file
/// created again under the same FID is read again), as are "absent" marks.
fn apply_enumeration(st: &mut ObjectStore, fids: BTreeSet<Fid>) {
    if let Some(old) = &st.fids {
        for gone in old.difference(&fids) {
            log::debug!("file {gone} disappeared");
        }
    }
    st.files
        .retain(|fid, content| content.is_some() && fids.contains(fid));
    st.fids = Some(fids);
}

/// Reads the CExx of the given keys that were not read yet (one transaction) and rebuilds
/// their objects.
pub fn load_public(token: &Token, ids: &[u8]) -> Result<()> {
    let wanted: Vec<Fid> = {
        let st = token.objects.read();
        ids.iter()
            .map(|&i| Fid::ee_certificate(i))
            .filter(|f| !st.files.contains_key(f) && st.has_file(*f))
            .collect()
    };
    if !wanted.is_empty() {
        let read = token.with_card(CardOp::Read, |dev| {
            wanted
                .iter()
                .map(|&f| dev.read_file_if_exists(f).map(|c| (f, c)))
                .collect::<card::Result<Vec<_>>>()
        })?;
        let mut st = token.objects.write();
        for (fid, c) in read {
            st.files.insert(fid, c.map(Arc::new));
        }
    }
    let mut st = token.objects.write();
    for &id in ids {
        build_key(&mut st, token, id);
    }
    Ok(())
}

/// Reads a data object's content (CDxx needs the user PIN).
pub fn load_data_value(token: &Token, handle: CK_OBJECT_HANDLE) -> Result<()> {
    let Some(obj) = token.objects.read().get(handle) else {
        return Ok(());
    };
    let Body::Data(d) = &obj.body else {
        return Ok(());
    };
    let Some(file) = d.file.filter(|_| d.value.is_none()) else {
        return Ok(());
    };
    let value = token
        .with_card(CardOp::Read, |dev| dev.read_file_if_exists(file))?
        .unwrap_or_default();
    let mut st = token.objects.write();
    if let Some(current) = st.get(handle) {
        let mut o = (*current).clone();
        if let Body::Data(d) = &mut o.body {
            d.value = Some(value);
        }
        st.put(o);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fids(list: &[u16]) -> BTreeSet<Fid> {
        list.iter().map(|&f| Fid(f)).collect()
    }

    #[test]
    fn scopes_by_class() {
        assert_eq!(Scope::for_class(None), Scope::ALL);
        let keys = Scope::for_class(Some(CKO_PRIVATE_KEY));
        assert!(keys.keys && !keys.public && !keys.ca && !keys.data);
        assert!(
            keys.skip_dkek,
            "a private-key find cannot match the DKEK object"
        );
        assert!(!Scope::for_class(Some(CKO_SECRET_KEY)).skip_dkek);
        assert!(!Scope::for_class(None).skip_dkek);
        let certs = Scope::for_class(Some(CKO_CERTIFICATE));
        assert!(certs.keys && certs.public && certs.ca && !certs.data);
        assert!(Scope::for_class(Some(CKO_DATA)).data);
        assert_eq!(Scope::for_class(Some(CKO_PROFILE)), Scope::default());
    }

    #[test]
    fn files_read_per_scope() {
        // Key 1 with description, request and metadata; key 2 without description (its
        // request is read: the key is shown from it); CC00 is the device key; a data object C901.
        let all = fids(&[
            0xCC00, 0xCC01, 0xC401, 0xCE01, 0xCB01, 0xCC02, 0xCE02, 0xC901, 0xCF01,
        ]);
        let keys = files_for(&all, Scope::for_class(Some(CKO_PRIVATE_KEY)));
        assert_eq!(keys, [Fid(0xC401), Fid(0xCB01), Fid(0xCE02)]);
        let public = files_for(&all, Scope::for_class(Some(CKO_PUBLIC_KEY)));
        assert_eq!(public, [Fid(0xC401), Fid(0xCB01), Fid(0xCE01), Fid(0xCE02)]);
        let data = files_for(&all, Scope::for_class(Some(CKO_DATA)));
        assert_eq!(data, [Fid(0xC901)]);
    }

    #[test]
    fn enumeration_drops_vanished_files() {
        let mut st = ObjectStore::default();
        st.files.insert(Fid(0xC401), Some(Arc::new(vec![1])));
        st.files.insert(Fid(0xC402), Some(Arc::new(vec![2])));
        st.files.insert(Fid(0xCE01), None);
        apply_enumeration(&mut st, fids(&[0xC401, 0xCE01]));
        assert!(st.files.contains_key(&Fid(0xC401)));
        assert!(!st.files.contains_key(&Fid(0xC402)), "vanished");
        assert!(
            !st.files.contains_key(&Fid(0xCE01)),
            "absent mark of a listed file"
        );
        assert!(st.has_file(Fid(0xCE01)));
    }
}
