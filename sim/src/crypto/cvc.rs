//! Card Verifiable certificates and requests (BSI TR-03110 style, PROTOCOL §5.2, §6): the
//! simulated device's own certificate chain for EF.C_DevAut (2F02) and the authenticated CV
//! request that GENERATE ASYMMETRIC KEY PAIR returns (§4.7).
//!
//! The chain: SRCA (root, brainpoolP256r1, self-signed, not stored on the card) → DICA → device.
//! All three keys are brainpoolP256r1, like CardContact's real roots. The real chain cannot be
//! reproduced (it needs CardContact's private keys), so ours only has the right shape. As in
//! TR-03110, only the root would carry explicit domain parameters; the DICA and device
//! certificates carry the OID and the public point (86) only, which also gives the real ~460-byte
//! size of 2F02.

use super::blob::OID_TA_ECDSA_SHA256;
use super::{curves, tlv, CryptoError, HashAlg, KeyMaterial};

/// The simulated device's authentication key and the certificates that go into EF 2F02.
pub struct DeviceIdentity {
    /// CC00, brainpoolP256r1.
    pub device_key: KeyMaterial,
    /// Device CHR: serial + "00000", e.g. "DENK010000100000".
    pub chr: String,
    /// Content of EF.C_DevAut (2F02): device CVC ‖ DICA CVC.
    pub chain: Vec<u8>,
}

/// CHR of our own root and device issuer CA ("UT" marks test roots, as CardContact's
/// UTSRCACC100001; "SIM" keeps them apart from CardContact's).
pub const SRCA_CHR: &str = "UTSRCASIM00001";
pub const DICA_CHR: &str = "UTDICASIM00001";

/// Curve of the chain's keys.
pub const DEVICE_CURVE: &str = "brainpoolP256r1";

/// TR-03110 TA algorithm OIDs (content bytes): 0.4.0.127.0.7.2.2.2.{1 RSA, 2 ECDSA}.{variant}.
const OID_TA_PREFIX: [u8; 8] = [0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02];

/// CHAT of the SmartCard-HSM PKI: OID 1.3.6.1.4.1.24991.3.1.1 and a one-byte role
/// (C0 root, 80 device issuer, 00 device — TR-03110 role bits; only the root's C0 is [REAL]).
const CHAT_OID: [u8; 11] = [
    0x2B, 0x06, 0x01, 0x04, 0x01, 0x81, 0xC3, 0x1F, 0x03, 0x01, 0x01,
];

/// How a TA OID signs: ECDSA (raw r‖s) or RSA PKCS#1 v1.5 / PSS, with a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaScheme {
    Ecdsa(HashAlg),
    RsaV15(HashAlg),
    RsaPss(HashAlg),
}

fn ta_scheme(oid: &[u8]) -> Result<TaScheme, CryptoError> {
    let Some([family, variant]) = oid.strip_prefix(&OID_TA_PREFIX[..]) else {
        return Err(CryptoError::Unsupported);
    };
    use HashAlg::*;
    Ok(match (family, variant) {
        (1, 1) => TaScheme::RsaV15(Sha1),
        (1, 2) => TaScheme::RsaV15(Sha256),
        (1, 3) => TaScheme::RsaPss(Sha1),
        (1, 4) => TaScheme::RsaPss(Sha256),
        (1, 5) => TaScheme::RsaV15(Sha512),
        (1, 6) => TaScheme::RsaPss(Sha512),
        (2, 1) => TaScheme::Ecdsa(Sha1),
        (2, 2) => TaScheme::Ecdsa(Sha224),
        (2, 3) => TaScheme::Ecdsa(Sha256),
        (2, 4) => TaScheme::Ecdsa(Sha384),
        (2, 5) => TaScheme::Ecdsa(Sha512),
        _ => return Err(CryptoError::Unsupported),
    })
}

/// Sign `data` as a CV signature: ECDSA r‖s at field width, RSA modulus-size.
fn cv_sign(key: &KeyMaterial, scheme: TaScheme, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match (scheme, key) {
        (TaScheme::Ecdsa(h), KeyMaterial::Ec { .. }) => {
            super::ecdsa_sign_hash_raw(key, &h.digest(data))
        }
        (TaScheme::RsaV15(h), KeyMaterial::Rsa { .. }) => {
            super::rsa_pkcs1_sign(key, &super::digest_info(h, &h.digest(data)))
        }
        (TaScheme::RsaPss(h), KeyMaterial::Rsa { .. }) => {
            super::rsa_pss_sign(key, h, &h.digest(data))
        }
        _ => Err(CryptoError::InvalidInput), // OID of the other key family
    }
}

/// The scheme a signing key uses for the outer signature / certificates (SHA-256).
fn default_scheme(key: &KeyMaterial) -> Result<TaScheme, CryptoError> {
    match key {
        KeyMaterial::Ec { .. } => Ok(TaScheme::Ecdsa(HashAlg::Sha256)),
        KeyMaterial::Rsa { .. } => Ok(TaScheme::RsaV15(HashAlg::Sha256)),
        KeyMaterial::Aes { .. } => Err(CryptoError::InvalidInput),
    }
}

/// 7F49 public key: `06 oid`, then RSA `81 n, 82 e` or EC `81 p … 87 h` (full width) or, with
/// `domain = false`, EC `86 Q` only.
fn public_key_tlv(key: &KeyMaterial, oid: &[u8], domain: bool) -> Result<Vec<u8>, CryptoError> {
    let mut v = tlv::encode(0x06, oid);
    match key {
        KeyMaterial::Rsa { n, e, .. } => {
            v.extend(tlv::encode(0x81, n));
            v.extend(tlv::encode(0x82, e));
        }
        KeyMaterial::Ec { curve, q, .. } => {
            let c = curves::by_name(curve).ok_or(CryptoError::Unsupported)?;
            if domain {
                for (tag, value) in [
                    (0x81, c.p),
                    (0x82, c.a),
                    (0x83, c.b),
                    (0x84, c.g),
                    (0x85, c.n),
                ] {
                    v.extend(tlv::encode(tag, value));
                }
            }
            v.extend(tlv::encode(0x86, q));
            if domain {
                v.extend(tlv::encode(0x87, &[c.h]));
            }
        }
        KeyMaterial::Aes { .. } => return Err(CryptoError::InvalidInput),
    }
    Ok(tlv::encode(0x7F49, &v))
}

/// The authenticated CV request of GENERATE ASYMMETRIC KEY PAIR (PROTOCOL §4.7, §6):
/// `67 { 7F21 { 7F4E body, 5F37 inner }, 42 outer CAR, 5F37 outer }`. The inner signature is
/// made by the new key over the 7F4E TLV with the algorithm of `oid` (any TR-03110 TA OID of
/// the key's family); the outer one by the device key over 7F21-TLV ‖ 42-TLV (ECDSA-SHA-256).
pub fn authenticated_request(
    new_key: &KeyMaterial,
    oid: &[u8],
    car: Option<&[u8]>,
    chr: &[u8],
    device_key: &KeyMaterial,
    device_chr: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let scheme = ta_scheme(oid)?;
    let mut body = tlv::encode(0x5F29, &[0x00]);
    if let Some(car) = car {
        body.extend(tlv::encode(0x42, car));
    }
    body.extend(public_key_tlv(new_key, oid, true)?);
    body.extend(tlv::encode(0x5F20, chr));
    let body = tlv::encode(0x7F4E, &body);

    let inner = cv_sign(new_key, scheme, &body)?;
    let cert = tlv::encode(0x7F21, &[body, tlv::encode(0x5F37, &inner)].concat());
    let outer_car = tlv::encode(0x42, device_chr);
    let signed = [cert, outer_car].concat();
    let outer = cv_sign(device_key, default_scheme(device_key)?, &signed)?;
    Ok(tlv::encode(
        0x67,
        &[signed, tlv::encode(0x5F37, &outer)].concat(),
    ))
}

/// A CV certificate `7F21 { 7F4E body, 5F37 sig }` for `subject` issued by `issuer_key`.
fn certificate(
    subject: &KeyMaterial,
    car: &str,
    chr: &str,
    role: u8,
    with_domain: bool,
    issuer_key: &KeyMaterial,
) -> Result<Vec<u8>, CryptoError> {
    let chat = [tlv::encode(0x06, &CHAT_OID), tlv::encode(0x53, &[role])].concat();
    let (effective, expiry) = validity();
    let body = [
        tlv::encode(0x5F29, &[0x00]),
        tlv::encode(0x42, car.as_bytes()),
        public_key_tlv(subject, OID_TA_ECDSA_SHA256, with_domain)?,
        tlv::encode(0x5F20, chr.as_bytes()),
        tlv::encode(0x7F4C, &chat),
        tlv::encode(0x5F25, &effective),
        tlv::encode(0x5F24, &expiry),
    ]
    .concat();
    let body = tlv::encode(0x7F4E, &body);
    let sig = cv_sign(issuer_key, TaScheme::Ecdsa(HashAlg::Sha256), &body)?;
    Ok(tlv::encode(
        0x7F21,
        &[body, tlv::encode(0x5F37, &sig)].concat(),
    ))
}

/// A fresh SRCA → DICA → device chain. `serial` like "DENK0100001" (11 chars);
/// CHR = serial + "00000".
pub fn new_device_identity(serial: &str) -> DeviceIdentity {
    let curve = curves::by_name(DEVICE_CURVE).expect("brainpoolP256r1 is supported");
    let srca = super::generate_ec(curve);
    let dica = super::generate_ec(curve);
    let device_key = super::generate_ec(curve);
    let chr = format!("{serial}00000");
    // Signing with freshly generated EC keys and known OIDs cannot fail.
    let dica_cert =
        certificate(&dica, SRCA_CHR, DICA_CHR, 0x80, false, &srca).expect("DICA certificate");
    let device_cert =
        certificate(&device_key, DICA_CHR, &chr, 0x00, false, &dica).expect("device certificate");
    DeviceIdentity {
        device_key,
        chr,
        chain: [device_cert, dica_cert].concat(),
    }
}

/// Effective and expiration dates (today, today + 20 years) as TR-03110 unpacked BCD YYMMDD.
fn validity() -> ([u8; 6], [u8; 6]) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let bcd = |y: i64, m: u32, d: u32| {
        let yy = y.rem_euclid(100) as u8;
        [
            yy / 10,
            yy % 10,
            (m / 10) as u8,
            (m % 10) as u8,
            (d / 10) as u8,
            (d % 10) as u8,
        ]
    };
    // 29 February does not exist 20 years later in general.
    (bcd(y, m, d), bcd(y + 20, m, d.min(28)))
}

/// Gregorian date of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[path = "cvc_tests.rs"]
mod tests;
