//! C_DestroyObject.
//!
//! - A private or secret key: DELETE the key CCxx, its description C4xx and its metadata CBxx.
//!   Its public key and certificate objects are objects of their own (PKCS#11): they stay, with
//!   their CExx, until destroyed themselves — as OpenSC does (`pkcs11-tool --test-ec` destroys
//!   the private key, then the public one). A CExx left without its key is not listed again
//!   after the next bind (neither by OpenSC), and key generation into that id overwrites it.
//! - A certificate in CExx: DELETE CExx; the key stays. The public key object derived from that
//!   certificate disappears with it (it *is* that file).
//! - A public key derived from a CV request: DELETE CExx, the request *is* the public key
//!   object; the private key stays usable (signing needs no CExx) but loses CKA_MODULUS /
//!   CKA_EC_POINT. A public key derived from a certificate cannot be destroyed alone
//!   (`ActionProhibited`, logged): destroy the certificate instead.
//! - A CA certificate: DELETE CAxx and C8xx. A data object: DELETE the data file and C9xx.
//! - The DKEK object: `ActionProhibited`. Session objects: forgotten.

use cryptoki_sys::CK_OBJECT_HANDLE;

use super::build;
use super::key_meta;
use super::model::*;
use crate::card::Fid;
use crate::token::card_error::CardOp;
use crate::token::error::{Error, Result};
use crate::token::session::SessionRef;

pub fn destroy_object(s: &SessionRef, handle: CK_OBJECT_HANDLE) -> Result<()> {
    let obj = super::visible_object(s, handle)?;
    let token = s.token();
    if !obj.is_token() {
        token.objects.write().remove(obj.identity);
        return Ok(());
    }
    s.require_rw()?;
    let files: Vec<Fid> = match (&obj.body, obj.identity) {
        (Body::Key(_), Identity::Key(id)) => vec![Fid::key(id), Fid::prkd(id), key_meta::fid(id)],
        (Body::Certificate(_), Identity::EeCert(id)) => vec![Fid::ee_certificate(id)],
        (Body::PublicKey(p), Identity::PublicKey(id)) => {
            let from_certificate = token
                .objects
                .read()
                .by_identity(Identity::EeCert(id))
                .is_some();
            if from_certificate {
                log::warn!(
                    "public key {handle} is the certificate's key: destroy the certificate \
                     (CKA_ID {:02X?}) to remove it",
                    p.id
                );
                return Err(Error::ActionProhibited);
            }
            vec![Fid::ee_certificate(id)]
        }
        (Body::Certificate(c), Identity::CaCert(n)) => {
            let mut v = vec![Fid::new(crate::card::fid::prefix::CD, n)];
            v.extend(c.file);
            v
        }
        (Body::Data(d), Identity::Data(_)) => {
            d.file.iter().chain(d.desc_fid.iter()).copied().collect()
        }
        (Body::Dkek(_), _) => return Err(Error::ActionProhibited),
        _ => return Err(Error::GeneralError),
    };
    s.require_user()?;
    s.with_card(CardOp::Write, |dev| {
        for f in &files {
            dev.delete_file_if_exists(*f)?;
        }
        Ok(())
    })?;
    log::info!(
        "destroyed object {handle} ({:?}): deleted {files:?}",
        obj.identity
    );
    let mut st = token.objects.write();
    for f in &files {
        st.note_written(*f, None);
    }
    match obj.identity {
        Identity::Key(id) => st.remove(Identity::Key(id)),
        Identity::EeCert(id) | Identity::PublicKey(id) => {
            st.remove(Identity::EeCert(id));
            st.remove(Identity::PublicKey(id));
            build::build_key(&mut st, token, id);
        }
        other => st.remove(other),
    }
    Ok(())
}
