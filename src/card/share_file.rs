//! DKEK share files of `sc-hsm-tool --create-dkek-share` (`.pbe`, PROTOCOL.md §8.6):
//! `"Salted__" ‖ salt(8) ‖ AES-256-CBC(key, iv, share(32) ‖ PKCS#7)`, OpenSSL `enc`
//! compatible, with key ‖ iv = EVP_BytesToKey(MD5, salt, password, 10 000 000 rounds).

use md5::{Digest, Md5};

use super::crypto;
use super::dkek::DkekShare;
use super::error::{Error, Result};
use super::secret::{SecretArray, SecretBytes};

/// The magic at the start of every file.
pub const MAGIC: &[u8; 8] = b"Salted__";
/// sc-hsm-tool's default iteration count (`--iter`).
pub const DEFAULT_ITERATIONS: u32 = 10_000_000;
/// Size of a share file.
pub const FILE_LEN: usize = 64;

/// OpenSSL's EVP_BytesToKey for AES-256-CBC with MD5: D₁ = MD5ⁿ(pw ‖ salt),
/// Dᵢ = MD5ⁿ(Dᵢ₋₁ ‖ pw ‖ salt), where MD5ⁿ hashes once and then n−1 more times its own
/// output; key = first 32 bytes of D₁‖D₂‖D₃, iv = the next 16.
pub fn evp_bytes_to_key_md5(
    password: &[u8],
    salt: &[u8; 8],
    iterations: u32,
) -> Result<(SecretArray<32>, SecretArray<16>)> {
    evp_bytes_to_key_md5_with_progress(password, salt, iterations, &mut |_, _| {})
}

/// Rounds done and rounds in total of the share-file KDF (3 × iterations), reported about
/// every 65 536 rounds: tools show a progress bar for the 30 million MD5 rounds of a default
/// share file.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// [`evp_bytes_to_key_md5`] reporting its progress.
pub fn evp_bytes_to_key_md5_with_progress(
    password: &[u8],
    salt: &[u8; 8],
    iterations: u32,
    progress: Progress<'_>,
) -> Result<(SecretArray<32>, SecretArray<16>)> {
    if iterations == 0 {
        return Err(Error::InvalidArgument("iteration count 0".into()));
    }
    let mut material = SecretBytes::new(Vec::with_capacity(48));
    let mut prev: Option<SecretBytes> = None;
    while material.len() < 48 {
        let mut h = Md5::new();
        if let Some(p) = &prev {
            h.update(p.expose());
        }
        h.update(password);
        h.update(salt);
        let mut d: [u8; 16] = h.finalize().into();
        let done = (material.len() / 16) as u64 * u64::from(iterations);
        let total = 3 * u64::from(iterations);
        for i in 1..iterations {
            d = Md5::digest(d).into();
            if i & 0xFFFF == 0 {
                progress(done + u64::from(i), total);
            }
        }
        progress(done + u64::from(iterations), total);
        // Room for all 48 bytes at once: growing the vector would free the old buffer, with
        // the key material in it, unwiped.
        let mut joined = Vec::with_capacity(48);
        joined.extend_from_slice(material.expose());
        joined.extend_from_slice(&d);
        material = SecretBytes::new(joined);
        prev = Some(SecretBytes::from_slice(&d));
        zeroize::Zeroize::zeroize(&mut d);
    }
    let m = material.expose();
    let key = SecretArray::from_slice(&m[..32]).ok_or_else(|| Error::malformed("KDF"))?;
    let iv = SecretArray::from_slice(&m[32..48]).ok_or_else(|| Error::malformed("KDF"))?;
    Ok((key, iv))
}

/// Decrypts a share file. A wrong password almost always shows as bad padding
/// (`WrongPassword`); the share's KCV against the card is the final check.
pub fn decrypt_share_file(file: &[u8], password: &[u8], iterations: u32) -> Result<DkekShare> {
    decrypt_share_file_with_progress(file, password, iterations, &mut |_, _| {})
}

/// [`decrypt_share_file`] reporting the KDF's progress.
pub fn decrypt_share_file_with_progress(
    file: &[u8],
    password: &[u8],
    iterations: u32,
    progress: Progress<'_>,
) -> Result<DkekShare> {
    if file.len() != FILE_LEN || &file[..8] != MAGIC {
        return Err(Error::malformed(
            "not a DKEK share file (64 bytes starting with \"Salted__\")",
        ));
    }
    let mut salt = [0u8; 8];
    salt.copy_from_slice(&file[8..16]);
    let (key, iv) = evp_bytes_to_key_md5_with_progress(password, &salt, iterations, progress)?;
    let plain = crypto::aes256_cbc_decrypt_pkcs7(key.expose(), iv.expose(), &file[16..])
        .ok_or(Error::WrongPassword)?;
    if plain.len() != 32 {
        return Err(Error::WrongPassword);
    }
    DkekShare::from_slice(plain.expose())
}

/// Encrypts a share into a file sc-hsm-tool can import. `salt` should be fresh random bytes
/// (sc-hsm-tool takes them from GET CHALLENGE).
pub fn encrypt_share_file(
    share: &DkekShare,
    password: &[u8],
    salt: &[u8; 8],
    iterations: u32,
) -> Result<Vec<u8>> {
    encrypt_share_file_with_progress(share, password, salt, iterations, &mut |_, _| {})
}

/// [`encrypt_share_file`] reporting the KDF's progress.
pub fn encrypt_share_file_with_progress(
    share: &DkekShare,
    password: &[u8],
    salt: &[u8; 8],
    iterations: u32,
    progress: Progress<'_>,
) -> Result<Vec<u8>> {
    let (key, iv) = evp_bytes_to_key_md5_with_progress(password, salt, iterations, progress)?;
    let ct = crypto::aes256_cbc_encrypt(
        key.expose(),
        iv.expose(),
        share.expose(),
        crypto::Padding::Pkcs7,
    );
    let mut out = Vec::with_capacity(FILE_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(salt);
    out.extend_from_slice(&ct);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_matches_openssl_for_one_iteration() {
        // `openssl enc -aes-256-cbc -md md5 -S 0102030405060708 -k password -P` (iter 1):
        // D1 = MD5("password" ‖ salt), ...
        let (key, iv) = evp_bytes_to_key_md5(b"password", &[1, 2, 3, 4, 5, 6, 7, 8], 1).unwrap();
        let mut d1 = Md5::new();
        d1.update(b"password");
        d1.update([1, 2, 3, 4, 5, 6, 7, 8]);
        let d1: [u8; 16] = d1.finalize().into();
        assert_eq!(&key.expose()[..16], &d1);
        let mut d2 = Md5::new();
        d2.update(d1);
        d2.update(b"password");
        d2.update([1, 2, 3, 4, 5, 6, 7, 8]);
        let d2: [u8; 16] = d2.finalize().into();
        assert_eq!(&key.expose()[16..], &d2);
        assert_eq!(iv.expose().len(), 16);
    }

    #[test]
    fn round_trip_with_few_iterations() {
        let share = DkekShare::new([0x3C; 32]);
        let file = encrypt_share_file(&share, b"secret pw", &[9; 8], 1000).unwrap();
        assert_eq!(file.len(), FILE_LEN);
        assert_eq!(&file[..8], MAGIC);
        assert_eq!(
            decrypt_share_file(&file, b"secret pw", 1000).unwrap(),
            share
        );
        // A wrong password fails the padding check (or, 1 time in 256, gives a wrong share).
        match decrypt_share_file(&file, b"wrong pw", 1000) {
            Err(Error::WrongPassword) => {}
            Ok(other) => assert_ne!(other, share),
            Err(e) => panic!("{e}"),
        }
        assert!(decrypt_share_file(&file[..63], b"secret pw", 1000).is_err());
        assert!(decrypt_share_file(&[0; 64], b"secret pw", 1000).is_err());
        assert!(evp_bytes_to_key_md5(b"x", &[0; 8], 0).is_err());
        let mut last = (0, 0);
        evp_bytes_to_key_md5_with_progress(b"x", &[0; 8], 70_000, &mut |d, t| last = (d, t))
            .unwrap();
        assert_eq!(last, (210_000, 210_000));
    }
}
