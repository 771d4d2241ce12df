//! CKM_AES_CBC and CKM_AES_CBC_PAD on the card (CIPHER SYMMETRIC P2 10/11, fw ≥ 3.0).
//!
//! The card always starts from a zero IV, so the host chains: before encryption it XORs the
//! current IV (the caller's, then the last ciphertext block) into the first block; after
//! decryption it XORs it into the first output block. PKCS#7 padding is added and removed on
//! the host (removal checked in constant time). Multi-part decryption with padding holds the
//! last block back until C_DecryptFinal, as it may be the padding.

use cryptoki_sys::{CKM_AES_CBC_PAD, CK_OBJECT_HANDLE};
use zeroize::Zeroizing;

use super::keycheck::{self, Function};
use super::{deliver, fits, params, Part};
use crate::card::algorithm::CipherAlgorithm;
use crate::card::Error as CardError;
use crate::token::api::{Mechanism, Output};
use crate::token::card_error::CardOp;
use crate::token::crypto::cbc::{self, BLOCK};
use crate::token::error::{Error, Result};
use crate::token::session::SessionRef;

/// A decrypted result not yet delivered, with the ciphertext it came from.
struct Pending {
    ciphertext: Vec<u8>,
    plaintext: Zeroizing<Vec<u8>>,
    /// The IV before that decryption (restored if the caller asks for another ciphertext).
    iv_before: [u8; BLOCK],
}

pub struct AesOp {
    key_id: u8,
    encrypt: bool,
    pad: bool,
    /// The IV of the next block: the caller's at first, then the last ciphertext block.
    iv: [u8; BLOCK],
    /// Input not processed yet (less than a block, or the held-back last block).
    buffer: Zeroizing<Vec<u8>>,
    pending: Option<Pending>,
}

impl AesOp {
    pub fn init(
        s: &SessionRef,
        mechanism: &Mechanism,
        handle: CK_OBJECT_HANDLE,
        encrypt: bool,
    ) -> Result<AesOp> {
        let function = if encrypt {
            Function::Encrypt
        } else {
            Function::Decrypt
        };
        let spec = keycheck::mechanism(s, mechanism, function)?;
        let key = keycheck::key(s, handle, spec, function)?;
        let iv = params::iv(mechanism)?;
        Ok(AesOp {
            key_id: keycheck::card_key(s, &key)?,
            encrypt,
            pad: spec.kind == CKM_AES_CBC_PAD,
            iv,
            buffer: Zeroizing::new(Vec::new()),
            pending: None,
        })
    }

    fn len_error(&self) -> Error {
        if self.encrypt {
            Error::DataLenRange
        } else {
            Error::EncryptedDataLenRange
        }
    }

    /// Runs whole blocks through the card, chaining from `self.iv`, and advances the IV.
    fn run(&mut self, s: &SessionRef, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if data.is_empty() {
            return Ok(Zeroizing::new(Vec::new()));
        }
        let (id, encrypt, start_iv) = (self.key_id, self.encrypt, self.iv);
        let op = if encrypt {
            CardOp::Encrypt
        } else {
            CardOp::Decrypt
        };
        let (out, iv) = s.with_card(op, |d| {
            // Whole blocks per APDU, within what the device and the reader carry (header, Lc
            // and Le take 9 bytes; the answer is as long as the input plus the status word).
            let chunk = (d.max_apdu_len().saturating_sub(16) / BLOCK).max(1) * BLOCK;
            let mut iv = start_iv;
            let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
            for part in data.chunks(chunk) {
                let result = if encrypt {
                    let mut p = Zeroizing::new(part.to_vec());
                    cbc::xor_first_block(&mut p, &iv);
                    d.cipher(id, CipherAlgorithm::AesCbcEncrypt, &p)?
                } else {
                    d.cipher(id, CipherAlgorithm::AesCbcDecrypt, part)?
                };
                if result.len() != part.len() {
                    return Err(CardError::malformed(format!(
                        "AES-CBC gave {} bytes for {}",
                        result.len(),
                        part.len()
                    )));
                }
                let mut block = Zeroizing::new(result.expose().to_vec());
                if !encrypt {
                    cbc::xor_first_block(&mut block, &iv);
                }
                let last = if encrypt { &block[..] } else { part };
                iv = cbc::last_block(last).unwrap_or(iv);
                out.extend_from_slice(&block);
            }
            Ok((out, iv))
        })?;
        self.iv = iv;
        Ok(out)
    }

    /// How many bytes of `total` buffered input an update may process now.
    fn processable(&self, total: usize) -> usize {
        let whole = total / BLOCK * BLOCK;
        if !self.encrypt && self.pad && whole == total {
            // The last block may be the padding: keep it for C_DecryptFinal.
            whole.saturating_sub(BLOCK)
        } else {
            whole
        }
    }

    /// Decrypts with padding, keeping a result that does not fit (the card is asked once).
    fn decrypt_padded(
        &mut self,
        s: &SessionRef,
        ciphertext: &[u8],
        capacity: Option<usize>,
        most: usize,
    ) -> Result<Output> {
        if let Some(p) = self.pending.take() {
            if p.ciphertext == ciphertext {
                let out = deliver(p.plaintext.to_vec(), capacity);
                if matches!(out, Output::Len(_)) {
                    self.pending = Some(p);
                }
                return Ok(out);
            }
            self.iv = p.iv_before;
        }
        if capacity.is_none() {
            return Ok(Output::Len(most));
        }
        let iv_before = self.iv;
        let mut plain = self.run(s, ciphertext)?;
        let last: [u8; BLOCK] = cbc::last_block(&plain).ok_or(Error::EncryptedDataLenRange)?;
        let keep = cbc::unpad_len(&last).ok_or(Error::EncryptedDataInvalid)?;
        let len = plain.len() - BLOCK + keep;
        plain.truncate(len);
        if fits(len, capacity) {
            return Ok(Output::Data(plain.to_vec()));
        }
        self.pending = Some(Pending {
            ciphertext: ciphertext.to_vec(),
            plaintext: plain,
            iv_before,
        });
        Ok(Output::Len(len))
    }
}

impl Part for AesOp {
    fn single(&mut self, s: &SessionRef, data: &[u8], capacity: Option<usize>) -> Result<Output> {
        if self.encrypt {
            let input = if self.pad {
                cbc::pad(data)
            } else if data.len() % BLOCK == 0 {
                Zeroizing::new(data.to_vec())
            } else {
                return Err(Error::DataLenRange);
            };
            if !fits(input.len(), capacity) {
                return Ok(Output::Len(input.len()));
            }
            return Ok(Output::Data(self.run(s, &input)?.to_vec()));
        }
        if data.len() % BLOCK != 0 || (self.pad && data.is_empty()) {
            return Err(self.len_error());
        }
        if self.pad {
            return self.decrypt_padded(s, data, capacity, data.len());
        }
        if !fits(data.len(), capacity) {
            return Ok(Output::Len(data.len()));
        }
        Ok(Output::Data(self.run(s, data)?.to_vec()))
    }

    fn update(&mut self, s: &SessionRef, data: &[u8], capacity: Option<usize>) -> Result<Output> {
        let total = self.buffer.len() + data.len();
        let n = self.processable(total);
        if !fits(n, capacity) {
            return Ok(Output::Len(n));
        }
        let mut all = Zeroizing::new(Vec::with_capacity(total));
        all.extend_from_slice(&self.buffer);
        all.extend_from_slice(data);
        let out = self.run(s, &all[..n])?;
        self.buffer = Zeroizing::new(all[n..].to_vec());
        Ok(Output::Data(out.to_vec()))
    }

    fn finish(&mut self, s: &SessionRef, capacity: Option<usize>) -> Result<Output> {
        if !self.pad {
            if !self.buffer.is_empty() {
                return Err(self.len_error());
            }
            return Ok(Output::Data(Vec::new()));
        }
        if self.encrypt {
            if !fits(BLOCK, capacity) {
                return Ok(Output::Len(BLOCK));
            }
            let input = cbc::pad(&self.buffer);
            return Ok(Output::Data(self.run(s, &input)?.to_vec()));
        }
        if self.buffer.len() != BLOCK {
            return Err(Error::EncryptedDataLenRange);
        }
        let last = self.buffer.to_vec();
        self.decrypt_padded(s, &last, capacity, BLOCK - 1)
    }
}
