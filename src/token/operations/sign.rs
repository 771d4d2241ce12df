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
use crate::card::algorithm::{CipherAlgorithm, Hash as CardHash, SignAlgorithm};
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
    /// The card hashes: the whole message with P2 71–75 / 31–35 / 41–45, for keys whose
    /// algorithm list (algReference) has that id but not the host-hash one (70 / 20 / 40), as
    /// Smart Card Shell makes them (`73 92`). `field_bytes` is `Some` for ECDSA (r‖s output).
    CardHash {
        alg: SignAlgorithm,
        out: usize,
        field_bytes: Option<usize>,
    },
}

impl How {
    /// The signature length.
    pub fn out_len(self) -> usize {
        match self {
            How::Ecdsa { field_bytes, .. } => 2 * field_bytes,
            How::RsaPkcs1 { k, .. } | How::RsaRaw { k } | How::RsaPss { k, .. } => k,
            How::Cmac => CMAC_LEN,
            How::CardHash { out, .. } => out,
        }
    }

    /// The card-hashing form of a hash-and-sign mechanism, when the key's algorithm list
    /// demands it: the list lacks the host-hash id (`host_p2`) and has the hashing one.
    fn card_hash(key: &KeyInfo, hash: Option<HashAlg>, host_p2: u8) -> Option<SignAlgorithm> {
        let list = key.description.as_ref()?.alg_reference.as_ref()?;
        let h = match hash? {
            HashAlg::Sha1 => CardHash::Sha1,
            HashAlg::Sha224 => CardHash::Sha224,
            HashAlg::Sha256 => CardHash::Sha256,
            HashAlg::Sha384 => CardHash::Sha384,
            HashAlg::Sha512 => CardHash::Sha512,
        };
        let alg = match host_p2 {
            0x70 => SignAlgorithm::Ecdsa(h),
            0x40 => SignAlgorithm::RsaPss(h),
            _ => SignAlgorithm::RsaPkcs1(h),
        };
        (!list.contains(&host_p2) && list.contains(&alg.p2())).then_some(alg)
    }

    /// How `spec` signs with `key` (parameters checked).
    pub fn of(mechanism: &Mechanism, key: &KeyInfo) -> Result<How> {
        let spec = crate::token::mechanisms::spec(mechanism.kind).ok_or(Error::MechanismInvalid)?;
        let k = keycheck::modulus_bytes(key);
        Ok(match spec.family {
            Family::Ec => {
                keycheck::no_param(mechanism)?;
                let field_bytes = keycheck::field_bytes(key);
                if let Some(alg) = How::card_hash(key, spec.hash, 0x70) {
                    return Ok(How::CardHash {
                        alg,
                        out: 2 * field_bytes,
                        field_bytes: Some(field_bytes),
                    });
                }
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
                if let Some(alg) = How::card_hash(key, spec.hash, 0x40) {
                    return Ok(How::CardHash {
                        alg,
                        out: k,
                        field_bytes: None,
                    });
                }
                How::RsaPss { k, hash }
            }
            Family::Rsa if spec.kind == CKM_RSA_X_509 => {
                keycheck::no_param(mechanism)?;
                How::RsaRaw { k }
            }
            Family::Rsa => {
                keycheck::no_param(mechanism)?;
                if let Some(alg) = How::card_hash(key, spec.hash, 0x20) {
                    return Ok(How::CardHash {
                        alg,
                        out: k,
                        field_bytes: None,
                    });
                }
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
        if let How::CardHash { alg, .. } = how {
            log::info!(
                "key {key_id}: its algorithm list has {:02X} but not the host-hash form: the card \
                 hashes the whole message",
                alg.p2()
            );
        }
        Ok(SignOp {
            key_id,
            how,
            // Hashing mechanisms hash on the host (unless the card must); the others sign the
            // caller's data.
            input: match how {
                How::CardHash { .. } => Input::new(None),
                _ => Input::new(spec.hash),
            },
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
            let der =
                s.with_card_one_apdu(CardOp::Sign, |d| d.sign(id, SignAlgorithm::EcdsaHashed, z))?;
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
        How::CardHash {
            alg,
            out,
            field_bytes,
        } => {
            // The whole message goes in one command: it must fit one APDU of the device.
            if message.len() > max_cipher_input(s) {
                return Err(Error::DataLenRange);
            }
            let sig = s.with_card_one_apdu(CardOp::Sign, |d| d.sign(id, alg, message))?;
            match field_bytes {
                Some(f) => ecdsa_der_to_raw(&sig, f).map_err(|e| {
                    log::warn!("ECDSA answer of the card: {e}");
                    Error::DeviceError
                }),
                None if sig.len() > out => Err(Error::DeviceError),
                None => Ok(left_pad(&sig, out)),
            }
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
    let sig = s.with_card_one_apdu(CardOp::Sign, |d| d.sign(id, alg, input))?;
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
