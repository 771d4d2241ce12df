//! Private keys from the host into key blobs: PKCS#8 PrivateKeyInfo (RSA, EC), RSA from its
//! integers, EC from its scalar, and the facts a new key's description needs (size, default
//! CKA_ID). Used by the module's key import (C_CreateObject, CKM_SCHSM_PKCS8_IMPORT), its
//! unwrap, and schsm-tool's `import`, so that every path builds the same blob for the same key.
//!
//! Errors: `Malformed` for input that is not a usable key, `InvalidArgument` when a part is
//! missing (the caller may supply it), `Unsupported` for a curve the card does not know.

use sha1::{Digest, Sha1};

use super::blob::BlobKey;
use super::curves::Curve;
use super::error::{Error, Result};
use super::secret::SecretBytes;
use super::tlv::{self, Tlv};

const RSA_OID: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const EC_OID: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];

fn strip(v: &[u8]) -> &[u8] {
    let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[i..]
}

fn bad(what: &str) -> Error {
    Error::malformed(format!("key import: {what}"))
}

/// An RSA key from its parts `[n, e, d, p, q, dp, dq, qinv]` (big-endian integers); CRT form
/// up to 2048 bits, the private exponent form above (as CardContact's own importer does for
/// the HSM 2).
pub fn rsa_key(parts: [&[u8]; 8]) -> Result<BlobKey> {
    let [n, e, d, p, q, dp, dq, qinv] = parts.map(strip);
    if n.is_empty() || e.is_empty() || d.is_empty() {
        return Err(Error::InvalidArgument(
            "RSA key without modulus, public or private exponent".into(),
        ));
    }
    let bits = (n.len() * 8 - n[0].leading_zeros() as usize) as u16;
    let secret = SecretBytes::from_slice;
    if bits > 2048 || p.is_empty() || q.is_empty() || dp.is_empty() || dq.is_empty() {
        return Ok(BlobKey::Rsa {
            bits,
            d: secret(d),
            n: n.to_vec(),
            e: e.to_vec(),
        });
    }
    Ok(BlobKey::RsaCrt {
        bits,
        dp: secret(dp),
        dq: secret(dq),
        p: secret(p),
        qinv: secret(qinv),
        q: secret(q),
        n: n.to_vec(),
        e: e.to_vec(),
    })
}

/// The public point `04‖X‖Y` of scalar `d`, on the curves RustCrypto implements.
pub fn public_point(curve: &Curve, d: &[u8]) -> Option<Vec<u8>> {
    macro_rules! on {
        ($c:ident, $sk:ty) => {{
            use $c::elliptic_curve::sec1::ToSec1Point;
            let padded = zeroize::Zeroizing::new(super::curves::pad_to(d, curve.field_bytes)?);
            let sk = <$sk>::from_slice(&padded).ok()?;
            Some(sk.public_key().to_sec1_point(false).as_bytes().to_vec())
        }};
    }
    match curve.name {
        "secp256r1" => on!(p256, p256::SecretKey),
        "secp384r1" => on!(p384, p384::SecretKey),
        "secp521r1" => on!(p521, p521::SecretKey),
        "secp256k1" => on!(k256, k256::SecretKey),
        "brainpoolP256r1" => on!(bp256, bp256::r1::SecretKey),
        "brainpoolP384r1" => on!(bp384, bp384::r1::SecretKey),
        _ => None,
    }
}

/// An EC key from scalar `d` and, if known, its public point (computed when absent).
pub fn ec_key(curve: &'static Curve, d: &[u8], q: Option<&[u8]>) -> Result<BlobKey> {
    let q = match q {
        Some(q) => q.to_vec(),
        None => public_point(curve, d).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "give the public point for {}: it cannot be computed on this curve here",
                curve.name
            ))
        })?,
    };
    if q.len() != curve.point_len() || q[0] != 0x04 {
        return Err(bad(
            "public point is not an uncompressed point of the curve",
        ));
    }
    BlobKey::ec(curve, strip(d), &q).map_err(|e| bad(&e.to_string()))
}

/// PKCS#8 PrivateKeyInfo (unencrypted DER) → the key.
pub fn from_pkcs8(der: &[u8]) -> Result<BlobKey> {
    let top = Tlv::parse(der).map_err(|_| bad("not DER"))?.0;
    let parts = tlv::parse_all(top.value).map_err(|_| bad("not DER"))?;
    let [version, alg, key, ..] = &parts[..] else {
        return Err(bad("PrivateKeyInfo too short"));
    };
    if top.tag != 0x30 || version.tag != 0x02 || alg.tag != 0x30 || key.tag != 0x04 {
        return Err(bad("not a PKCS#8 PrivateKeyInfo"));
    }
    let alg = tlv::parse_all(alg.value).map_err(|_| bad("bad AlgorithmIdentifier"))?;
    let oid = alg
        .first()
        .filter(|o| o.tag == 0x06)
        .ok_or_else(|| bad("no OID"))?;
    let inner = Tlv::parse(key.value).map_err(|_| bad("bad private key"))?.0;
    let fields = tlv::parse_all(inner.value).map_err(|_| bad("bad private key"))?;
    if oid.value == RSA_OID {
        // RSAPrivateKey: version, n, e, d, p, q, dp, dq, qinv
        if fields.len() < 9 || fields[..9].iter().any(|f| f.tag != 0x02) {
            return Err(bad("RSAPrivateKey incomplete"));
        }
        let v = |i: usize| fields[i].value;
        return rsa_key([v(1), v(2), v(3), v(4), v(5), v(6), v(7), v(8)]);
    }
    if oid.value != EC_OID {
        return Err(bad("algorithm is neither RSA nor EC"));
    }
    // ECPrivateKey: version 1, OCTET STRING d, [0] parameters, [1] BIT STRING public key
    let named = alg.get(1).filter(|p| p.tag == 0x06).map(|p| p.value);
    let named = named.or_else(|| {
        fields
            .iter()
            .find(|f| f.tag == 0xA0)
            .and_then(|f| Tlv::parse(f.value).ok())
            .filter(|(t, _)| t.tag == 0x06)
            .map(|(t, _)| t.value)
    });
    let curve = named
        .and_then(Curve::by_oid)
        .ok_or_else(|| Error::Unsupported("the key's curve".into()))?;
    let d = fields
        .iter()
        .find(|f| f.tag == 0x04)
        .ok_or_else(|| bad("ECPrivateKey without key"))?;
    let q = fields
        .iter()
        .find(|f| f.tag == 0xA1)
        .and_then(|f| Tlv::parse(f.value).ok())
        .filter(|(t, _)| t.tag == 0x03 && t.value.first() == Some(&0))
        .map(|(t, _)| t.value[1..].to_vec());
    ec_key(curve, d.value, q.as_deref())
}

impl BlobKey {
    /// Size in bits (modulus, curve field, AES key) and the default CKA_ID: SHA-1 of the
    /// modulus / of X, as OpenSC and the module's key generation make it; none for AES.
    pub fn facts(&self) -> (u16, Option<Vec<u8>>) {
        match self {
            BlobKey::Rsa { n, .. } | BlobKey::RsaCrt { n, .. } => {
                let n = strip(n);
                let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
                (bits as u16, Some(Sha1::digest(n).to_vec()))
            }
            BlobKey::Ec { bits, q, .. } => {
                let bits = self.curve().map_or(*bits, |c| c.field_bits);
                let half = q.len().saturating_sub(1) / 2;
                let x = q.get(1..1 + half).unwrap_or_default();
                (bits, Some(Sha1::digest(x).to_vec()))
            }
            BlobKey::Aes { key } => ((key.len() * 8) as u16, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pkcs8_is_an_error() {
        assert!(from_pkcs8(&[]).is_err());
        assert!(from_pkcs8(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        // version, rsaEncryption, OCTET STRING with an empty SEQUENCE
        let der = tlv::encode(
            0x30,
            &[
                tlv::encode(0x02, &[0]),
                tlv::encode(
                    0x30,
                    &[tlv::encode(0x06, RSA_OID), vec![0x05, 0x00]].concat(),
                ),
                tlv::encode(0x04, &tlv::encode(0x30, &[])),
            ]
            .concat(),
        );
        assert!(matches!(from_pkcs8(&der), Err(Error::Malformed(_))));
    }

    #[test]
    fn ec_point_is_computed_and_facts() {
        let c = Curve::by_name("secp256r1").unwrap();
        let mut d = [0u8; 32];
        d[31] = 1;
        // 1·G = G
        assert_eq!(public_point(c, &d).unwrap(), c.generator());
        assert!(public_point(Curve::by_name("secp192r1").unwrap(), &d).is_none());
        let k = ec_key(c, &d, None).unwrap();
        let (bits, id) = k.facts();
        assert_eq!((bits, id.unwrap().len()), (256, 20));
        assert!(matches!(
            rsa_key([&[], &[], &[], &[], &[], &[], &[], &[]]),
            Err(Error::InvalidArgument(_))
        ));
    }
}
