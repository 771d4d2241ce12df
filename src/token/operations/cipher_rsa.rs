//! RSA C_Decrypt (card: raw DECIPHER P2 21, host: PKCS#1 v1.5 or OAEP decoding in constant time)
//! and C_Encrypt (software, with a public-key object).
//!
//! The plaintext length of PKCS#1 and OAEP is known only after the card answered. A size query
//! answers an upper bound without the card; a call whose buffer turns out too small keeps the
//! plaintext and answers its exact length, and the next call with the same ciphertext gets the
//! kept plaintext — the card decrypts once.

use cryptoki_sys::{CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP, CKM_RSA_X_509, CK_OBJECT_HANDLE};
use zeroize::Zeroizing;

use super::keycheck::{self, Function};
use super::params::{self, Oaep};
use super::{deliver, fits, Part};
use crate::token::api::{Mechanism, Output};
use crate::token::card_error::CardOp;
use crate::token::crypto::rsa_public::{left_pad, RsaError, RsaPublic};
use crate::token::crypto::{oaep, pkcs1};
use crate::token::error::{Error, Result};
use crate::token::objects::PublicKind;
use crate::token::session::SessionRef;

/// The padding of an RSA encryption mechanism.
#[derive(Debug, Clone)]
enum Scheme {
    Raw,
    Pkcs1,
    Oaep(Oaep),
}

impl Scheme {
    fn of(mechanism: &Mechanism) -> Result<Scheme> {
        match mechanism.kind {
            CKM_RSA_X_509 => keycheck::no_param(mechanism).map(|_| Scheme::Raw),
            CKM_RSA_PKCS => keycheck::no_param(mechanism).map(|_| Scheme::Pkcs1),
            CKM_RSA_PKCS_OAEP => params::oaep(mechanism).map(Scheme::Oaep),
            _ => Err(Error::MechanismInvalid),
        }
    }

    /// The longest plaintext for a `k`-byte modulus.
    fn max_plaintext(&self, k: usize) -> usize {
        match self {
            Scheme::Raw => k,
            Scheme::Pkcs1 => k.saturating_sub(pkcs1::OVERHEAD),
            Scheme::Oaep(p) => k.saturating_sub(2 * p.hash.len() + 2),
        }
    }
}

/// A plaintext the card produced that the caller has not received yet, with its ciphertext.
struct Pending {
    ciphertext: Vec<u8>,
    plaintext: Zeroizing<Vec<u8>>,
}

pub struct RsaDecryptOp {
    key_id: u8,
    k: usize,
    scheme: Scheme,
    /// Ciphertext of C_DecryptUpdate calls.
    buffer: Vec<u8>,
    pending: Option<Pending>,
}

impl RsaDecryptOp {
    pub fn init(s: &SessionRef, mechanism: &Mechanism, handle: CK_OBJECT_HANDLE) -> Result<Self> {
        let spec = keycheck::mechanism(s, mechanism, Function::Decrypt)?;
        let key = keycheck::key(s, handle, spec, Function::Decrypt)?;
        let scheme = Scheme::of(mechanism)?;
        Ok(RsaDecryptOp {
            key_id: keycheck::card_key(s, &key)?,
            k: keycheck::modulus_bytes(&key),
            scheme,
            buffer: Vec::new(),
            pending: None,
        })
    }

    fn decrypt(&self, s: &SessionRef, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let id = self.key_id;
        let raw = s.with_card(CardOp::Decrypt, |d| d.decipher_rsa_raw(id, ciphertext))?;
        if raw.len() > self.k {
            log::warn!(
                "RSA decryption of {} bytes for a {}-byte modulus",
                raw.len(),
                self.k
            );
            return Err(Error::DeviceError);
        }
        let block = Zeroizing::new(left_pad(raw.expose(), self.k));
        let plain = match &self.scheme {
            Scheme::Raw => Some(block),
            Scheme::Pkcs1 => pkcs1::unpad_type2(&block),
            Scheme::Oaep(p) => oaep::decode(&block, p.hash, p.mgf, &p.label),
        };
        // One answer for every padding failure: nothing says where it went wrong.
        plain.ok_or(Error::EncryptedDataInvalid)
    }

    /// Decrypts `ciphertext` for a caller with `capacity` bytes of room.
    fn answer(
        &mut self,
        s: &SessionRef,
        ciphertext: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        if let Some(p) = self.pending.take() {
            if p.ciphertext == ciphertext {
                let out = deliver(p.plaintext.to_vec(), capacity);
                if matches!(out, Output::Len(_)) {
                    self.pending = Some(p);
                }
                return Ok(out);
            }
        }
        if ciphertext.len() != self.k {
            return Err(Error::EncryptedDataLenRange);
        }
        let most = self.scheme.max_plaintext(self.k);
        let exact_known = matches!(self.scheme, Scheme::Raw);
        if capacity.is_none() || (exact_known && !fits(most, capacity)) {
            return Ok(Output::Len(most));
        }
        let plaintext = self.decrypt(s, ciphertext)?;
        if fits(plaintext.len(), capacity) {
            return Ok(Output::Data(plaintext.to_vec()));
        }
        let len = plaintext.len();
        self.pending = Some(Pending {
            ciphertext: ciphertext.to_vec(),
            plaintext,
        });
        Ok(Output::Len(len))
    }
}

impl Part for RsaDecryptOp {
    fn single(&mut self, s: &SessionRef, data: &[u8], capacity: Option<usize>) -> Result<Output> {
        self.answer(s, data, capacity)
    }

    /// RSA decryption is single-part in PKCS#11; updates collect the ciphertext for the final.
    fn update(&mut self, _s: &SessionRef, data: &[u8], _capacity: Option<usize>) -> Result<Output> {
        if self.buffer.len() + data.len() > self.k {
            return Err(Error::EncryptedDataLenRange);
        }
        self.buffer.extend_from_slice(data);
        Ok(Output::Data(Vec::new()))
    }

    fn finish(&mut self, s: &SessionRef, capacity: Option<usize>) -> Result<Output> {
        let ciphertext = self.buffer.clone();
        self.answer(s, &ciphertext, capacity)
    }
}

pub struct RsaEncryptOp {
    key: RsaPublic,
    scheme: Scheme,
    buffer: Zeroizing<Vec<u8>>,
}

impl RsaEncryptOp {
    pub fn init(s: &SessionRef, mechanism: &Mechanism, handle: CK_OBJECT_HANDLE) -> Result<Self> {
        let spec = keycheck::mechanism(s, mechanism, Function::Encrypt)?;
        let key = keycheck::key(s, handle, spec, Function::Encrypt)?;
        let scheme = Scheme::of(mechanism)?;
        let public = match key.public.as_ref().map(|p| &p.kind) {
            Some(PublicKind::Rsa { modulus, exponent }) => {
                RsaPublic::new(modulus, exponent).map_err(|_| Error::KeyTypeInconsistent)?
            }
            _ => return Err(Error::KeyFunctionNotPermitted),
        };
        Ok(RsaEncryptOp {
            key: public,
            scheme,
            buffer: Zeroizing::new(Vec::new()),
        })
    }

    fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let r = match &self.scheme {
            Scheme::Raw => self.key.encrypt_raw(plaintext),
            Scheme::Pkcs1 => self.key.encrypt_pkcs1(plaintext),
            Scheme::Oaep(p) => self.key.encrypt_oaep(p.hash, p.mgf, &p.label, plaintext),
        };
        r.map_err(|e| match e {
            RsaError::DataLen => Error::DataLenRange,
            RsaError::DataInvalid => Error::DataInvalid,
            RsaError::BadKey => Error::KeyTypeInconsistent,
            RsaError::Rng => Error::FunctionFailed,
        })
    }
}

impl Part for RsaEncryptOp {
    fn single(&mut self, _s: &SessionRef, data: &[u8], capacity: Option<usize>) -> Result<Output> {
        let k = self.key.size();
        if !fits(k, capacity) {
            return Ok(Output::Len(k));
        }
        Ok(Output::Data(self.encrypt(data)?))
    }

    fn update(&mut self, _s: &SessionRef, data: &[u8], _capacity: Option<usize>) -> Result<Output> {
        if self.buffer.len() + data.len() > self.scheme.max_plaintext(self.key.size()) {
            return Err(Error::DataLenRange);
        }
        self.buffer.extend_from_slice(data);
        Ok(Output::Data(Vec::new()))
    }

    fn finish(&mut self, _s: &SessionRef, capacity: Option<usize>) -> Result<Output> {
        let k = self.key.size();
        if !fits(k, capacity) {
            return Ok(Output::Len(k));
        }
        Ok(Output::Data(self.encrypt(&self.buffer)?))
    }
}
