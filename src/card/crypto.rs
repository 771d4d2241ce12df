//! Thin wrappers over RustCrypto for the host-side formats (key blobs, share files): AES-256-CBC
//! and AES-256-CMAC. No primitive is implemented here. Each wrapper wipes the stack its cipher
//! used when it is done (`secret::wipe_stack`): the keys here are DKEK-derived or share keys.

use aes::Aes256;
use cbc::cipher::block_padding::{Iso7816, NoPadding, Pkcs7};
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use cmac::{KeyInit, Mac};

use super::error::{Error, Result};
use super::secret::{wipe_stack, SecretBytes};

type Enc = cbc::Encryptor<Aes256>;
type Dec = cbc::Decryptor<Aes256>;

/// Padding schemes the formats use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// ISO/IEC 9797-1 method 2 (`80 00 …`, always at least one byte): key blobs.
    Iso9797M2,
    /// PKCS#7: OpenSSL `enc` (share files).
    Pkcs7,
}

/// AES-256-CBC encryption with padding.
pub fn aes256_cbc_encrypt(
    key: &[u8; 32],
    iv: &[u8; 16],
    plain: &[u8],
    padding: Padding,
) -> Vec<u8> {
    let mut buf = vec![0u8; plain.len() + 16 - plain.len() % 16];
    buf[..plain.len()].copy_from_slice(plain);
    let enc = Enc::new(key.into(), iv.into());
    // The buffer always has room for one more block, which is what both paddings need at most.
    let n = match padding {
        Padding::Iso9797M2 => enc
            .encrypt_padded::<Iso7816>(&mut buf, plain.len())
            .map(|c| c.len()),
        Padding::Pkcs7 => enc
            .encrypt_padded::<Pkcs7>(&mut buf, plain.len())
            .map(|c| c.len()),
    }
    .unwrap_or(0);
    wipe_stack();
    buf.truncate(n);
    buf
}

/// AES-256-CBC decryption without removing padding; the input must be whole blocks.
pub fn aes256_cbc_decrypt_raw(key: &[u8; 32], iv: &[u8; 16], cipher: &[u8]) -> Result<SecretBytes> {
    if cipher.is_empty() || cipher.len() % 16 != 0 {
        return Err(Error::malformed(format!(
            "ciphertext of {} bytes is not whole AES blocks",
            cipher.len()
        )));
    }
    let mut buf = cipher.to_vec();
    let r = Dec::new(key.into(), iv.into())
        .decrypt_padded::<NoPadding>(&mut buf)
        .map(|_| ());
    wipe_stack();
    r.map_err(|_| Error::malformed("AES-CBC decryption failed"))?;
    Ok(SecretBytes::new(buf))
}

/// AES-256-CBC decryption removing PKCS#7 padding; `None` when the padding is wrong (which for
/// a password-derived key usually means a wrong password).
pub fn aes256_cbc_decrypt_pkcs7(
    key: &[u8; 32],
    iv: &[u8; 16],
    cipher: &[u8],
) -> Option<SecretBytes> {
    if cipher.is_empty() || cipher.len() % 16 != 0 {
        return None;
    }
    let mut buf = cipher.to_vec();
    let n = Dec::new(key.into(), iv.into())
        .decrypt_padded::<Pkcs7>(&mut buf)
        .ok()
        .map(|p| p.len());
    wipe_stack();
    let out = n.map(|n| SecretBytes::from_slice(&buf[..n]));
    zeroize::Zeroize::zeroize(&mut buf);
    out
}

/// AES-256-CMAC.
pub fn aes256_cmac(key: &[u8; 32], data: &[u8]) -> [u8; 16] {
    let tag = {
        let mut mac = <cmac::Cmac<Aes256> as KeyInit>::new(key.into());
        mac.update(data);
        mac.finalize().into_bytes().into()
    };
    wipe_stack();
    tag
}

/// Checks an AES-256-CMAC in constant time.
pub fn aes256_cmac_verify(key: &[u8; 32], data: &[u8], tag: &[u8]) -> bool {
    let ok = {
        let mut mac = <cmac::Cmac<Aes256> as KeyInit>::new(key.into());
        mac.update(data);
        mac.verify_slice(tag).is_ok()
    };
    wipe_stack();
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbc_round_trips_and_paddings() {
        let key = [7u8; 32];
        let iv = [0u8; 16];
        let c = aes256_cbc_encrypt(&key, &iv, &[1; 16], Padding::Iso9797M2);
        assert_eq!(c.len(), 32); // M2 always adds a byte, so an aligned input grows a block
        let p = aes256_cbc_decrypt_raw(&key, &iv, &c).unwrap();
        assert_eq!(
            &p.expose()[..17],
            &[[1u8; 16].as_slice(), &[0x80]].concat()[..]
        );
        assert!(p.expose()[17..].iter().all(|&b| b == 0));

        let c = aes256_cbc_encrypt(&key, &iv, &[2; 32], Padding::Pkcs7);
        assert_eq!(c.len(), 48);
        assert_eq!(
            aes256_cbc_decrypt_pkcs7(&key, &iv, &c).unwrap().expose(),
            &[2; 32]
        );
        assert!(aes256_cbc_decrypt_raw(&key, &iv, &[0; 15]).is_err());
    }

    #[test]
    fn cmac_rfc4493_style_check() {
        // NIST SP 800-38B example for AES-256, empty message.
        let key: [u8; 32] = crate::transport::mock::from_hex(
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
        )
        .try_into()
        .unwrap();
        let tag = aes256_cmac(&key, &[]);
        assert_eq!(
            tag.to_vec(),
            crate::transport::mock::from_hex("028962f61b7bf89efc6b551f4667d983")
        );
        assert!(aes256_cmac_verify(&key, &[], &tag));
        assert!(!aes256_cmac_verify(&key, &[0], &tag));
    }
}
