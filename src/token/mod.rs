//! The PKCS#11 model, card-agnostic in shape: library state, slots, tokens, sessions, login,
//! objects and attributes, find, mechanisms and operations. `ffi` calls [`api`]; everything else
//! here is reached through it.
//!
//! # Layout
//!
//! | file | what |
//! |---|---|
//! | `api.rs` | the face `ffi` calls (one function per C_* function) |
//! | `error.rs`, `card_error.rs` | `token::Error`; the one mapping `card::Error` → `token::Error` |
//! | `library.rs`, `logger.rs` | process-global state (C_Initialize/C_Finalize, fork), the logger |
//! | `slot.rs`, `slots.rs`, `token_info.rs` | slots (readers, simulated devices), presence, token info |
//! | `slot_wait.rs` | the blocking C_WaitForSlotEvent and how C_Finalize ends it |
//! | `token_state.rs` | one inserted card: its `card::Device`, caches, login state |
//! | `info_store.rs` | serial and label shared between processes while the card stays inserted |
//! | `session.rs`, `sessions.rs`, `login.rs`, `admin.rs` | sessions, login/logout, C_InitToken/InitPIN/SetPIN |
//! | `objects/`, `find.rs` | the object model, the attribute table, loading/building, create/destroy/set, find |
//! | `mechanisms.rs`, `operations.rs`, `keygen.rs`, `crypto/` | the crypto helper's part |
//! | `wrap/`, `dkek_holder.rs` | C_WrapKey/C_UnwrapKey under the DKEK, the #168 unwrap shim, key import; the DKEK the module holds (config `[dkek]`) |
//!
//! # CONTRACT for the cryptographic operations (mechanisms, operations, keygen, wrap, crypto/)
//!
//! **Reaching a session and its card.**
//! [`session::session_ref`]`(handle)` → [`session::SessionRef`] (errors: `NotInitialized`,
//! `SessionHandleInvalid`, `DeviceRemoved` when the card of that session is gone). A
//! `SessionRef` holds `Arc`s; keep it for the length of one API call, not longer.
//! - `s.with_card(CardOp::Sign, |dev: &mut card::Device| -> card::Result<T> { ... })` locks the
//!   token's card (per-token `Mutex`, other slots and cache-only queries are not blocked), runs the
//!   closure inside one PC/SC transaction (`Device::transaction`), and maps a `card::Error` with
//!   the context `CardOp` (see [`card_error::CardOp`] / [`card_error::map_card_error`]; 6A80 in
//!   `CardOp::Decrypt` → `EncryptedDataInvalid`, 6982 → `UserNotLoggedIn`, ...). A removed card
//!   marks the token gone (`DeviceRemoved`). Keep the closure to one APDU sequence. Do not call
//!   `with_card` again from inside the closure (the lock is not re-entrant); do not call
//!   `SessionRef::key` or any other `SessionRef` method from inside it either.
//! - `s.with_card_one_apdu(CardOp::Sign, |dev| dev.sign(..))`: the same for a closure that sends
//!   exactly ONE APDU (SIGN, DECIPHER), without a PC/SC transaction (other processes signing at
//!   the same time are not held up by pcsc-lite's 100 ms lock poll; see `Token::with_card_one_apdu`).
//!   The closure may run more than once (retried while another process holds a transaction).
//! - `s.login_state()` → [`token_state::LoginState`] (`Public`, `User`, `So`), token-wide;
//!   `s.require_user()` → `Err(UserNotLoggedIn)` unless the user is logged in;
//!   `s.require_rw()` → `Err(SessionReadOnly)` for a read-only session.
//! - `s.profile()` (the card's `FirmwareProfile`, a clone), `s.serial()` (token serial, for
//!   the CHR of key generation requests), `s.slot_id()`, `s.handle()`, `s.config()`
//!   (`crate::config::Config`: DKEK share files / passwords for the #168 shim, `dkek_shares`).
//!
//! **The active operation of a session.** One slot per [`api::Operation`], holding whatever
//! the crypto helper wants (`Box<dyn Any + Send>`, downcast it):
//! `s.with_operations(|ops: &mut HashMap<Operation, Box<dyn Any + Send>>| ...)`.
//! It is a per-session `Mutex`; calling `with_card` inside it is allowed (lock order
//! operations → card), the other way round is not. Closing the session drops the states.
//!
//! **Keys behind handles.** `s.key(handle)` → [`objects::KeyInfo`] (error `KeyHandleInvalid`
//! when the handle is no key or is not visible; remap it to `WrappingKeyHandleInvalid` etc.
//! as needed). It loads the public part (CExx) if that was not read yet, so call it *before*
//! `with_card`. (Signing uses `objects::keys::key_info_for_signing`, which does not: the
//! description gives all a signature needs, and a fresh process saves one APDU per key.) `KeyInfo` has: `handle`, `class` (CKO_PRIVATE_KEY / CKO_PUBLIC_KEY /
//! CKO_SECRET_KEY), `key_type` (CKK_RSA / CKK_EC / CKK_AES), `key_id: Option<u8>` (the card's
//! key id of CCxx; `None` for session public keys and the DKEK object), `dkek: bool` (the
//! virtual DKEK secret-key object, `Identity::Dkek(domain)`), `bits` (RSA modulus bits, EC field bits,
//! AES key bits), `curve: Option<&'static Curve>`, `public: Option<PublicInfo>` (RSA modulus +
//! exponent or EC point `04‖X‖Y`, plus the SPKI), `usage` (`KeyUsage` bits from the PKCS#15
//! description, or for public keys the usage of the matching private key turned around:
//! sign → verify, decrypt → encrypt, unwrap → wrap), `allowed_mechanisms:
//! Option<Vec<CK_MECHANISM_TYPE>>` (`None` = unrestricted), `meta` ([`objects::KeyMeta`]:
//! extractable, local), and `description: Option<KeyDescription>` (the C4xx content, for
//! wrap envelopes), `kcv` (the DKEK object's key check value). Helpers: `info.permits(CKA_SIGN)`
//! etc. (the boolean usage attributes as C_GetAttributeValue reports them, also in
//! `info.flags`) and `info.allows_mechanism(m)` (CKA_ALLOWED_MECHANISMS).
//!
//! The DKEK objects (`Identity::Dkek(domain)`, CKO_SECRET_KEY, CKK_GENERIC_SECRET, label
//! "DKEK" for key domain 0, "DKEK <n>" for domain n, CKA_ID and CKA_CHECK_VALUE = the 8-byte
//! KCV, CKA_SCHSM_KEY_DOMAIN = n, CKA_WRAP and CKA_UNWRAP true): one per key domain whose DKEK
//! IMPORT DKEK SHARE without data says is complete (no share outstanding); domains other than
//! 0 are asked for on firmware with key domains only (`objects/dkek_objects.rs`).
//!
//! **New keys (after GENERATE ASYMMETRIC/SYMMETRIC KEY, UNWRAP, DERIVE).** Inside the same
//! `with_card` closure as the key command, write the host files with
//! [`objects::write_key_files`]`(dev, &new_key)` (C4xx description in OpenSC's format, with a
//! restricted key's CKA_ALLOWED_MECHANISMS as card algorithm ids in the description's
//! `algReference` (ISO 7816-15; travels in wrapped-key envelopes, see
//! `objects/restriction.rs`) and, when `meta` is not the default, the CBxx metadata file with
//! the exact CKA_ALLOWED_MECHANISMS / CKA_EXTRACTABLE / CKA_LOCAL). Then, after `with_card` returned,
//! `s.add_card_key(new_key)` → [`objects::KeyHandles`] `{ private, public }` puts the objects
//! in the token's cache without reading anything back (`public` is `Some` when
//! `NewKey::public_file` (the CV request the card returned, also stored by it in CExx) is given).
//! `NewKey { key_id, description: KeyDescription, meta: KeyMeta, public_file: Option<Vec<u8>> }`.
//! Build descriptions with `card::prkd::KeyDescription::opensc(kind, label, id, usage, key_id,
//! bits)` so that OpenSC sees the key. Handles are never reused; CKA_ID default (SHA-1 of the
//! modulus / of X) is the crypto helper's job. Session (CKA_TOKEN false) objects the helper
//! needs (e.g. a public key for a software verify) go through `s.add_session_object(attrs)`
//! (same rules as C_CreateObject with CKA_TOKEN false, except that a CKO_SECRET_KEY template
//! with CKA_VALUE becomes a secret key held in memory, `objects::session_secret`).
//!
//! **Attribute templates**: `objects::attributes` has the typed table (`check`,
//! `check_template` → `AttributeTypeInvalid` / `AttributeValueInvalid`) and readers
//! (`find_ulong`, `find_bool`, `find_text`, `find`, `read_mechanisms`) and encoders (`ulong`,
//! `boolean`, `mechanisms`).
//!
//! **Login state changes** only through `login.rs` / `sessions.rs`; a card reset seen in
//! `with_card` resets it to `Public`.
//!
//! # Locking (why it cannot deadlock)
//!
//! Order: library slot list / session map (held briefly, never across a card call) → session
//! operations → token card `Mutex` → token caches (`RwLock`s, leaf). Nobody takes the card lock
//! while holding a cache lock. Presence checks only `try_lock` the card: a busy card is present.
//! We start no thread, ever (so CKF_LIBRARY_CANT_CREATE_OS_THREADS is always honoured and no
//! thread can outlive C_Finalize). A blocking C_WaitForSlotEvent holds no lock while it waits
//! (only briefly, to look at the slots, as C_GetSlotList does).

pub mod admin;
pub mod api;
pub mod card_error;
pub mod crypto;
pub mod dkek_holder;
pub mod error;
pub mod find;
pub mod info_store;
pub mod keygen;
pub mod library;
pub mod logger;
pub mod login;
pub mod mechanisms;
pub mod objects;
pub mod operations;
pub mod session;
pub mod sessions;
pub mod slot;
pub mod slot_wait;
pub mod slots;
pub mod token_info;
pub mod token_state;
pub mod wrap;
