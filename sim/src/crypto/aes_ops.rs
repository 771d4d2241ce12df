//! AES operations of CIPHER SYMMETRIC (PROTOCOL §4.16): CBC with a zero IV and CMAC, for
//! 128/192/256-bit keys.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::{block_padding::NoPadding, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use cmac::{Cmac, KeyInit, Mac};

use super::CryptoError;

const ZERO_IV: [u8; 16] = [0; 16];

fn check_blocks(data: &[u8]) -> Result<(), CryptoError> {
    if data.len() % 16 != 0 {
        return Err(CryptoError::InvalidInput);
    }
    Ok(())
}

/// Run `$body` with `$A` bound to the AES type for a key of `$key.len()` bytes.
macro_rules! with_aes {
    ($key:expr, $A:ident => $body:expr) => {
        match $key.len() {
            16 => {
                type $A = Aes128;
                $body
            }
            24 => {
                type $A = Aes192;
                $body
            }
            32 => {
                type $A = Aes256;
                $body
            }
            _ => Err(CryptoError::InvalidInput),
        }
    };
}

pub(crate) fn cbc_encrypt(key: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    check_blocks(data)?;
    with_aes!(key, A => {
        let enc = cbc::Encryptor::<A>::new_from_slices(key, &ZERO_IV)
            .map_err(|_| CryptoError::InvalidInput)?;
        let mut buf = data.to_vec();
        enc.encrypt_padded::<NoPadding>(&mut buf, data.len())
            .map_err(|_| CryptoError::InvalidInput)?;
        Ok(buf)
    })
}

pub(crate) fn cbc_decrypt(key: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    check_blocks(data)?;
    with_aes!(key, A => {
        let dec = cbc::Decryptor::<A>::new_from_slices(key, &ZERO_IV)
            .map_err(|_| CryptoError::InvalidInput)?;
        let mut buf = data.to_vec();
        dec.decrypt_padded::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::InvalidInput)?;
        Ok(buf)
    })
}

pub(crate) fn cmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    with_aes!(key, A => {
        let mut mac = <Cmac<A> as KeyInit>::new_from_slice(key).map_err(|_| CryptoError::InvalidInput)?;
        mac.update(data);
        Ok(mac.finalize().into_bytes().to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn cmac_rfc4493_vectors() {
        let key = unhex("2b7e151628aed2a6abf7158809cf4f3c");
        assert_eq!(
            cmac(&key, &[]).unwrap(),
            unhex("bb1d6929e95937287fa37d129b756746")
        );
        let msg = unhex("6bc1bee22e409f96e93d7e117393172a");
        assert_eq!(
            cmac(&key, &msg).unwrap(),
            unhex("070a16b46b4d4144f79bdd9dd04a287c")
        );
    }

    #[test]
    fn cbc_sp800_38a_vector_and_round_trip() {
        // NIST SP 800-38A F.2.1 uses IV 000102..0F; with IV zero the first block is plain ECB.
        let key = unhex("2b7e151628aed2a6abf7158809cf4f3c");
        let pt = unhex("6bc1bee22e409f96e93d7e117393172a");
        assert_eq!(
            cbc_encrypt(&key, &pt).unwrap(),
            unhex("3ad77bb40d7a3660a89ecaf32466ef97")
        );
        for len in [16usize, 24, 32] {
            let key = vec![7u8; len];
            let data: Vec<u8> = (0..48u8).collect();
            let ct = cbc_encrypt(&key, &data).unwrap();
            assert_ne!(ct, data);
            assert_eq!(cbc_decrypt(&key, &ct).unwrap(), data);
        }
        assert_eq!(
            cbc_encrypt(&key, &[1, 2, 3]),
            Err(CryptoError::InvalidInput)
        );
        assert_eq!(
            cbc_decrypt(&[0u8; 15], &[0u8; 16]),
            Err(CryptoError::InvalidInput)
        );
    }
}
