//! Building objects from the cached card files (pure: no card access). `load.rs` reads the
//! files; the functions here turn the cache into objects, keeping handles stable per identity.

use std::collections::BTreeSet;

use super::key_meta::{self, KeyMeta};
use super::load::Scope;
use super::model::*;
use super::store::ObjectStore;
use super::values::{CATEGORY_AUTHORITY, CATEGORY_TOKEN_USER};
use super::x509;
use crate::card::cd_dcod::{CertificateDescription, DataObjectDescription};
use crate::card::fid::prefix;
use crate::card::pkcs15::KeyUsage;
use crate::card::prkd::{KeyDescription, KeyKind};
use crate::card::{cvc, tlv, Fid};
use crate::token::token_state::Token;

/// (Re)builds the objects of `scope` from the cached files; removes objects whose files are gone.
pub fn build(st: &mut ObjectStore, token: &Token, scope: Scope) {
    let fids = st.fids.clone().unwrap_or_default();
    if scope.keys || scope.public {
        let ids: BTreeSet<u8> = fids
            .iter()
            .filter(|f| f.is_key() && f.id() != 0)
            .map(|f| f.id())
            .collect();
        for id in &ids {
            build_key(st, token, *id);
        }
        // Objects of keys that are gone. A destroyed key's public key and certificate stay
        // while their CExx does: they are objects of their own until destroyed.
        let stale: Vec<Identity> = st
            .objects
            .values()
            .filter_map(|o| match o.identity {
                Identity::Key(i) => (!ids.contains(&i)).then_some(o.identity),
                Identity::PublicKey(i) | Identity::EeCert(i) => (!ids.contains(&i)
                    && !fids.contains(&Fid::ee_certificate(i)))
                .then_some(o.identity),
                _ => None,
            })
            .collect();
        for identity in stale {
            st.remove(identity);
        }
    }
    if scope.ca {
        build_numbered(st, token, &fids, prefix::CD, Identity::CaCert, build_ca);
    }
    if scope.data {
        build_numbered(st, token, &fids, prefix::DCOD, Identity::Data, build_data);
    }
}

fn build_numbered(
    st: &mut ObjectStore,
    token: &Token,
    fids: &BTreeSet<Fid>,
    pfx: u8,
    identity: fn(u8) -> Identity,
    make: fn(&ObjectStore, Fid) -> Option<Body>,
) {
    for fid in fids.iter().filter(|f| f.prefix() == pfx) {
        let id = identity(fid.id());
        // Data objects keep a value read earlier.
        if st.by_identity(id).is_some() {
            continue;
        }
        match make(st, *fid) {
            Some(body) => {
                st.upsert(id, None, body, || token.new_handle());
            }
            None => st.remove(id),
        }
    }
    let stale: Vec<Identity> = st
        .objects
        .values()
        .map(|o| o.identity)
        .filter(|i| {
            let n = match (i, pfx) {
                (Identity::CaCert(n), prefix::CD) | (Identity::Data(n), prefix::DCOD) => *n,
                _ => return false,
            };
            !fids.contains(&Fid::new(pfx, n))
        })
        .collect();
    for id in stale {
        st.remove(id);
    }
}

pub fn remove_key_family(st: &mut ObjectStore, id: u8) {
    st.remove(Identity::Key(id));
    st.remove(Identity::PublicKey(id));
    st.remove(Identity::EeCert(id));
}

/// A key's metadata: the CBxx file (older versions of this module) where present, else the
/// restriction kept in the description's algReference (which also says whether the key is
/// exportable: WRAP in the list).
fn key_meta_of(file: Option<KeyMeta>, desc: &KeyDescription) -> KeyMeta {
    let ids = desc.alg_reference.as_deref();
    match file {
        Some(mut m) => {
            if m.allowed_mechanisms.is_none() {
                m.allowed_mechanisms = ids.map(super::restriction::from_alg_reference);
            }
            m
        }
        None => KeyMeta {
            allowed_mechanisms: ids.map(super::restriction::from_alg_reference),
            extractable: ids.is_none_or(|i| i.contains(&crate::card::algorithm::id::WRAP)),
            ..KeyMeta::default()
        },
    }
}

/// Builds key `id`'s objects (key, public key, end-entity certificate) from cached files.
pub fn build_key(st: &mut ObjectStore, token: &Token, id: u8) {
    let desc = match st.has_file(Fid::prkd(id)) {
        true => st.file(Fid::prkd(id)).and_then(|d| decode_prkd(id, &d)),
        false => orphan_description(st, id),
    };
    let Some(desc) = desc else {
        // Not read yet (then nothing to build), unusable, or the key was destroyed. The public
        // key and certificate objects of a destroyed key live on while their CExx does (they are
        // objects of their own until destroyed; a new bind does not list them, as OpenSC).
        if st.files.contains_key(&Fid::prkd(id)) {
            st.remove(Identity::Key(id));
            if !st.has_file(Fid::ee_certificate(id)) {
                remove_key_family(st, id);
            }
        }
        return;
    };
    let meta = key_meta_of(
        st.file(key_meta::fid(id)).and_then(|m| KeyMeta::decode(&m)),
        &desc,
    );
    let ce = Fid::ee_certificate(id);
    let public = if desc.kind == KeyKind::Aes || !st.has_file(ce) {
        Some(None)
    } else {
        st.file(ce).map(|c| public_part(id, &c))
    };
    let key = KeyObject {
        key_id: id,
        desc: desc.clone(),
        meta: meta.clone(),
        public: public.clone(),
    };
    st.upsert(Identity::Key(id), None, Body::Key(key), || {
        token.new_handle()
    });
    let part = match public {
        Some(Some(p)) => p,
        Some(None) => {
            st.remove(Identity::PublicKey(id));
            st.remove(Identity::EeCert(id));
            return;
        }
        None => return,
    };
    let pubkey = PublicKeyObject {
        key_id: Some(id),
        label: desc.common.label.clone(),
        id: desc.id.clone(),
        info: part.info.clone(),
        usage: desc.usage,
        meta,
        subject: desc
            .subject
            .clone()
            .or_else(|| part.certificate.as_ref().map(|c| c.subject.clone()))
            .unwrap_or_default(),
    };
    st.upsert(
        Identity::PublicKey(id),
        None,
        Body::PublicKey(pubkey),
        || token.new_handle(),
    );
    match (&part.certificate, st.file(ce)) {
        (Some(x509), Some(value)) => {
            let cert = CertObject {
                file: Some(ce),
                desc: None,
                label: desc.common.label.clone(),
                id: desc.id.clone(),
                value: value.to_vec(),
                x509: x509.clone(),
                category: CATEGORY_TOKEN_USER,
                trusted: false,
            };
            st.upsert(Identity::EeCert(id), None, Body::Certificate(cert), || {
                token.new_handle()
            });
        }
        _ => st.remove(Identity::EeCert(id)),
    }
}

/// A key CCxx without description (an import interrupted between UNWRAP KEY and writing
/// C4xx, or a tool that writes none): shown with a default description made from its public
/// key (CExx), as key generation would have written it. Without CExx the key type is unknown
/// and the key stays hidden.
fn orphan_description(st: &ObjectStore, id: u8) -> Option<KeyDescription> {
    let ce = Fid::ee_certificate(id);
    if !st.has_file(ce) {
        log::debug!("key CC{id:02X} has neither description nor public key: not shown");
        return None;
    }
    let part = public_part(id, &st.file(ce)?)?;
    let (kind, usage, data) = match &part.info.kind {
        PublicKind::Rsa { modulus, .. } => (
            KeyKind::Rsa,
            KeyUsage::SIGN | KeyUsage::DECRYPT,
            modulus.clone(),
        ),
        PublicKind::Ec { point, .. } => {
            let half = point.len().saturating_sub(1) / 2;
            (
                KeyKind::Ec,
                KeyUsage::SIGN | KeyUsage::DERIVE,
                point.get(1..1 + half).unwrap_or_default().to_vec(),
            )
        }
    };
    log::info!("key CC{id:02X} has no description (C4{id:02X}): shown with a default one");
    use sha1::Digest;
    Some(KeyDescription::opensc(
        kind,
        "Private Key",
        &sha1::Sha1::digest(&data),
        usage,
        id,
        part.info.bits(),
    ))
}

fn decode_prkd(id: u8, bytes: &[u8]) -> Option<KeyDescription> {
    KeyDescription::decode(bytes)
        .map_err(|e| log::warn!("key description C4{id:02X}: {e}; key not shown"))
        .ok()
}

/// The public key in CExx: a CV request (67 / 7F21) or an X.509 certificate (30).
pub fn public_part(id: u8, content: &[u8]) -> Option<PublicPart> {
    match content.first() {
        Some(0x30) => match x509::parse(content) {
            Ok(cert) => Some(PublicPart {
                info: cert.public.clone()?,
                certificate: Some(cert),
            }),
            Err(e) => {
                log::warn!("CE{id:02X}: {e}");
                None
            }
        },
        Some(0x67 | 0x7F) => match cvc::CvRequest::parse(content) {
            Ok(req) => Some(PublicPart {
                info: x509::from_cv(req.public_key())?,
                certificate: None,
            }),
            Err(e) => {
                log::warn!("CE{id:02X}: {e}");
                None
            }
        },
        _ => None,
    }
}

fn build_ca(st: &ObjectStore, fid: Fid) -> Option<Body> {
    let desc = CertificateDescription::decode(&st.file(fid)?)
        .map_err(|e| log::warn!("certificate description {fid}: {e}"))
        .ok()?;
    if desc.cv_certificate {
        return None;
    }
    let file = path_fid(&desc.path)?;
    let value = st.file(file)?;
    let x509 = x509::parse(&value)
        .map_err(|e| log::warn!("{file}: {e}"))
        .ok()?;
    Some(Body::Certificate(CertObject {
        file: Some(file),
        label: desc.common.label.clone(),
        id: desc.id.clone(),
        value: value.to_vec(),
        x509,
        category: if desc.authority {
            CATEGORY_AUTHORITY
        } else {
            CATEGORY_TOKEN_USER
        },
        trusted: false,
        desc: Some(desc),
    }))
}

fn build_data(st: &ObjectStore, fid: Fid) -> Option<Body> {
    let desc = DataObjectDescription::decode(&st.file(fid)?)
        .map_err(|e| log::warn!("data object description {fid}: {e}"))
        .ok()?;
    let file = path_fid(&desc.path)?;
    Some(Body::Data(DataObject {
        desc_fid: Some(fid),
        file: Some(file),
        label: desc.common.label.clone(),
        application: desc.application_name.clone().unwrap_or_default(),
        object_id: desc
            .application_oid
            .as_deref()
            .map(|o| tlv::encode(0x06, o))
            .unwrap_or_default(),
        private: file.prefix() == prefix::PRIVATE_DATA || desc.common.is_private(),
        value: None,
        desc: Some(desc),
    }))
}

/// The FID at the end of a PKCS#15 path (`CA xx`, or `3F00 … CA xx`).
pub fn path_fid(path: &[u8]) -> Option<Fid> {
    (path.len() >= 2 && path.len() % 2 == 0).then(|| {
        Fid(u16::from_be_bytes([
            path[path.len() - 2],
            path[path.len() - 1],
        ]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EE: &[u8] = include_bytes!("../../../tests/data/token_ee_cert.der");
    const CA: &[u8] = include_bytes!("../../../tests/data/token_ca_cert.der");

    #[test]
    fn paths() {
        assert_eq!(path_fid(&[0xCA, 0x01]), Some(Fid(0xCA01)));
        assert_eq!(path_fid(&[0x3F, 0x00, 0xCD, 0x07]), Some(Fid(0xCD07)));
        assert_eq!(path_fid(&[0xCA]), None);
        assert_eq!(path_fid(&[]), None);
    }

    #[test]
    fn public_parts_of_certificates() {
        let ee = public_part(1, EE).unwrap();
        assert!(matches!(
            ee.info.kind,
            PublicKind::Ec { curve: Some(c), .. } if c.name == "secp256r1"
        ));
        assert!(ee.certificate.is_some());
        let ca = public_part(2, CA).unwrap();
        assert_eq!(ca.info.bits(), 2048);
        assert_eq!(ca.info.spki, ca.certificate.unwrap().spki);
        assert!(public_part(3, &[0x30, 0x00]).is_none());
        assert!(public_part(3, &[0x67, 0x00]).is_none());
        assert!(public_part(3, &[]).is_none());
    }
}
