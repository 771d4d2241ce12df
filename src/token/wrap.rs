//! C_WrapKey / C_UnwrapKey. Wrapping under the DKEK (CKM_SCHSM_DKEK_WRAP, the sc-hsm-tool
//! envelope) comes with the next issue; until then both answer `MechanismInvalid`.

use super::api::{Attribute, Mechanism, Output};
use super::error::{Error, Result};
use super::session::session_ref;
use cryptoki_sys::{CK_OBJECT_HANDLE, CK_SESSION_HANDLE};

pub fn wrap_key(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    _wrapping_key: CK_OBJECT_HANDLE,
    _key: CK_OBJECT_HANDLE,
    _capacity: Option<usize>,
) -> Result<Output> {
    session_ref(session)?;
    log::info!(
        "C_WrapKey with mechanism {:#x}: key wrapping is not implemented yet",
        mechanism.kind
    );
    Err(Error::MechanismInvalid)
}

pub fn unwrap_key(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    _unwrapping_key: CK_OBJECT_HANDLE,
    _wrapped: &[u8],
    _template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    session_ref(session)?;
    log::info!(
        "C_UnwrapKey with mechanism {:#x}: key unwrapping is not implemented yet",
        mechanism.kind
    );
    Err(Error::MechanismInvalid)
}
