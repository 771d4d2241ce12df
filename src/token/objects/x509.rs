//! The few X.509 fields PKCS#11 exposes (subject, issuer, serial number, public key), read with
//! a small DER walker over `card::tlv` rather than a certificate crate: we only locate fields
//! and copy their bytes, never verify anything, and a walker of 100 lines is easier to audit
//! than a new dependency tree. Also the SubjectPublicKeyInfo of keys known from CV requests.

use super::model::{PublicInfo, PublicKind};
use crate::card::curves::Curve;
use crate::card::cvc;
use crate::card::tlv::{self, Tlv};

/// rsaEncryption 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
/// id-ecPublicKey 1.2.840.10045.2.1.
const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];

/// The parts of a certificate PKCS#11 attributes need (DER encodings, copied verbatim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X509 {
    /// The serial number INTEGER, tag and length included (CKA_SERIAL_NUMBER).
    pub serial: Vec<u8>,
    pub issuer: Vec<u8>,
    pub subject: Vec<u8>,
    /// SubjectPublicKeyInfo; its key when the algorithm is RSA or EC on a known curve.
    pub spki: Vec<u8>,
    pub public: Option<PublicInfo>,
}

fn bad(what: &str) -> String {
    format!("not an X.509 certificate: {what}")
}

/// Parses `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }`.
pub fn parse(der: &[u8]) -> Result<X509, String> {
    let cert = Tlv::parse_exact(der).map_err(|e| bad(&format!("{e:?}")))?;
    if cert.tag != 0x30 {
        return Err(bad("outer tag"));
    }
    let tbs = Tlv::parse(cert.value).map_err(|_| bad("tbsCertificate"))?.0;
    if tbs.tag != 0x30 {
        return Err(bad("tbsCertificate tag"));
    }
    let fields = tlv::parse_all(tbs.value).map_err(|_| bad("tbsCertificate fields"))?;
    // [0] version is optional (v1 certificates omit it).
    let skip = usize::from(fields.first().is_some_and(|f| f.tag == 0xA0));
    let get = |i: usize, tag: u16, what: &str| -> Result<Tlv<'_>, String> {
        fields
            .get(skip + i)
            .filter(|f| f.tag == tag)
            .copied()
            .ok_or_else(|| bad(what))
    };
    let serial = get(0, 0x02, "serialNumber")?;
    get(1, 0x30, "signature")?;
    let issuer = get(2, 0x30, "issuer")?;
    get(3, 0x30, "validity")?;
    let subject = get(4, 0x30, "subject")?;
    let spki = get(5, 0x30, "subjectPublicKeyInfo")?;
    Ok(X509 {
        serial: serial.raw.to_vec(),
        issuer: issuer.raw.to_vec(),
        subject: subject.raw.to_vec(),
        spki: spki.raw.to_vec(),
        public: parse_spki(spki.raw),
    })
}

/// The public key of a SubjectPublicKeyInfo, if it is RSA or EC (named curve).
pub fn parse_spki(spki: &[u8]) -> Option<PublicInfo> {
    let top = Tlv::parse_exact(spki).ok()?;
    let parts = tlv::parse_all(top.value).ok()?;
    let (alg, key) = (parts.first()?, parts.get(1)?);
    if alg.tag != 0x30 || key.tag != 0x03 || key.value.first() != Some(&0) {
        return None;
    }
    let bits = &key.value[1..];
    let alg_parts = tlv::parse_all(alg.value).ok()?;
    let oid = alg_parts.first().filter(|t| t.tag == 0x06)?.value;
    let kind = if oid == RSA_ENCRYPTION {
        let seq = Tlv::parse_exact(bits).ok()?;
        let ints = tlv::parse_all(seq.value).ok()?;
        let (n, e) = (ints.first()?, ints.get(1)?);
        PublicKind::Rsa {
            modulus: strip(n.value).to_vec(),
            exponent: strip(e.value).to_vec(),
        }
    } else if oid == EC_PUBLIC_KEY {
        let params = alg_parts.get(1).filter(|t| t.tag == 0x06)?;
        PublicKind::Ec {
            curve: Curve::by_oid(params.value),
            params: params.raw.to_vec(),
            point: bits.to_vec(),
        }
    } else {
        return None;
    };
    Some(PublicInfo {
        kind,
        spki: spki.to_vec(),
    })
}

/// The public key of a CV request / certificate (CExx after key generation), with a
/// SubjectPublicKeyInfo built for it. `None` for an EC key on a curve we do not know.
pub fn from_cv(key: &cvc::PublicKey) -> Option<PublicInfo> {
    let kind = match key {
        cvc::PublicKey::Rsa { modulus, exponent } => PublicKind::Rsa {
            modulus: strip(modulus).to_vec(),
            exponent: strip(exponent).to_vec(),
        },
        cvc::PublicKey::Ec { curve, point } => {
            let curve = (*curve)?;
            PublicKind::Ec {
                curve: Some(curve),
                params: curve.ec_params_der(),
                point: point.clone(),
            }
        }
    };
    Some(PublicInfo {
        spki: build_spki(&kind),
        kind,
    })
}

/// SubjectPublicKeyInfo DER for a public key.
pub fn build_spki(kind: &PublicKind) -> Vec<u8> {
    let (alg, key) = match kind {
        PublicKind::Rsa { modulus, exponent } => {
            let alg = [tlv::encode(0x06, RSA_ENCRYPTION), vec![0x05, 0x00]].concat();
            let rsa = tlv::encode(
                0x30,
                &[der_integer(modulus), der_integer(exponent)].concat(),
            );
            (alg, rsa)
        }
        PublicKind::Ec { params, point, .. } => (
            [tlv::encode(0x06, EC_PUBLIC_KEY), params.clone()].concat(),
            point.clone(),
        ),
    };
    let bit_string = tlv::encode(0x03, &[&[0u8][..], &key].concat());
    tlv::encode(0x30, &[tlv::encode(0x30, &alg), bit_string].concat())
}

/// A DER INTEGER for an unsigned big-endian number.
pub fn der_integer(n: &[u8]) -> Vec<u8> {
    let n = strip(n);
    let mut v = Vec::with_capacity(n.len() + 1);
    if n.first().is_none_or(|&b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(n);
    tlv::encode(0x02, &v)
}

fn strip(v: &[u8]) -> &[u8] {
    let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_round_trip() {
        let rsa = PublicKind::Rsa {
            modulus: vec![0x00, 0xC1, 0x02, 0x03],
            exponent: vec![1, 0, 1],
        };
        let spki = build_spki(&rsa);
        let back = parse_spki(&spki).unwrap();
        assert_eq!(
            back.kind,
            PublicKind::Rsa {
                modulus: vec![0xC1, 2, 3],
                exponent: vec![1, 0, 1]
            }
        );
        let curve = Curve::by_name("secp256r1").unwrap();
        let mut point = vec![4u8];
        point.extend([7u8; 64]);
        let ec = PublicKind::Ec {
            curve: Some(curve),
            params: curve.ec_params_der(),
            point,
        };
        let back = parse_spki(&build_spki(&ec)).unwrap();
        assert_eq!(back.kind, ec);
        assert_eq!(back.bits(), 256);
        assert!(parse_spki(&[0x30, 0x00]).is_none());
    }

    #[test]
    fn integers() {
        assert_eq!(der_integer(&[0x80]), [2, 2, 0, 0x80]);
        assert_eq!(der_integer(&[0, 0, 0x7F]), [2, 1, 0x7F]);
        assert_eq!(der_integer(&[]), [2, 1, 0]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
        assert!(parse(&[0x67, 0x00]).is_err());
    }
}
