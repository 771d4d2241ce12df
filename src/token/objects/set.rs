//! C_SetAttributeValue.
//!
//! Settable: CKA_LABEL and CKA_ID of keys, public keys and certificates in CExx (all three
//! share the key's description C4xx, which is rewritten: NSS renames freshly generated keys
//! this way and deletes them when it fails); CKA_SUBJECT of keys and public keys (PKCS#11 2.40
//! lets applications set it; kept as the description's subjectName, `pkcs11-tool --test-ec`
//! sets it); CKA_LABEL and CKA_ID of CA certificates (their
//! C8xx); CKA_LABEL and CKA_APPLICATION of data objects (their C9xx); the same on session
//! objects, in memory. Any other attribute is `AttributeReadOnly`, unless the template
//! gives the value it already has (harmless, and some applications do that).

use cryptoki_sys::*;

use super::attributes::{self as attr};
use super::build;
use super::model::*;
use super::values;
use crate::card::prkd::KeyKind;
use crate::card::Fid;
use crate::token::api::{Attribute, AttributeValue};
use crate::token::card_error::CardOp;
use crate::token::error::{Error, Result};
use crate::token::session::SessionRef;

#[derive(Default)]
struct Changes {
    label: Option<String>,
    id: Option<Vec<u8>>,
    application: Option<String>,
    subject: Option<Vec<u8>>,
}

pub fn set_attributes(
    s: &SessionRef,
    handle: CK_OBJECT_HANDLE,
    template: &[Attribute],
) -> Result<()> {
    attr::check_template(template)?;
    let obj = super::visible_object(s, handle)?;
    let mut ch = Changes::default();
    for a in template {
        let current = values::get(&obj, a.kind);
        if let AttributeValue::Value(v) = &current {
            if attr::same_value(a.kind, v, &a.value) {
                continue;
            }
        }
        let text = || String::from_utf8_lossy(&a.value).into_owned();
        match (&obj.body, a.kind) {
            (Body::Dkek(_), _) => return Err(Error::AttributeReadOnly),
            (
                Body::Key(_) | Body::PublicKey(_) | Body::Certificate(_) | Body::SessionSecret(_),
                CKA_LABEL,
            ) => ch.label = Some(text()),
            (
                Body::Key(_) | Body::PublicKey(_) | Body::Certificate(_) | Body::SessionSecret(_),
                CKA_ID,
            ) => ch.id = Some(a.value.clone()),
            (Body::Key(k), CKA_SUBJECT) if k.desc.kind != KeyKind::Aes => {
                ch.subject = Some(a.value.clone())
            }
            (Body::PublicKey(_), CKA_SUBJECT) => ch.subject = Some(a.value.clone()),
            (Body::Data(_), CKA_LABEL) => ch.label = Some(text()),
            (Body::Data(_), CKA_APPLICATION) => ch.application = Some(text()),
            _ => {
                return Err(match current {
                    AttributeValue::Invalid => Error::AttributeTypeInvalid,
                    _ => Error::AttributeReadOnly,
                })
            }
        }
    }
    if ch.label.is_none() && ch.id.is_none() && ch.application.is_none() && ch.subject.is_none() {
        return Ok(());
    }
    if !obj.is_token() {
        let mut o = (*obj).clone();
        apply_in_memory(&mut o.body, &ch);
        s.token().objects.write().put(o);
        return Ok(());
    }
    s.require_rw()?;
    s.require_user()?;
    match obj.identity {
        Identity::Key(id) | Identity::PublicKey(id) | Identity::EeCert(id) => {
            rewrite_key_description(s, id, &ch)
        }
        Identity::CaCert(n) | Identity::Data(n) => rewrite_description(s, &obj, n, &ch),
        _ => Err(Error::AttributeReadOnly),
    }
}

fn apply_in_memory(body: &mut Body, ch: &Changes) {
    let (label, id) = match body {
        Body::PublicKey(p) => {
            if let Some(name) = &ch.subject {
                p.subject = name.clone();
            }
            (&mut p.label, Some(&mut p.id))
        }
        Body::Certificate(c) => (&mut c.label, Some(&mut c.id)),
        Body::SessionSecret(k) => (&mut k.label, Some(&mut k.id)),
        Body::Data(d) => {
            if let Some(a) = &ch.application {
                d.application = a.clone();
            }
            (&mut d.label, None)
        }
        Body::Key(_) | Body::Dkek(_) => return,
    };
    if let Some(l) = &ch.label {
        *label = l.clone();
    }
    if let (Some(i), Some(new)) = (id, &ch.id) {
        *i = new.clone();
    }
}

/// New label / ID for key `id` and the objects that share its description.
fn rewrite_key_description(s: &SessionRef, id: u8, ch: &Changes) -> Result<()> {
    let token = s.token();
    let current = token
        .objects
        .read()
        .by_identity(Identity::Key(id))
        .ok_or(Error::ObjectHandleInvalid)?;
    let Body::Key(k) = &current.body else {
        return Err(Error::GeneralError);
    };
    let mut desc = k.desc.clone();
    if let Some(l) = &ch.label {
        desc.common.label = l.clone();
    }
    if let Some(i) = &ch.id {
        desc.id = i.clone();
    }
    if let Some(name) = &ch.subject {
        // An empty CKA_SUBJECT clears it.
        desc.subject = (!name.is_empty()).then(|| name.clone());
    }
    if desc == k.desc {
        return Ok(());
    }
    let bytes = desc.encode();
    s.with_card(CardOp::Write, |dev| dev.write_file(Fid::prkd(id), &bytes))?;
    log::info!(
        "key {id}: description rewritten (label {:?})",
        desc.common.label
    );
    let mut st = token.objects.write();
    st.note_written(Fid::prkd(id), Some(bytes));
    build::build_key(&mut st, token, id);
    Ok(())
}

/// New label / ID / application in a CA certificate's C8xx or a data object's C9xx.
fn rewrite_description(s: &SessionRef, obj: &Object, n: u8, ch: &Changes) -> Result<()> {
    let token = s.token();
    let mut o = obj.clone();
    let (fid, bytes) = match &mut o.body {
        Body::Certificate(c) => {
            let desc = c.desc.as_mut().ok_or(Error::AttributeReadOnly)?;
            if let Some(l) = &ch.label {
                desc.common.label = l.clone();
            }
            if let Some(i) = &ch.id {
                desc.id = i.clone();
            }
            (Fid::new(crate::card::fid::prefix::CD, n), desc.encode())
        }
        Body::Data(d) => {
            let desc = d.desc.as_mut().ok_or(Error::AttributeReadOnly)?;
            if let Some(l) = &ch.label {
                desc.common.label = l.clone();
            }
            if let Some(a) = &ch.application {
                desc.application_name = Some(a.clone());
            }
            (d.desc_fid.ok_or(Error::AttributeReadOnly)?, desc.encode())
        }
        _ => return Err(Error::AttributeReadOnly),
    };
    s.with_card(CardOp::Write, |dev| dev.write_file(fid, &bytes))?;
    apply_in_memory(&mut o.body, ch);
    let mut st = token.objects.write();
    st.note_written(fid, Some(bytes));
    st.put(o);
    Ok(())
}
