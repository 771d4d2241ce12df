//! Key generation and derivation on the card: C_GenerateKeyPair (`pair.rs`), C_GenerateKey
//! (`aes.rs`), C_DeriveKey with ECDH (`derive.rs`). Templates are read in `template.rs`; the
//! card's allowed-algorithm list, including the bug #168 decision, is made in
//! `restrictions.rs`. The card-facing halves (`generate_*_on_card`) also serve `schsm-tool
//! generate`.

mod aes;
pub mod derive;
mod pair;
mod restrictions;
pub mod template;

use cryptoki_sys::{CK_OBJECT_HANDLE, CK_SESSION_HANDLE};

use super::api::{Attribute, Mechanism};
use super::error::Result;
use super::session::session_ref;

pub use aes::generate_on_card as generate_aes_on_card;
pub use pair::generate_on_card as generate_pair_on_card;
pub use pair::intrinsic_id;
pub use restrictions::algorithm_list;

pub fn generate_key(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    aes::generate_key(&session_ref(session)?, mechanism, template)
}

pub fn generate_key_pair(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    public_template: &[Attribute],
    private_template: &[Attribute],
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
    pair::generate_key_pair(
        &session_ref(session)?,
        mechanism,
        public_template,
        private_template,
    )
}

pub fn derive_key(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    base_key: CK_OBJECT_HANDLE,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    derive::derive_key(&session_ref(session)?, mechanism, base_key, template)
}
