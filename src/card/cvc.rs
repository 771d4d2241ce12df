//! Card Verifiable certificates and requests (BSI TR-03110 style, PROTOCOL.md §6): the
//! authenticated request GENERATE ASYMMETRIC KEY PAIR returns and stores in CExx, and the
//! device certificate chain in EF 2F02, whose CHR gives the serial number.
//!
//! Only decoding and the public key; signatures are kept as bytes for whoever wants to check
//! them.

use super::curves::Curve;
use super::error::{Error, Result};
use super::tlv::{self, Tlv};

/// TR-03110 terminal-authentication OIDs (content bytes) the card uses in 7F49 tag 06.
pub mod ta_oid {
    pub const RSA_V15_SHA1: &[u8] = &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x01, 0x01];
    pub const RSA_V15_SHA256: &[u8] = &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x01, 0x02];
    pub const RSA_PSS_SHA256: &[u8] = &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x01, 0x04];
    pub const ECDSA_SHA1: &[u8] = &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x01];
    pub const ECDSA_SHA256: &[u8] = &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x03];

    /// RSA OIDs share the prefix `…02 02 02 01`, ECDSA `…02 02 02 02`.
    pub fn is_rsa(oid: &[u8]) -> bool {
        oid.len() == 10 && oid[..9] == RSA_V15_SHA1[..9]
    }
    pub fn is_ec(oid: &[u8]) -> bool {
        oid.len() == 10 && oid[..9] == ECDSA_SHA1[..9]
    }
}

/// The public key of a CV body (7F49).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Rsa {
        modulus: Vec<u8>,
        exponent: Vec<u8>,
    },
    Ec {
        /// The curve, when the domain parameters are present and known (always in requests
        /// made by the card).
        curve: Option<&'static Curve>,
        /// Uncompressed point `04‖x‖y`.
        point: Vec<u8>,
    },
}

impl PublicKey {
    /// Parses the value of 7F49.
    pub fn parse(value: &[u8]) -> Result<PublicKey> {
        let all = tlv::parse_all(value)?;
        let get = |tag: u16| all.iter().find(|t| t.tag == tag).map(|t| t.value);
        let oid = get(0x06).ok_or_else(|| Error::malformed("public key without OID"))?;
        if ta_oid::is_rsa(oid) {
            let modulus = get(0x81).ok_or_else(|| Error::malformed("RSA key without modulus"))?;
            let exponent = get(0x82).ok_or_else(|| Error::malformed("RSA key without exponent"))?;
            Ok(PublicKey::Rsa {
                modulus: modulus.to_vec(),
                exponent: exponent.to_vec(),
            })
        } else if ta_oid::is_ec(oid) {
            let point = get(0x86).ok_or_else(|| Error::malformed("EC key without point (86)"))?;
            let curve = match (get(0x81), get(0x82), get(0x83)) {
                (Some(p), Some(a), Some(b)) => Curve::by_parameters(p, a, b),
                _ => None,
            };
            if point.first() != Some(&0x04) {
                return Err(Error::malformed("EC point not uncompressed"));
            }
            if let Some(c) = curve {
                if point.len() != c.point_len() {
                    return Err(Error::malformed(format!(
                        "EC point of {} bytes on {}",
                        point.len(),
                        c.name
                    )));
                }
            }
            Ok(PublicKey::Ec {
                curve,
                point: point.to_vec(),
            })
        } else {
            Err(Error::Unsupported(format!(
                "public key algorithm OID {}",
                super::apdu::hex(oid)
            )))
        }
    }

    /// Key size in bits: modulus bits (RSA) or field bits (EC, 0 when the curve is unknown).
    pub fn bits(&self) -> u16 {
        match self {
            PublicKey::Rsa { modulus, .. } => {
                let m = strip(modulus);
                let top = m.first().map_or(0, |b| 8 - b.leading_zeros() as usize);
                (m.len().saturating_sub(1) * 8 + top) as u16
            }
            PublicKey::Ec { curve, .. } => curve.map_or(0, |c| c.field_bits),
        }
    }
}

fn strip(v: &[u8]) -> &[u8] {
    let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[i..]
}

/// The body of a certificate or request (7F4E).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvBody {
    /// Certificate authority reference (42), absent in some requests.
    pub car: Option<String>,
    /// TA algorithm OID from 7F49/06.
    pub algorithm: Vec<u8>,
    pub public_key: PublicKey,
    /// Certificate holder reference (5F20).
    pub chr: String,
    /// The complete 7F4E TLV, which the inner signature covers.
    pub raw: Vec<u8>,
}

impl CvBody {
    fn parse(t: &Tlv<'_>) -> Result<CvBody> {
        if t.tag != 0x7F4E {
            return Err(Error::malformed(format!(
                "expected 7F4E, found {:X}",
                t.tag
            )));
        }
        let pk = t.require(0x7F49)?;
        let oid = Tlv::parse(pk.value).ok().filter(|(o, _)| o.tag == 0x06);
        Ok(CvBody {
            car: t.find(0x42)?.map(|c| text(c.value)),
            algorithm: oid.map(|(o, _)| o.value.to_vec()).unwrap_or_default(),
            public_key: PublicKey::parse(pk.value)?,
            chr: text(t.require(0x5F20)?.value),
            raw: t.raw.to_vec(),
        })
    }
}

/// A CV certificate (7F21 { 7F4E body, 5F37 signature }).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvCertificate {
    pub body: CvBody,
    pub signature: Vec<u8>,
    /// The complete 7F21 TLV.
    pub raw: Vec<u8>,
}

impl CvCertificate {
    /// Parses one 7F21 TLV; bytes after it are ignored (2F02 holds two certificates).
    pub fn parse(bytes: &[u8]) -> Result<CvCertificate> {
        let (t, _) = Tlv::parse(bytes)?;
        CvCertificate::from_tlv(&t)
    }

    fn from_tlv(t: &Tlv<'_>) -> Result<CvCertificate> {
        if t.tag != 0x7F21 {
            return Err(Error::malformed(format!(
                "expected 7F21, found {:X}",
                t.tag
            )));
        }
        Ok(CvCertificate {
            body: CvBody::parse(&t.require(0x7F4E)?)?,
            signature: t.require(0x5F37)?.value.to_vec(),
            raw: t.raw.to_vec(),
        })
    }
}

/// An authenticated request (67 { 7F21 …, 42 outer CAR, 5F37 outer signature }), or a plain
/// 7F21 request without the outer signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvRequest {
    /// The inner request, self-signed by the new key.
    pub inner: CvCertificate,
    /// Outer CAR: the CHR of the key that authenticated the request (the device key).
    pub outer_car: Option<String>,
    pub outer_signature: Option<Vec<u8>>,
    /// The complete TLV as found.
    pub raw: Vec<u8>,
}

impl CvRequest {
    pub fn parse(bytes: &[u8]) -> Result<CvRequest> {
        let t = Tlv::parse(bytes)?.0;
        match t.tag {
            0x67 => {
                let inner = t.require(0x7F21)?;
                Ok(CvRequest {
                    inner: CvCertificate::from_tlv(&inner)?,
                    outer_car: t.find(0x42)?.map(|c| text(c.value)),
                    outer_signature: t.find(0x5F37)?.map(|s| s.value.to_vec()),
                    raw: t.raw.to_vec(),
                })
            }
            0x7F21 => Ok(CvRequest {
                inner: CvCertificate::from_tlv(&t)?,
                outer_car: None,
                outer_signature: None,
                raw: t.raw.to_vec(),
            }),
            other => Err(Error::malformed(format!(
                "not a CV request (tag {other:X})"
            ))),
        }
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.inner.body.public_key
    }

    pub fn chr(&self) -> &str {
        &self.inner.body.chr
    }
}

/// The serial number from EF 2F02: the device certificate's CHR without its 5-digit sequence
/// number ("DENK010570200000" → "DENK0105702"), as OpenSC and sc-hsm-embedded do.
pub fn device_serial(ef_2f02: &[u8]) -> Result<String> {
    let cert = CvCertificate::parse(ef_2f02)?;
    serial_from_chr(&cert.body.chr)
}

/// Device CHR minus the last five characters.
pub fn serial_from_chr(chr: &str) -> Result<String> {
    let n = chr.chars().count();
    if n <= 5 {
        return Err(Error::malformed(format!("device CHR {chr:?} too short")));
    }
    Ok(chr.chars().take(n - 5).collect())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request in the shape of §6.2, on P-256, with dummy signatures.
    fn sample_request(point: &[u8]) -> Vec<u8> {
        let c = Curve::by_name("secp256r1").unwrap();
        let mut pk = tlv::encode(0x06, ta_oid::ECDSA_SHA256);
        c.write_domain_parameters(&mut pk);
        tlv::write(&mut pk, 0x86, point);
        let body = [
            tlv::encode(0x5F29, &[0]),
            tlv::encode(0x42, b"UTCA00001"),
            tlv::encode(0x7F49, &pk),
            tlv::encode(0x5F20, b"DENK010570200001"),
        ]
        .concat();
        let inner = [tlv::encode(0x7F4E, &body), tlv::encode(0x5F37, &[1; 64])].concat();
        let outer = [
            tlv::encode(0x7F21, &inner),
            tlv::encode(0x42, b"DENK010570200000"),
            tlv::encode(0x5F37, &[2; 64]),
        ]
        .concat();
        tlv::encode(0x67, &outer)
    }

    #[test]
    fn decodes_an_authenticated_request() {
        let g = Curve::by_name("secp256r1").unwrap().generator();
        let raw = sample_request(&g);
        let r = CvRequest::parse(&raw).unwrap();
        assert_eq!(r.chr(), "DENK010570200001");
        assert_eq!(r.inner.body.car.as_deref(), Some("UTCA00001"));
        assert_eq!(r.outer_car.as_deref(), Some("DENK010570200000"));
        assert_eq!(r.inner.body.algorithm, ta_oid::ECDSA_SHA256);
        match r.public_key() {
            PublicKey::Ec { curve, point } => {
                assert_eq!(curve.unwrap().name, "secp256r1");
                assert_eq!(point, &g);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.public_key().bits(), 256);
        assert_eq!(r.inner.body.raw[..2], [0x7F, 0x4E]);
        assert_eq!(r.raw, raw);
        // Truncation never panics.
        for cut in 0..raw.len() {
            assert!(CvRequest::parse(&raw[..cut]).is_err());
        }
    }

    #[test]
    fn rsa_key_and_serial() {
        let mut pk = tlv::encode(0x06, ta_oid::RSA_V15_SHA256);
        let mut modulus = vec![0xC0; 256];
        modulus[255] = 1;
        tlv::write(&mut pk, 0x81, &modulus);
        tlv::write(&mut pk, 0x82, &[1, 0, 1]);
        let k = PublicKey::parse(&pk).unwrap();
        assert_eq!(k.bits(), 2048);
        let body = [
            tlv::encode(0x7F49, &pk),
            tlv::encode(0x5F20, b"DENK010570200000"),
        ]
        .concat();
        let cert = tlv::encode(
            0x7F21,
            &[tlv::encode(0x7F4E, &body), tlv::encode(0x5F37, &[0; 8])].concat(),
        );
        let file = [cert.clone(), cert].concat();
        assert_eq!(device_serial(&file).unwrap(), "DENK0105702");
        assert!(serial_from_chr("ABCDE").is_err());
        assert!(device_serial(&[0x30, 0x00]).is_err());
    }
}
