//! C_Digest*: SHA-1 and SHA-2 in software (the card has no digest command).

use super::{keycheck, Part};
use crate::token::api::{Mechanism, Output};
use crate::token::crypto::hash::Hasher;
use crate::token::error::{Error, Result};
use crate::token::session::SessionRef;

pub struct DigestOp {
    hasher: Hasher,
}

impl DigestOp {
    pub fn init(s: &SessionRef, mechanism: &Mechanism) -> Result<DigestOp> {
        let spec = keycheck::mechanism(s, mechanism, keycheck::Function::Digest)?;
        keycheck::no_param(mechanism)?;
        let hash = spec.hash.ok_or(Error::MechanismInvalid)?;
        Ok(DigestOp {
            hasher: hash.hasher(),
        })
    }

    fn len(&self) -> usize {
        self.hasher.alg().len()
    }
}

impl Part for DigestOp {
    fn single(&mut self, _s: &SessionRef, data: &[u8], capacity: Option<usize>) -> Result<Output> {
        if !super::fits(self.len(), capacity) {
            return Ok(Output::Len(self.len()));
        }
        let mut h = self.hasher.clone();
        h.update(data);
        Ok(Output::Data(h.finalize()))
    }

    fn update(&mut self, _s: &SessionRef, data: &[u8], _capacity: Option<usize>) -> Result<Output> {
        self.hasher.update(data);
        Ok(Output::Data(Vec::new()))
    }

    fn finish(&mut self, _s: &SessionRef, capacity: Option<usize>) -> Result<Output> {
        if !super::fits(self.len(), capacity) {
            return Ok(Output::Len(self.len()));
        }
        Ok(Output::Data(self.hasher.clone().finalize()))
    }
}
