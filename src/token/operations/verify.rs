//! C_Verify*: in software with the public key (of a public-key object, or the public part of a
//! private key), except AES-CMAC, which the card recomputes.

use cryptoki_sys::CK_OBJECT_HANDLE;
use subtle::ConstantTimeEq;

use super::keycheck::{self, Function};
use super::sign::{card_sign, How, Input, CMAC_LEN};
use crate::card::curves::Curve;
use crate::token::api::Mechanism;
use crate::token::crypto::ec_verify;
use crate::token::crypto::hash::HashAlg;
use crate::token::crypto::pkcs1;
use crate::token::crypto::rsa_public::RsaPublic;
use crate::token::error::{Error, Result};
use crate::token::objects::{KeyInfo, PublicKind};
use crate::token::session::SessionRef;

enum Verifier {
    Ecdsa {
        curve: &'static Curve,
        point: Vec<u8>,
        field_bytes: usize,
    },
    RsaPkcs1 {
        key: RsaPublic,
        hash: Option<HashAlg>,
    },
    RsaRaw(RsaPublic),
    RsaPss {
        key: RsaPublic,
        hash: HashAlg,
    },
    Cmac {
        key_id: u8,
    },
}

pub struct VerifyOp {
    verifier: Verifier,
    input: Input,
}

fn rsa_public(key: &KeyInfo) -> Result<RsaPublic> {
    match key.public.as_ref().map(|p| &p.kind) {
        Some(PublicKind::Rsa { modulus, exponent }) => {
            RsaPublic::new(modulus, exponent).map_err(|e| {
                log::warn!("key {}: unusable RSA public key ({e:?})", key.handle);
                Error::KeyTypeInconsistent
            })
        }
        _ => Err(no_public(key)),
    }
}

fn no_public(key: &KeyInfo) -> Error {
    log::info!(
        "key {}: its public part is not known (no CE file), so it cannot verify",
        key.handle
    );
    Error::KeyFunctionNotPermitted
}

impl VerifyOp {
    pub fn init(
        s: &SessionRef,
        mechanism: &Mechanism,
        handle: CK_OBJECT_HANDLE,
    ) -> Result<VerifyOp> {
        let spec = keycheck::mechanism(s, mechanism, Function::Verify)?;
        let key = keycheck::key(s, handle, spec, Function::Verify)?;
        // The signing rules (parameters, sizes) apply to verification too.
        let verifier = match How::of(mechanism, &key)? {
            How::Ecdsa { field_bytes, .. } => {
                let Some(PublicKind::Ec { curve, point, .. }) =
                    key.public.as_ref().map(|p| &p.kind)
                else {
                    return Err(no_public(&key));
                };
                let curve = curve.filter(|c| ec_verify::supported(c)).ok_or_else(|| {
                    log::info!("key {handle}: no software ECDSA verification on its curve");
                    Error::CurveNotSupported
                })?;
                Verifier::Ecdsa {
                    curve,
                    point: point.clone(),
                    field_bytes,
                }
            }
            How::RsaPkcs1 { hash, .. } => Verifier::RsaPkcs1 {
                key: rsa_public(&key)?,
                hash,
            },
            How::RsaRaw { .. } => Verifier::RsaRaw(rsa_public(&key)?),
            How::RsaPss { hash, .. } => Verifier::RsaPss {
                key: rsa_public(&key)?,
                hash,
            },
            How::Cmac => Verifier::Cmac {
                key_id: keycheck::card_key(s, &key)?,
            },
            // Only private keys (with a description) sign on the card's hash.
            How::CardHash { .. } => return Err(Error::KeyFunctionNotPermitted),
        };
        Ok(VerifyOp {
            verifier,
            input: Input::new(spec.hash),
        })
    }

    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    pub fn verify(&mut self, s: &SessionRef, data: &[u8], signature: &[u8]) -> Result<()> {
        self.check_len(signature)?;
        let message = self.input.with(data)?;
        self.check(s, &message, signature)
    }

    pub fn verify_final(&mut self, s: &SessionRef, signature: &[u8]) -> Result<()> {
        self.check_len(signature)?;
        let message = self.input.message();
        self.check(s, &message, signature)
    }

    fn check_len(&self, signature: &[u8]) -> Result<()> {
        let want = match &self.verifier {
            Verifier::Ecdsa { field_bytes, .. } => 2 * field_bytes,
            Verifier::RsaPkcs1 { key, .. }
            | Verifier::RsaRaw(key)
            | Verifier::RsaPss { key, .. } => key.size(),
            Verifier::Cmac { .. } => CMAC_LEN,
        };
        if signature.len() == want {
            Ok(())
        } else {
            Err(Error::SignatureLenRange)
        }
    }

    fn check(&self, s: &SessionRef, message: &[u8], signature: &[u8]) -> Result<()> {
        let good = match &self.verifier {
            Verifier::Ecdsa { curve, point, .. } => {
                if message.is_empty() {
                    return Err(Error::DataLenRange);
                }
                ec_verify::verify(curve, point, message, signature) == Some(true)
            }
            Verifier::RsaPkcs1 { key, hash } => {
                let t = match hash {
                    Some(h) => h.digest_info(message),
                    None => message.to_vec(),
                };
                if t.len() + pkcs1::OVERHEAD > key.size() {
                    return Err(Error::DataLenRange);
                }
                key.verify_pkcs1(&t, signature)
            }
            Verifier::RsaRaw(key) => {
                if message.len() > key.size() {
                    return Err(Error::DataLenRange);
                }
                key.verify_raw(message, signature)
            }
            Verifier::RsaPss { key, hash } => {
                if message.len() != hash.len() {
                    return Err(Error::DataLenRange);
                }
                key.verify_pss(*hash, *hash, hash.len(), message, signature)
            }
            Verifier::Cmac { key_id } => {
                let mac = card_sign(s, *key_id, How::Cmac, message)?;
                bool::from(mac.ct_eq(signature))
            }
        };
        if good {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}
