//! RSA public-key operations in software, with the rsa crate: C_Verify (PKCS#1 v1.5, PSS, raw)
//! and C_Encrypt (PKCS#1 v1.5, OAEP, raw). The card holds only private keys; whatever a public
//! key can do, the host does without an APDU.

use rsa::hazmat::rsa_encrypt;
use rsa::pss::Pss;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Oaep, Pkcs1v15Encrypt, Pkcs1v15Sign};
use sha1::Sha1;
use sha2::{Sha224, Sha256, Sha384, Sha512};

use super::hash::HashAlg;

/// Why a public-key operation did not produce a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaError {
    /// The modulus or exponent is not a usable RSA key.
    BadKey,
    /// The input is too long or not smaller than the modulus.
    DataLen,
    /// The input is numerically out of range (≥ n).
    DataInvalid,
    /// The randomness source failed.
    Rng,
}

/// An RSA public key.
#[derive(Debug, Clone)]
pub struct RsaPublic {
    key: rsa::PublicKey,
    /// Modulus length in bytes (the size of signatures and ciphertexts).
    k: usize,
}

fn strip(v: &[u8]) -> &[u8] {
    let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[i..]
}

fn uint(bytes: &[u8], bits: usize) -> Option<BoxedUint> {
    let bits = u32::try_from(bits.max(64)).ok()?;
    BoxedUint::from_be_slice(bytes, bits).ok()
}

impl RsaPublic {
    /// From the big-endian modulus and public exponent (CKA_MODULUS, CKA_PUBLIC_EXPONENT).
    pub fn new(modulus: &[u8], exponent: &[u8]) -> Result<RsaPublic, RsaError> {
        let n = strip(modulus);
        let e = strip(exponent);
        let n_uint = uint(n, n.len() * 8).ok_or(RsaError::BadKey)?;
        let e_uint = uint(e, e.len() * 8).ok_or(RsaError::BadKey)?;
        // The card makes 1024..4096-bit keys; accept a little more on either side.
        let key = rsa::PublicKey::new_with_size_limits(n_uint, e_uint, 512..=8192)
            .map_err(|_| RsaError::BadKey)?;
        Ok(RsaPublic { key, k: n.len() })
    }

    /// Modulus length in bytes.
    pub fn size(&self) -> usize {
        self.k
    }

    /// PKCS#1 v1.5 signature over `t` (a DigestInfo, or whatever CKM_RSA_PKCS signed).
    pub fn verify_pkcs1(&self, t: &[u8], signature: &[u8]) -> bool {
        signature.len() == self.k
            && self
                .key
                .verify(Pkcs1v15Sign::new_unprefixed(), t, signature)
                .is_ok()
    }

    /// PSS signature over the hash `hashed` (MGF1 with `mgf`, salt of `salt_len` bytes).
    pub fn verify_pss(
        &self,
        hash: HashAlg,
        mgf: HashAlg,
        salt_len: usize,
        hashed: &[u8],
        signature: &[u8],
    ) -> bool {
        // The rsa crate uses one hash for both; the card (and this module's mechanisms) too.
        if hash != mgf || signature.len() != self.k || hashed.len() != hash.len() {
            return false;
        }
        let r = match hash {
            HashAlg::Sha1 => {
                self.key
                    .verify(Pss::<Sha1>::new_with_salt(salt_len), hashed, signature)
            }
            HashAlg::Sha224 => {
                self.key
                    .verify(Pss::<Sha224>::new_with_salt(salt_len), hashed, signature)
            }
            HashAlg::Sha256 => {
                self.key
                    .verify(Pss::<Sha256>::new_with_salt(salt_len), hashed, signature)
            }
            HashAlg::Sha384 => {
                self.key
                    .verify(Pss::<Sha384>::new_with_salt(salt_len), hashed, signature)
            }
            HashAlg::Sha512 => {
                self.key
                    .verify(Pss::<Sha512>::new_with_salt(salt_len), hashed, signature)
            }
        };
        r.is_ok()
    }

    /// The raw public operation s^e mod n as `k` bytes; `None` when `s` is not below n.
    fn raw(&self, input: &[u8]) -> Result<Vec<u8>, RsaError> {
        if input.len() > self.k {
            return Err(RsaError::DataLen);
        }
        let precision = self.key.n().bits_precision() as usize;
        let m = uint(input, precision).ok_or(RsaError::DataLen)?;
        if m >= *self.key.n().as_ref() {
            return Err(RsaError::DataInvalid);
        }
        let c = rsa_encrypt(&self.key, &m).map_err(|_| RsaError::DataInvalid)?;
        let bytes = c.to_be_bytes();
        // `bytes` has the precision's width (a multiple of 8 bytes); keep the low k bytes.
        let out = bytes[bytes.len().saturating_sub(self.k)..].to_vec();
        Ok(left_pad(&out, self.k))
    }

    /// CKM_RSA_X_509 verification: the recovered block equals the data left-padded with zeros.
    pub fn verify_raw(&self, data: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.k || data.len() > self.k {
            return false;
        }
        match self.raw(signature) {
            Ok(m) => m == left_pad(data, self.k),
            Err(_) => false,
        }
    }

    /// CKM_RSA_X_509 encryption of `data` (left-padded with zeros to k bytes).
    pub fn encrypt_raw(&self, data: &[u8]) -> Result<Vec<u8>, RsaError> {
        self.raw(&left_pad(data, self.k))
    }

    /// CKM_RSA_PKCS encryption (type 2 padding with random bytes).
    pub fn encrypt_pkcs1(&self, msg: &[u8]) -> Result<Vec<u8>, RsaError> {
        if msg.len() + super::pkcs1::OVERHEAD > self.k {
            return Err(RsaError::DataLen);
        }
        let mut rng = getrandom::SysRng;
        self.key
            .encrypt(&mut rng, Pkcs1v15Encrypt, msg)
            .map_err(|_| RsaError::Rng)
    }

    /// CKM_RSA_PKCS_OAEP encryption with `hash` for the label and `mgf` for MGF1.
    pub fn encrypt_oaep(
        &self,
        hash: HashAlg,
        mgf: HashAlg,
        label: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, RsaError> {
        if msg.len() + 2 * hash.len() + 2 > self.k {
            return Err(RsaError::DataLen);
        }
        let mut rng = getrandom::SysRng;
        let label: Box<[u8]> = label.into();
        macro_rules! with {
            ($D:ty, $M:ty) => {
                self.key.encrypt(
                    &mut rng,
                    Oaep::<$D, $M>::new_with_mgf_hash_and_label(label),
                    msg,
                )
            };
        }
        macro_rules! mgf_for {
            ($D:ty) => {
                match mgf {
                    HashAlg::Sha1 => with!($D, Sha1),
                    HashAlg::Sha224 => with!($D, Sha224),
                    HashAlg::Sha256 => with!($D, Sha256),
                    HashAlg::Sha384 => with!($D, Sha384),
                    HashAlg::Sha512 => with!($D, Sha512),
                }
            };
        }
        let r = match hash {
            HashAlg::Sha1 => mgf_for!(Sha1),
            HashAlg::Sha224 => mgf_for!(Sha224),
            HashAlg::Sha256 => mgf_for!(Sha256),
            HashAlg::Sha384 => mgf_for!(Sha384),
            HashAlg::Sha512 => mgf_for!(Sha512),
        };
        r.map_err(|_| RsaError::Rng)
    }
}

/// Left-pads `v` with zeros to `k` bytes (unchanged when it is already as long).
pub fn left_pad(v: &[u8], k: usize) -> Vec<u8> {
    let mut out = vec![0u8; k.saturating_sub(v.len())];
    out.extend_from_slice(v);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts;

    fn key() -> (rsa::PrivateKey, RsaPublic) {
        // A fixed small key keeps the test fast; 1024 bits is the card's minimum.
        let mut rng = getrandom::SysRng;
        let sk = rsa::PrivateKey::new(&mut rng, 1024).unwrap();
        let n = sk.n().to_be_bytes_trimmed_vartime();
        let e = sk.e().to_be_bytes_trimmed_vartime();
        let pk = RsaPublic::new(&n, &e).unwrap();
        (sk, pk)
    }

    #[test]
    fn verify_and_encrypt_round_trips() {
        let (sk, pk) = key();
        assert_eq!(pk.size(), 128);
        let hash = HashAlg::Sha256.digest(b"message");

        let t = HashAlg::Sha256.digest_info(&hash);
        let sig = sk.sign(Pkcs1v15Sign::new_unprefixed(), &t).unwrap();
        assert!(pk.verify_pkcs1(&t, &sig));
        let mut bad = sig.clone();
        bad[5] ^= 1;
        assert!(!pk.verify_pkcs1(&t, &bad));
        assert!(!pk.verify_pkcs1(&t, &sig[1..]));

        let mut rng = getrandom::SysRng;
        let pss = sk
            .sign_with_rng(&mut rng, Pss::<Sha256>::new(), &hash)
            .unwrap();
        assert!(pk.verify_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &hash, &pss));
        assert!(!pk.verify_pss(HashAlg::Sha256, HashAlg::Sha1, 32, &hash, &pss));
        assert!(!pk.verify_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &hash, &bad));

        let c = pk.encrypt_pkcs1(b"secret").unwrap();
        assert_eq!(sk.decrypt(Pkcs1v15Encrypt, &c).unwrap(), b"secret");
        let c = pk
            .encrypt_oaep(HashAlg::Sha256, HashAlg::Sha1, b"lbl", b"secret")
            .unwrap();
        let d = sk
            .decrypt(
                Oaep::<Sha256, Sha1>::new_with_mgf_hash_and_label(&b"lbl"[..]),
                &c,
            )
            .unwrap();
        assert_eq!(d, b"secret");
        assert_eq!(pk.encrypt_pkcs1(&[0; 118]).unwrap_err(), RsaError::DataLen);
    }

    #[test]
    fn raw_operations() {
        let (sk, pk) = key();
        // s = the crate's PKCS#1 signature, so s^e mod n is the type-1 block: raw verification
        // must recover exactly that block.
        let t = HashAlg::Sha1.digest_info(&HashAlg::Sha1.digest(b"x"));
        let sig = sk.sign(Pkcs1v15Sign::new_unprefixed(), &t).unwrap();
        let em = super::super::pkcs1::pad_type1(&t, 128).unwrap();
        assert!(pk.verify_raw(&em, &sig));
        assert!(pk.verify_raw(&em[1..], &sig), "short data is left-padded");
        assert!(!pk.verify_raw(&em[..127], &sig));
        assert_eq!(pk.encrypt_raw(&sig).unwrap(), em);
        assert_eq!(
            pk.encrypt_raw(&[0xFF; 128]).unwrap_err(),
            RsaError::DataInvalid
        );
        assert_eq!(pk.encrypt_raw(&[0x01; 129]).unwrap_err(), RsaError::DataLen);
        assert!(RsaPublic::new(&[0, 0], &[1, 0, 1]).is_err());
    }
}
