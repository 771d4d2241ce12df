//! RSA operations of the card on the stored CRT key (generation, raw private operation,
//! PKCS#1 v1.5 type-1 and PSS signatures), on top of the `rsa` crate.

use rsa::{
    traits::{PrivateKeyParts, PublicKeyParts},
    BoxedUint, Pkcs1v15Sign, PrivateKey as RsaPrivateKey, Pss,
};

use super::{ec, ec::fit, CryptoError, HashAlg};
use crate::keys::KeyMaterial;

/// Modulus sizes the simulated HSM 2 accepts (PROTOCOL §12.2: 1024..4096; OpenSC offers 1024,
/// 1536, 2048, 3072, 4096; pico accepts any multiple of 8).
pub(crate) fn size_supported(bits: usize) -> bool {
    (1024..=4096).contains(&bits) && bits % 8 == 0
}

pub(crate) fn generate(bits: usize, public_exponent: &[u8]) -> Result<KeyMaterial, CryptoError> {
    if !size_supported(bits) {
        return Err(CryptoError::Unsupported);
    }
    // Only odd exponents >= 3 make an RSA key; the crate enforces its own upper bound.
    let odd = public_exponent.last().is_some_and(|b| b & 1 == 1);
    let above_one = ec::fit(public_exponent, 1).is_none_or(|v| v[0] > 1);
    if !odd || !above_one {
        return Err(CryptoError::InvalidInput);
    }
    let e = BoxedUint::from_be_slice_vartime(public_exponent);
    let key = RsaPrivateKey::new_with_exp(&mut rand::rng(), bits, e)
        .map_err(|_| CryptoError::Unsupported)?;
    Ok(material_of(&key))
}

/// The card's stored form of a key from the crate: n, e trimmed; d at modulus width; p, q.
pub(crate) fn material_of(key: &RsaPrivateKey) -> KeyMaterial {
    let n = key.n().as_ref().to_be_bytes_trimmed_vartime().to_vec();
    let k = n.len();
    let primes = key.primes();
    KeyMaterial::Rsa {
        bits: key.n().as_ref().bit_width_vartime() as u16,
        e: key.e().to_be_bytes_trimmed_vartime().to_vec(),
        d: fit(&key.d().to_be_bytes_trimmed_vartime(), k).unwrap_or_default(),
        p: primes[0].as_ref().to_be_bytes_trimmed_vartime().to_vec(),
        q: primes[1].as_ref().to_be_bytes_trimmed_vartime().to_vec(),
        n,
    }
}

/// Build the crate's key from stored material (validates it; a corrupt key is refused).
pub(crate) fn private_key(key: &KeyMaterial) -> Result<RsaPrivateKey, CryptoError> {
    let KeyMaterial::Rsa { n, e, d, p, q, .. } = key else {
        return Err(CryptoError::InvalidInput);
    };
    let uint = |v: &[u8]| BoxedUint::from_be_slice_vartime(v);
    let primes = || vec![uint(p), uint(q)];
    RsaPrivateKey::from_components(uint(n), uint(e), uint(d), primes())
        // Imported keys may have unbalanced primes, which the fast constructor refuses.
        .or_else(|_| {
            RsaPrivateKey::from_components_with_wide_primes(uint(n), uint(e), uint(d), primes())
        })
        .map_err(|_| CryptoError::Malformed)
}

/// Byte length of the modulus.
fn modulus_len(key: &RsaPrivateKey) -> usize {
    key.size()
}

/// m^d mod n of a block of exactly modulus length that is smaller than n.
pub(crate) fn raw(key: &KeyMaterial, input: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = private_key(key)?;
    let k = modulus_len(&key);
    if input.len() != k {
        return Err(CryptoError::InvalidInput);
    }
    let c = BoxedUint::from_be_slice(input, key.n_bits_precision())
        .map_err(|_| CryptoError::InvalidInput)?;
    if c >= *key.n().as_ref() {
        return Err(CryptoError::InvalidInput);
    }
    // Blinded and checked against m^e (fault attack counter-measure, as a card would).
    let m = rsa::hazmat::rsa_decrypt_and_check(&key, Some(&mut rand::rng()), &c)
        .map_err(|_| CryptoError::InvalidInput)?;
    fit(&m.to_be_bytes(), k).ok_or(CryptoError::InvalidInput)
}

/// PKCS#1 v1.5 type-1 padding over `data` (normally a DigestInfo), then the private operation.
pub(crate) fn pkcs1_sign(key: &KeyMaterial, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = private_key(key)?;
    key.sign_with_rng(&mut rand::rng(), Pkcs1v15Sign::new_unprefixed(), data)
        .map_err(|_| CryptoError::InvalidInput)
}

/// RSASSA-PSS over a hash: MGF1 with the same hash, salt length = hash length.
pub(crate) fn pss_sign(
    key: &KeyMaterial,
    alg: HashAlg,
    hash: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if hash.len() != alg.output_len() {
        return Err(CryptoError::InvalidInput);
    }
    let key = private_key(key)?;
    let rng = &mut rand::rng();
    let sig = match alg {
        HashAlg::Sha1 => key.sign_with_rng(rng, Pss::<sha1::Sha1>::new(), hash),
        HashAlg::Sha224 => key.sign_with_rng(rng, Pss::<sha2::Sha224>::new(), hash),
        HashAlg::Sha256 => key.sign_with_rng(rng, Pss::<sha2::Sha256>::new(), hash),
        HashAlg::Sha384 => key.sign_with_rng(rng, Pss::<sha2::Sha384>::new(), hash),
        HashAlg::Sha512 => key.sign_with_rng(rng, Pss::<sha2::Sha512>::new(), hash),
    };
    // Too large a hash for the modulus (e.g. SHA-512 with a 1024-bit key) fails here.
    sig.map_err(|_| CryptoError::InvalidInput)
}

/// The CRT parameters (dP = d mod (p−1), dQ = d mod (q−1), qInv = q⁻¹ mod p) of a stored key.
pub(crate) fn crt_parts(key: &KeyMaterial) -> Result<[Vec<u8>; 3], CryptoError> {
    let rsa = private_key(key)?;
    let trim = |v: &BoxedUint| v.to_be_bytes_trimmed_vartime().to_vec();
    let dp = rsa.dp().ok_or(CryptoError::Malformed)?;
    let dq = rsa.dq().ok_or(CryptoError::Malformed)?;
    let qinv = rsa.crt_coefficient().ok_or(CryptoError::Malformed)?;
    Ok([trim(dp), trim(dq), trim(&qinv)])
}

/// A key given as modulus, public and private exponent (blob type 5): the primes are recovered
/// (NIST SP 800-56B C.2, done by the crate).
pub(crate) fn from_private_exponent(
    n: &[u8],
    e: &[u8],
    d: &[u8],
) -> Result<KeyMaterial, CryptoError> {
    let uint = BoxedUint::from_be_slice_vartime;
    let key = RsaPrivateKey::from_components(uint(n), uint(e), uint(d), Vec::new())
        .map_err(|_| CryptoError::Malformed)?;
    Ok(material_of(&key))
}

/// A key given in CRT form (blob type 6). The private exponent is rebuilt from p, q, e with
/// Euler's totient, as the crate's key generation does (so our own keys come back identical);
/// the given modulus and CRT values must agree with it.
pub(crate) fn from_crt(
    p: &[u8],
    q: &[u8],
    e: &[u8],
    n: &[u8],
    crt: [&[u8]; 3],
) -> Result<KeyMaterial, CryptoError> {
    let uint = BoxedUint::from_be_slice_vartime;
    let key = RsaPrivateKey::from_primes(vec![uint(p), uint(q)], uint(e))
        .map_err(|_| CryptoError::Malformed)?;
    let material = material_of(&key);
    let KeyMaterial::Rsa { n: built_n, .. } = &material else {
        return Err(CryptoError::Malformed);
    };
    let same = |a: &[u8], b: &[u8]| fit(a, b.len().max(a.len())) == fit(b, b.len().max(a.len()));
    let expected = crt_parts(&material)?;
    if !same(n, built_n) || expected.iter().zip(crt).any(|(x, y)| !same(x, y)) {
        return Err(CryptoError::Malformed);
    }
    Ok(material)
}
