//! The cryptographic operations of a session: C_*Init, the single-part calls, C_*Update,
//! C_*Final, C_Verify, and the random number functions.
//!
//! One operation per [`Operation`] kind may be active in a session; its state lives in the
//! session's operation slot (see the CONTRACT in `token/mod.rs`) as an [`Active`]. The rules of
//! PKCS#11 that are the same for every kind live here:
//! - `*Init` while one is active → `OperationActive`; any call without one →
//!   `OperationNotInitialized`.
//! - A size query or a too-small buffer answers `Output::Len` and leaves the operation as it
//!   was (nothing consumed); each kind knows its output length without the card, or keeps a
//!   result the card already produced (see `cipher_rsa.rs`) so that the card is asked once.
//! - A single-part call after an update is refused (`OperationActive`) and changes nothing.
//! - Any other error ends the operation, as does delivering a single-part or final result.
//!
//! Key checks at `*Init` are in `keycheck.rs`; each kind has its file: `digest.rs`, `sign.rs`,
//! `verify.rs`, `cipher_aes.rs`, `cipher_rsa.rs`.

mod cipher_aes;
mod cipher_rsa;
mod digest;
pub(crate) mod keycheck;
mod params;
mod sign;
mod verify;

use cryptoki_sys::{CK_OBJECT_HANDLE, CK_SESSION_HANDLE};

use super::api::{Mechanism, Operation, Output};
use super::card_error::CardOp;
use super::error::{Error, Result};
use super::session::{session_ref, SessionRef};

/// What C_Encrypt/C_Decrypt/C_Digest/C_Sign and their multi-part forms do, per kind.
trait Part {
    /// The single-part call.
    fn single(&mut self, s: &SessionRef, data: &[u8], capacity: Option<usize>) -> Result<Output>;
    /// C_*Update (sign and digest answer `Data(vec![])`).
    fn update(&mut self, s: &SessionRef, data: &[u8], capacity: Option<usize>) -> Result<Output>;
    /// C_*Final.
    fn finish(&mut self, s: &SessionRef, capacity: Option<usize>) -> Result<Output>;
}

/// The state of one active operation.
enum State {
    Digest(digest::DigestOp),
    Sign(sign::SignOp),
    Verify(verify::VerifyOp),
    AesCipher(cipher_aes::AesOp),
    RsaDecrypt(cipher_rsa::RsaDecryptOp),
    RsaEncrypt(cipher_rsa::RsaEncryptOp),
}

impl State {
    fn part(&mut self) -> Option<&mut dyn Part> {
        match self {
            State::Digest(d) => Some(d),
            State::Sign(x) => Some(x),
            State::AesCipher(x) => Some(x),
            State::RsaDecrypt(x) => Some(x),
            State::RsaEncrypt(x) => Some(x),
            State::Verify(_) => None,
        }
    }
}

/// What the session's operation slot holds.
struct Active {
    state: State,
    /// An update was made: the single-part call is no longer allowed.
    multipart: bool,
}

/// Whether a result of `len` bytes fits the caller's buffer (`None` = size query).
fn fits(len: usize, capacity: Option<usize>) -> bool {
    capacity.is_some_and(|c| c >= len)
}

/// The answer for a result that is ready: the data, or its length when it does not fit.
fn deliver(result: Vec<u8>, capacity: Option<usize>) -> Output {
    if fits(result.len(), capacity) {
        Output::Data(result)
    } else {
        Output::Len(result.len())
    }
}

/// C_EncryptInit, C_DecryptInit, C_DigestInit, C_SignInit, C_VerifyInit.
pub fn operation_init(
    session: CK_SESSION_HANDLE,
    op: Operation,
    mechanism: &Mechanism,
    key: Option<CK_OBJECT_HANDLE>,
) -> Result<()> {
    let s = session_ref(session)?;
    if s.with_operations(|ops| ops.contains_key(&op)) {
        return Err(Error::OperationActive);
    }
    let key = || key.ok_or(Error::KeyHandleInvalid);
    let state = match op {
        Operation::Digest => State::Digest(digest::DigestOp::init(&s, mechanism)?),
        Operation::Sign => State::Sign(sign::SignOp::init(&s, mechanism, key()?)?),
        Operation::Verify => State::Verify(verify::VerifyOp::init(&s, mechanism, key()?)?),
        Operation::Encrypt | Operation::Decrypt => {
            let encrypt = op == Operation::Encrypt;
            match super::mechanisms::spec(mechanism.kind).map(|m| m.family) {
                Some(super::mechanisms::Family::Aes) => {
                    State::AesCipher(cipher_aes::AesOp::init(&s, mechanism, key()?, encrypt)?)
                }
                _ if encrypt => {
                    State::RsaEncrypt(cipher_rsa::RsaEncryptOp::init(&s, mechanism, key()?)?)
                }
                _ => State::RsaDecrypt(cipher_rsa::RsaDecryptOp::init(&s, mechanism, key()?)?),
            }
        }
    };
    s.with_operations(|ops| {
        if ops.contains_key(&op) {
            return Err(Error::OperationActive);
        }
        let active = Active {
            state,
            multipart: false,
        };
        ops.insert(op, Box::new(active));
        Ok(())
    })
}

/// Runs `f` on the active operation `op`, then applies the common ending rules: errors (but
/// `OperationActive` for a misuse that changed nothing) end it, and so does a delivered result
/// when `terminal`.
fn run<T>(
    s: &SessionRef,
    op: Operation,
    terminal: bool,
    f: impl FnOnce(&mut Active, &SessionRef) -> Result<T>,
    delivered: impl Fn(&T) -> bool,
) -> Result<T> {
    s.with_operations(|ops| {
        let active = ops
            .get_mut(&op)
            .and_then(|b| b.downcast_mut::<Active>())
            .ok_or(Error::OperationNotInitialized)?;
        let r = f(active, s);
        let end = match &r {
            Err(Error::OperationActive) => false,
            Err(_) => true,
            Ok(v) => terminal && delivered(v),
        };
        if end {
            ops.remove(&op);
        }
        r
    })
}

fn is_data(o: &Output) -> bool {
    matches!(o, Output::Data(_))
}

fn part_of(active: &mut Active) -> Result<&mut dyn Part> {
    active.state.part().ok_or(Error::OperationNotInitialized)
}

/// C_Encrypt, C_Decrypt, C_Digest, C_Sign.
pub fn operation_single(
    session: CK_SESSION_HANDLE,
    op: Operation,
    data: &[u8],
    capacity: Option<usize>,
) -> Result<Output> {
    let s = session_ref(session)?;
    run(
        &s,
        op,
        true,
        |a, s| {
            if a.multipart {
                return Err(Error::OperationActive);
            }
            part_of(a)?.single(s, data, capacity)
        },
        is_data,
    )
}

/// C_EncryptUpdate, C_DecryptUpdate, C_DigestUpdate, C_SignUpdate, C_VerifyUpdate.
pub fn operation_update(
    session: CK_SESSION_HANDLE,
    op: Operation,
    data: &[u8],
    capacity: Option<usize>,
) -> Result<Output> {
    let s = session_ref(session)?;
    run(
        &s,
        op,
        false,
        |a, s| {
            let out = match &mut a.state {
                State::Verify(v) => v.update(data).map(|_| Output::Data(Vec::new())),
                _ => part_of(a)?.update(s, data, capacity),
            };
            // A size query or short buffer consumed nothing; anything delivered did.
            if matches!(out, Ok(Output::Data(_))) {
                a.multipart = true;
            }
            out
        },
        is_data,
    )
}

/// C_EncryptFinal, C_DecryptFinal, C_DigestFinal, C_SignFinal.
pub fn operation_final(
    session: CK_SESSION_HANDLE,
    op: Operation,
    capacity: Option<usize>,
) -> Result<Output> {
    let s = session_ref(session)?;
    run(
        &s,
        op,
        true,
        |a, s| part_of(a)?.finish(s, capacity),
        is_data,
    )
}

/// C_Verify: the operation ends whatever the answer.
pub fn verify(session: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
    let s = session_ref(session)?;
    run(
        &s,
        Operation::Verify,
        true,
        |a, s| match &mut a.state {
            State::Verify(_) if a.multipart => Err(Error::OperationActive),
            State::Verify(v) => v.verify(s, data, signature),
            _ => Err(Error::OperationNotInitialized),
        },
        |_| true,
    )
}

/// C_VerifyFinal.
pub fn verify_final(session: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
    let s = session_ref(session)?;
    run(
        &s,
        Operation::Verify,
        true,
        |a, s| match &mut a.state {
            State::Verify(v) => v.verify_final(s, signature),
            _ => Err(Error::OperationNotInitialized),
        },
        |_| true,
    )
}

/// C_SeedRandom: the card's generator takes no seed.
pub fn seed_random(session: CK_SESSION_HANDLE, _seed: &[u8]) -> Result<()> {
    session_ref(session)?;
    Err(Error::RandomSeedNotSupported)
}

/// C_GenerateRandom: GET CHALLENGE, in chunks of at most 1024 bytes (or what the device's
/// APDU size allows).
pub fn generate_random(session: CK_SESSION_HANDLE, len: usize) -> Result<Vec<u8>> {
    let s = session_ref(session)?;
    if len == 0 {
        return Ok(Vec::new());
    }
    let random = s.with_card(CardOp::Random, |dev| dev.get_challenge(len))?;
    Ok(random.expose().to_vec())
}
