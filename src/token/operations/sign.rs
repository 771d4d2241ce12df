//! C_Sign*: the card signs, the host prepares the input.
//! - ECDSA: the host hashes (CKM_ECDSA_SHAx) and sends the hash with P2 70 — one short APDU
//!   whatever the message length; the card's DER answer becomes `r‖s` with field-size halves.
//! - RSA PKCS#1 v1.5: DigestInfo (the caller's for CKM_RSA_PKCS, the host's for SHAx_RSA_PKCS)
//!   padded on the host (block type 1), raw RSA on the card (P2 20).
//! - RSA X.509: the data left-padded to the modulus size, P2 20.
//! - RSA PSS: the hash (the caller's, or the host's), P2 40 (see `params::pss`).
//! - AES CMAC: CIPHER SYMMETRIC P2 18.
//!
//! Signature lengths come from the key (no card needed for size queries).

use zeroize::Zeroizing;

use super::keycheck::{self, Function};
use super::{params, Part};
use crate::card::algorithm::{CipherAlgorithm, SignAlgorithm};
use crate::card::crypto_ops::ecdsa_der_to_raw;
use crate::token::api::{Mechanism, Output};
use crate::token::card_error::CardOp;
use crate::token::crypto::ec_verify::order_bytes;
use crate::token::crypto::hash::{HashAlg, Hasher};
use crate::token::crypto::pkcs1;
use crate::token::crypto::rsa_public::left_pad;
use crate::token::error::{Error, Result};
use crate::token::mechanisms::Family;
use crate::token::objects::KeyInfo;
use crate::token::session::SessionRef;
use cryptoki_sys::*;

/// Most data a mechanism without a host hash buffers across C_SignUpdate calls.
pub const MAX_BUFFERED: usize = 64 * 1024;
/// Length of an AES-CMAC.
pub const CMAC_LEN: usize = 16;

/// How the card is asked.
#[derive(Debug, Clone, Copy)]
pub enum How {
    /// P2 70 over the hash cut to the order length.
    Ecdsa {
        field_bytes: usize,
        order_bytes: usize,
    },
    /// Host type-1 padding of a DigestInfo (built from `hash`, or given), P2 20.
    RsaPkcs1 { k: usize, hash: Option<HashAlg> },
    /// P2 20 over the data left-padded to `k` bytes.
    RsaRaw { k: usize },
    /// P2 40 over a hash of `hash`'s length.
    RsaPss { k: usize, hash: HashAlg },
    /// CIPHER SYMMETRIC 18.
    Cmac,
}

impl How {
    /// The signature length.
    pub fn out_len(self) -> usize {
        match self {
            How::Ecdsa { field_bytes, .. } => 2 * field_bytes,
            How::RsaPkcs1 { k, .. } | How::RsaRaw { k } | How::RsaPss { k, .. } => k,
            How::Cmac => CMAC_LEN,
        }
    }

    /// How `spec` signs with `key` (parameters checked).
    pub fn of(mechanism: &Mechanism, key: &KeyInfo) -> Result<How> {
        let spec = crate::token::mechanisms::spec(mechanism.kind).ok_or(Error::MechanismInvalid)?;
        let k = keycheck::modulus_bytes(key);
        Ok(match spec.family {
            Family::Ec => {
                keycheck::no_param(mechanism)?;
                let field_bytes = keycheck::field_bytes(key);
                How::Ecdsa {
                    field_bytes,
                    order_bytes: key.curve.map_or(field_bytes, order_bytes),
                }
            }
            Family::Rsa if is_pss(spec.kind) => {
                let hash = params::pss(mechanism, spec)?;
                // EMSA-PSS needs emLen ≥ hLen + sLen + 2 with sLen = hLen (RFC 8017 §9.1.1):
                // SHA-512 does not fit a 1024-bit key.
                let em_len = usize::from(key.bits.saturating_sub(1)).div_ceil(8);
                if em_len < 2 * hash.len() + 2 {
                    return Err(Error::KeySizeRange);
                }
                How::RsaPss { k, hash }
            }
            Family::Rsa if spec.kind == CKM_RSA_X_509 => {
                keycheck::no_param(mechanism)?;
                How::RsaRaw { k }
            }
            Family::Rsa => {
                keycheck::no_param(mechanism)?;
                How::RsaPkcs1 { k, hash: spec.hash }
            }
            Family::Aes if spec.kind == CKM_AES_CMAC => {
                keycheck::no_param(mechanism)?;
                How::Cmac
            }
            _ => return Err(Error::MechanismInvalid),
        })
    }
}

fn is_pss(kind: CK_MECHANISM_TYPE) -> bool {
    matches!(
        kind,
        CKM_RSA_PKCS_PSS
            | CKM_SHA1_RSA_PKCS_PSS
            | CKM_SHA224_RSA_PKCS_PSS
            | CKM_SHA256_RSA_PKCS_PSS
            | CKM_SHA384_RSA_PKCS_PSS
            | CKM_SHA512_RSA_PKCS_PSS
    )
}

/// The message so far: a running hash, or the buffered data.
#[derive(Debug, Clone)]
pub enum Input {
    Hash(Hasher),
    Buffer(Zeroizing<Vec<u8>>),
}

impl Input {
    pub fn new(hash: Option<HashAlg>) -> Input {
        match hash {
            Some(h) => Input::Hash(h.hasher()),
            None => Input::Buffer(Zeroizing::new(Vec::new())),
        }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Input::Hash(h) => h.update(data),
            Input::Buffer(b) if b.len() + data.len() > MAX_BUFFERED => {
                return Err(Error::DataLenRange)
            }
            Input::Buffer(b) => b.extend_from_slice(data),
        }
        Ok(())
    }

    /// What the mechanism signs: the hash, or the data.
    pub fn message(&self) -> Zeroizing<Vec<u8>> {
        match self {
            Input::Hash(h) => Zeroizing::new(h.clone().finalize()),
            Input::Buffer(b) => b.clone(),
        }
    }

    /// The message of a single-part call with `data`, without changing the input.
    pub fn with(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut i = self.clone();
        i.update(data)?;
        Ok(i.message())
    }
}

pub struct SignOp {
    key_id: u8,
    how: How,
    input: Input,
}

impl SignOp {
    pub fn init(s: &SessionRef, mechanism: &Mechanism, handle: CK_OBJECT_HANDLE) -> Result<SignOp> {
        let spec = keycheck::mechanism(s, mechanism, Function::Sign)?;
        let key = keycheck::key(s, handle, spec, Function::Sign)?;
        let how = How::of(mechanism, &key)?;
        let key_id = keycheck::card_key(s, &key)?;
        Ok(SignOp {
            key_id,
            how,
            // Hashing mechanisms hash on the host; the others sign the caller's data.
            input: Input::new(spec.hash),
        })
    }

    fn sign(&self, s: &SessionRef, message: &[u8]) -> Result<Vec<u8>> {
        card_sign(s, self.key_id, self.how, message)
    }
}

/// Signs `message` (the hash, or the data of a mechanism without hash) with card key `id`.
pub fn card_sign(s: &SessionRef, id: u8, how: How, message: &[u8]) -> Result<Vec<u8>> {
    match how {
        How::Ecdsa {
            field_bytes,
            order_bytes,
        } => {
            if message.is_empty() {
                return Err(Error::DataLenRange);
            }
            // ECDSA looks at the leftmost order-length bits only; the card cuts the rest.
            let z = &message[..message.len().min(order_bytes)];
            let der = s.with_card(CardOp::Sign, |d| d.sign(id, SignAlgorithm::EcdsaHashed, z))?;
            ecdsa_der_to_raw(&der, field_bytes).map_err(|e| {
                log::warn!("ECDSA answer of the card: {e}");
                Error::DeviceError
            })
        }
        How::RsaPkcs1 { k, hash } => {
            let t = match hash {
                Some(h) => h.digest_info(message),
                None => message.to_vec(),
            };
            let em = pkcs1::pad_type1(&t, k).ok_or(Error::DataLenRange)?;
            rsa(s, id, SignAlgorithm::RsaRaw, &em, k)
        }
        How::RsaRaw { k } => {
            if message.len() > k {
                return Err(Error::DataLenRange);
            }
            rsa(s, id, SignAlgorithm::RsaRaw, &left_pad(message, k), k)
        }
        How::RsaPss { k, hash } => {
            if message.len() != hash.len() {
                return Err(Error::DataLenRange);
            }
            rsa(s, id, SignAlgorithm::RsaPssHashed, message, k)
        }
        How::Cmac => {
            if message.len() > max_cipher_input(s) {
                return Err(Error::DataLenRange);
            }
            let mac = s.with_card(CardOp::Sign, |d| {
                d.cipher(id, CipherAlgorithm::AesCmac, message)
            })?;
            mac.expose()
                .get(..CMAC_LEN)
                .map(<[u8]>::to_vec)
                .ok_or(Error::DeviceError)
        }
    }
}

fn rsa(s: &SessionRef, id: u8, alg: SignAlgorithm, input: &[u8], k: usize) -> Result<Vec<u8>> {
    let sig = s.with_card(CardOp::Sign, |d| d.sign(id, alg, input))?;
    if sig.len() > k {
        log::warn!(
            "RSA signature of {} bytes for a {k}-byte modulus",
            sig.len()
        );
        return Err(Error::DeviceError);
    }
    Ok(left_pad(&sig, k))
}

/// The most data one CIPHER SYMMETRIC command carries on this device (extended APDU header,
/// Lc and Le take 9 bytes; a margin keeps the response with its status word in the limit too).
pub fn max_cipher_input(s: &SessionRef) -> usize {
    s.profile().max_apdu.saturating_sub(16)
}

impl Part for SignOp {
    fn single(&mut self, s: &SessionRef, data: &[u8], capacity: Option<usize>) -> Result<Output> {
        let len = self.how.out_len();
        if !super::fits(len, capacity) {
            return Ok(Output::Len(len));
        }
        let message = self.input.with(data)?;
        Ok(Output::Data(self.sign(s, &message)?))
    }

    fn update(&mut self, _s: &SessionRef, data: &[u8], _capacity: Option<usize>) -> Result<Output> {
        self.input.update(data)?;
        Ok(Output::Data(Vec::new()))
    }

    fn finish(&mut self, s: &SessionRef, capacity: Option<usize>) -> Result<Output> {
        let len = self.how.out_len();
        if !super::fits(len, capacity) {
            return Ok(Output::Len(len));
        }
        let message = self.input.message();
        Ok(Output::Data(self.sign(s, &message)?))
    }
}
