//! The token layer's face towards `ffi`: one plain Rust function per PKCS#11 operation, taking and
//! returning Rust values. `ffi` checks and converts C pointers, calls one of these, and turns the
//! `Result` into a CK_RV (the only place CK_RV values are chosen). Nothing here knows C pointers,
//! and nothing here knows APDUs: the token layer talks to the card through `crate::card`.
//!
//! Conventions:
//! - Handles are the PKCS#11 integer types; invalid ones are `Error::SessionHandleInvalid`, ...
//! - Byte strings (PINs, labels, data) are borrowed slices; outputs are owned `Vec<u8>`.
//! - Operations with an output of unknown or caller-bounded size take `capacity`: `None` is a size
//!   query (`pOut == NULL`), `Some(n)` the caller's buffer length. They answer [`Output::Len`] when
//!   nothing was produced for the caller (size query, or buffer too small: `ffi` then says
//!   CKR_BUFFER_TOO_SMALL) and the operation stays active; the card is never asked twice: a result
//!   computed but not delivered is kept in the session until the caller asks again with room.
//!   [`Output::Data`] delivers the result (and ends the operation where PKCS#11 says so).

use cryptoki_sys::{
    CK_ATTRIBUTE_TYPE, CK_FLAGS, CK_MECHANISM_TYPE, CK_OBJECT_HANDLE, CK_SESSION_HANDLE,
    CK_SLOT_ID, CK_STATE, CK_ULONG, CK_USER_TYPE,
};

pub use super::error::{Error, Result};

/// What C_Initialize was told, once `ffi` has validated CK_C_INITIALIZE_ARGS.
#[derive(Debug, Clone, Copy, Default)]
pub struct InitOptions {
    /// False when the caller set CKF_LIBRARY_CANT_CREATE_OS_THREADS: no thread of ours may run.
    pub may_create_threads: bool,
}

/// Strings are unpadded; `ffi` blank-pads (and truncates on a char boundary) into the C fields.
#[derive(Debug, Clone)]
pub struct LibraryInfo {
    pub manufacturer: String,
    pub description: String,
    pub version: (u8, u8),
}

#[derive(Debug, Clone)]
pub struct SlotInfo {
    pub description: String,
    pub manufacturer: String,
    pub flags: CK_FLAGS,
    pub hardware_version: (u8, u8),
    pub firmware_version: (u8, u8),
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub flags: CK_FLAGS,
    pub max_session_count: CK_ULONG,
    pub session_count: CK_ULONG,
    pub max_rw_session_count: CK_ULONG,
    pub rw_session_count: CK_ULONG,
    pub max_pin_len: CK_ULONG,
    pub min_pin_len: CK_ULONG,
    /// `None` = CK_UNAVAILABLE_INFORMATION.
    pub total_public_memory: Option<CK_ULONG>,
    pub free_public_memory: Option<CK_ULONG>,
    pub total_private_memory: Option<CK_ULONG>,
    pub free_private_memory: Option<CK_ULONG>,
    pub hardware_version: (u8, u8),
    pub firmware_version: (u8, u8),
}

#[derive(Debug, Clone, Copy)]
pub struct MechanismInfo {
    pub min_key_size: CK_ULONG,
    pub max_key_size: CK_ULONG,
    pub flags: CK_FLAGS,
}

#[derive(Debug, Clone, Copy)]
pub struct SessionInfo {
    pub slot: CK_SLOT_ID,
    pub state: CK_STATE,
    pub flags: CK_FLAGS,
    pub device_error: CK_ULONG,
}

/// A mechanism with its parameter decoded by `ffi` (which checks the parameter's length against
/// the C struct it must be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mechanism {
    pub kind: CK_MECHANISM_TYPE,
    pub param: MechanismParam,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MechanismParam {
    None,
    /// CKM_AES_CBC(_PAD): the IV.
    Iv(Vec<u8>),
    /// CK_RSA_PKCS_PSS_PARAMS.
    Pss {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_ULONG,
        salt_len: CK_ULONG,
    },
    /// CK_RSA_PKCS_OAEP_PARAMS; `source_data` is the label (empty when none).
    Oaep {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_ULONG,
        source: CK_ULONG,
        source_data: Vec<u8>,
    },
    /// CK_ECDH1_DERIVE_PARAMS.
    Ecdh {
        kdf: CK_ULONG,
        shared_data: Vec<u8>,
        public_data: Vec<u8>,
    },
    /// Any other parameter, as raw bytes (vendor mechanisms).
    Raw(Vec<u8>),
}

/// One template entry: PKCS#11 encoding of the value (CK_BBOOL one byte, CK_ULONG native-endian
/// `size_of::<CK_ULONG>()` bytes, strings and byte arrays as is).
#[derive(Clone, PartialEq, Eq)]
pub struct Attribute {
    pub kind: CK_ATTRIBUTE_TYPE,
    pub value: Vec<u8>,
}

/// Type and length only: a template may carry key material, and `{:?}` must never log it.
impl std::fmt::Debug for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Attribute({:#x}, {} bytes)", self.kind, self.value.len())
    }
}

/// A template may carry key material (C_CreateObject's CKA_VALUE, RSA primes): every value is
/// wiped when its template goes, whatever the attribute
/// (pkcs11-tests/tests/65-reliability-secrets-memory.sh).
impl Drop for Attribute {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

/// The answer for one entry of C_GetAttributeValue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    Value(Vec<u8>),
    /// CKR_ATTRIBUTE_SENSITIVE for this entry (length set to CK_UNAVAILABLE_INFORMATION).
    Sensitive,
    /// CKR_ATTRIBUTE_TYPE_INVALID for this entry (length set to CK_UNAVAILABLE_INFORMATION).
    Invalid,
}

/// See the module comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Len(usize),
    Data(Vec<u8>),
}

/// The multi-purpose cryptographic operations of a session (one of each may be active).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Encrypt,
    Decrypt,
    Digest,
    Sign,
    Verify,
}

// ---- general -----------------------------------------------------------------------------------
pub fn initialize(options: InitOptions) -> Result<()> {
    super::library::initialize(options)
}
pub fn finalize() -> Result<()> {
    super::library::finalize()
}
pub fn library_info() -> Result<LibraryInfo> {
    super::library::library_info()
}

// ---- slots and tokens --------------------------------------------------------------------------
pub fn slot_list(token_present: bool) -> Result<Vec<CK_SLOT_ID>> {
    super::slots::slot_list(token_present)
}
pub fn slot_info(slot: CK_SLOT_ID) -> Result<SlotInfo> {
    super::slots::slot_info(slot)
}
pub fn token_info(slot: CK_SLOT_ID) -> Result<TokenInfo> {
    super::slots::token_info(slot)
}
/// With `dont_block` false the module may answer `Error::FunctionNotSupported`.
pub fn wait_for_slot_event(dont_block: bool) -> Result<CK_SLOT_ID> {
    super::slots::wait_for_slot_event(dont_block)
}
pub fn mechanism_list(slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
    super::mechanisms::mechanism_list(slot)
}
pub fn mechanism_info(slot: CK_SLOT_ID, kind: CK_MECHANISM_TYPE) -> Result<MechanismInfo> {
    super::mechanisms::mechanism_info(slot, kind)
}
/// `label` is the 32-byte blank-padded label as given.
pub fn init_token(slot: CK_SLOT_ID, so_pin: &[u8], label: &[u8]) -> Result<()> {
    super::admin::init_token(slot, so_pin, label)
}

// ---- sessions and PINs -------------------------------------------------------------------------
pub fn open_session(slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
    super::sessions::open_session(slot, flags)
}
pub fn close_session(session: CK_SESSION_HANDLE) -> Result<()> {
    super::sessions::close_session(session)
}
pub fn close_all_sessions(slot: CK_SLOT_ID) -> Result<()> {
    super::sessions::close_all_sessions(slot)
}
pub fn session_info(session: CK_SESSION_HANDLE) -> Result<SessionInfo> {
    super::sessions::session_info(session)
}
/// `pin` is `None` when the caller passed NULL (protected authentication path).
pub fn login(session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: Option<&[u8]>) -> Result<()> {
    super::sessions::login(session, user, pin)
}
pub fn logout(session: CK_SESSION_HANDLE) -> Result<()> {
    super::sessions::logout(session)
}
pub fn init_pin(session: CK_SESSION_HANDLE, pin: Option<&[u8]>) -> Result<()> {
    super::admin::init_pin(session, pin)
}
pub fn set_pin(session: CK_SESSION_HANDLE, old: Option<&[u8]>, new: Option<&[u8]>) -> Result<()> {
    super::admin::set_pin(session, old, new)
}

// ---- objects -----------------------------------------------------------------------------------
pub fn create_object(
    session: CK_SESSION_HANDLE,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    super::objects::create_object(session, template)
}
pub fn destroy_object(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) -> Result<()> {
    super::objects::destroy_object(session, object)
}
/// `None` = CK_UNAVAILABLE_INFORMATION.
pub fn object_size(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
) -> Result<Option<CK_ULONG>> {
    super::objects::object_size(session, object)
}
/// One answer per requested type, in order. An `Err` is for the whole call (bad handles, device).
pub fn get_attributes(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    kinds: &[CK_ATTRIBUTE_TYPE],
) -> Result<Vec<AttributeValue>> {
    super::objects::get_attributes(session, object, kinds)
}
pub fn set_attributes(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    template: &[Attribute],
) -> Result<()> {
    super::objects::set_attributes(session, object, template)
}
pub fn find_objects_init(session: CK_SESSION_HANDLE, template: &[Attribute]) -> Result<()> {
    super::find::find_objects_init(session, template)
}
pub fn find_objects(session: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
    super::find::find_objects(session, max)
}
pub fn find_objects_final(session: CK_SESSION_HANDLE) -> Result<()> {
    super::find::find_objects_final(session)
}

// ---- cryptographic operations ------------------------------------------------------------------
/// C_EncryptInit, C_DecryptInit, C_DigestInit (key `None`), C_SignInit, C_VerifyInit.
pub fn operation_init(
    session: CK_SESSION_HANDLE,
    op: Operation,
    mechanism: &Mechanism,
    key: Option<CK_OBJECT_HANDLE>,
) -> Result<()> {
    super::operations::operation_init(session, op, mechanism, key)
}
/// C_Encrypt, C_Decrypt, C_Digest, C_Sign: the single-part form.
pub fn operation_single(
    session: CK_SESSION_HANDLE,
    op: Operation,
    data: &[u8],
    capacity: Option<usize>,
) -> Result<Output> {
    super::operations::operation_single(session, op, data, capacity)
}
/// C_EncryptUpdate, C_DecryptUpdate (output per `capacity` rules), C_DigestUpdate, C_SignUpdate,
/// C_VerifyUpdate (these answer `Output::Data(vec![])`).
pub fn operation_update(
    session: CK_SESSION_HANDLE,
    op: Operation,
    data: &[u8],
    capacity: Option<usize>,
) -> Result<Output> {
    super::operations::operation_update(session, op, data, capacity)
}
/// C_EncryptFinal, C_DecryptFinal, C_DigestFinal, C_SignFinal.
pub fn operation_final(
    session: CK_SESSION_HANDLE,
    op: Operation,
    capacity: Option<usize>,
) -> Result<Output> {
    super::operations::operation_final(session, op, capacity)
}
/// C_Verify: `Err(Error::SignatureInvalid)` / `Err(Error::SignatureLenRange)` when it does not verify.
pub fn verify(session: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
    super::operations::verify(session, data, signature)
}
pub fn verify_final(session: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
    super::operations::verify_final(session, signature)
}

// ---- keys --------------------------------------------------------------------------------------
pub fn generate_key(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    super::keygen::generate_key(session, mechanism, template)
}
pub fn generate_key_pair(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    public_template: &[Attribute],
    private_template: &[Attribute],
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
    super::keygen::generate_key_pair(session, mechanism, public_template, private_template)
}
pub fn wrap_key(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    wrapping_key: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    capacity: Option<usize>,
) -> Result<Output> {
    super::wrap::wrap_key(session, mechanism, wrapping_key, key, capacity)
}
pub fn unwrap_key(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    unwrapping_key: CK_OBJECT_HANDLE,
    wrapped: &[u8],
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    super::wrap::unwrap_key(session, mechanism, unwrapping_key, wrapped, template)
}
pub fn derive_key(
    session: CK_SESSION_HANDLE,
    mechanism: &Mechanism,
    base_key: CK_OBJECT_HANDLE,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    super::keygen::derive_key(session, mechanism, base_key, template)
}
pub fn seed_random(session: CK_SESSION_HANDLE, seed: &[u8]) -> Result<()> {
    super::operations::seed_random(session, seed)
}
pub fn generate_random(session: CK_SESSION_HANDLE, len: usize) -> Result<Vec<u8>> {
    super::operations::generate_random(session, len)
}
