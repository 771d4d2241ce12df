//! Key import with the DKEK held by the module (config `[dkek]`): C_CreateObject of a token
//! CKO_PRIVATE_KEY (EC: CKA_EC_PARAMS + CKA_VALUE [+ CKA_EC_POINT]; RSA: modulus, exponents,
//! primes, CRT values) and C_UnwrapKey(CKM_SCHSM_PKCS8_IMPORT, dkek, PKCS#8 DER). The key is
//! encoded as a blob on the host (`card::blob::encode`) and imported like an unwrap, with the
//! template's restriction (CKA_ALLOWED_MECHANISMS / CKA_EXTRACTABLE, bug #168 rules included).
//! Key material lives in zeroizing buffers and is wiped when the import is done.

use cryptoki_sys::*;

use super::unwrap::{check_template, import_to_card, Incoming};
use crate::card::blob::{self, BlobHeader, BlobKey};
use crate::card::curves::Curve;
use crate::card::prkd::KeyKind;
use crate::card::secret::SecretBytes;
use crate::card::tlv::{self, Tlv};
use crate::token::api::Attribute;
use crate::token::dkek_holder;
use crate::token::error::{Error, Result};
use crate::token::keygen::algorithm_list;
use crate::token::mechanisms::Family;
use crate::token::objects::attributes::{self as attr, find, find_bool};
use crate::token::objects::restriction::to_alg_reference;
use crate::token::objects::{KeyInfo, KeyMeta};
use crate::token::session::SessionRef;

const RSA_OID: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const EC_OID: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];

fn strip(v: &[u8]) -> &[u8] {
    let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[i..]
}

fn bad(what: &str) -> Error {
    log::info!("key import: {what}");
    Error::WrappedKeyInvalid
}

/// An RSA key from its parts (big-endian integers); CRT form up to 2048 bits, the private
/// exponent form above (as CardContact's own importer does for the HSM 2).
fn rsa_key(parts: [&[u8]; 8]) -> Result<BlobKey> {
    let [n, e, d, p, q, dp, dq, qinv] = parts.map(strip);
    if n.is_empty() || e.is_empty() || d.is_empty() {
        return Err(Error::TemplateIncomplete);
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
fn public_point(curve: &Curve, d: &[u8]) -> Option<Vec<u8>> {
    macro_rules! on {
        ($c:ident, $sk:ty) => {{
            use $c::elliptic_curve::sec1::ToSec1Point;
            let padded =
                zeroize::Zeroizing::new(crate::card::curves::pad_to(d, curve.field_bytes)?);
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

fn ec_key(curve: &'static Curve, d: &[u8], q: Option<&[u8]>) -> Result<BlobKey> {
    let q = match q {
        Some(q) => q.to_vec(),
        None => public_point(curve, d).ok_or_else(|| {
            log::info!(
                "key import: give the public point (CKA_EC_POINT) for {}: the module cannot \
                 compute it on this curve",
                curve.name
            );
            Error::TemplateIncomplete
        })?,
    };
    if q.len() != curve.point_len() || q[0] != 0x04 {
        return Err(bad(
            "public point is not an uncompressed point of the curve",
        ));
    }
    BlobKey::ec(curve, strip(d), &q).map_err(|e| bad(&e.to_string()))
}

/// PKCS#8 PrivateKeyInfo (unencrypted) → the key.
fn from_pkcs8(der: &[u8]) -> Result<BlobKey> {
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
        .ok_or(Error::CurveNotSupported)?;
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

/// A C_CreateObject template → the key.
fn from_template(template: &[Attribute]) -> Result<BlobKey> {
    let get = |a| find(template, a).unwrap_or_default();
    match attr::find_ulong(template, CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)? {
        CKK_EC => {
            let params = find(template, CKA_EC_PARAMS).ok_or(Error::TemplateIncomplete)?;
            let curve = Curve::by_ec_params(params).ok_or(Error::CurveNotSupported)?;
            let d = find(template, CKA_VALUE).ok_or(Error::TemplateIncomplete)?;
            // CKA_EC_POINT is a DER OCTET STRING (some callers give the bare point).
            let q = find(template, CKA_EC_POINT).map(|p| match Tlv::parse(p) {
                Ok((t, rest)) if t.tag == 0x04 && rest.is_empty() => t.value.to_vec(),
                _ => p.to_vec(),
            });
            ec_key(curve, d, q.as_deref())
        }
        CKK_RSA => rsa_key([
            get(CKA_MODULUS),
            get(CKA_PUBLIC_EXPONENT),
            get(CKA_PRIVATE_EXPONENT),
            get(CKA_PRIME_1),
            get(CKA_PRIME_2),
            get(CKA_EXPONENT_1),
            get(CKA_EXPONENT_2),
            get(CKA_COEFFICIENT),
        ]),
        _ => Err(Error::TemplateInconsistent),
    }
}

pub fn import_pkcs8(
    s: &SessionRef,
    dkek: &KeyInfo,
    der: &[u8],
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    let key = from_pkcs8(der)?;
    import(s, dkek.kcv.ok_or(Error::GeneralError)?, key, template)
}

/// C_CreateObject of a token private key (called by `objects::create`).
pub fn create_private_key(s: &SessionRef, template: &[Attribute]) -> Result<CK_OBJECT_HANDLE> {
    let device_kcv = match super::device_dkek_kcv(s)? {
        Some(k) => k,
        None => {
            log::error!(
                "C_CreateObject of a private key: the device has no complete DKEK, keys can only \
                 be imported under one"
            );
            return Err(Error::FunctionFailed);
        }
    };
    let key = from_template(template).map_err(|e| match e {
        Error::WrappedKeyInvalid => Error::AttributeValueInvalid,
        e => e,
    })?;
    import(s, device_kcv, key, template)
}

fn import(
    s: &SessionRef,
    device_kcv: [u8; 8],
    key: BlobKey,
    template: &[Attribute],
) -> Result<CK_OBJECT_HANDLE> {
    let (kind, family) = match &key {
        BlobKey::Ec { .. } => (KeyKind::Ec, Family::Ec),
        BlobKey::Aes { .. } => (KeyKind::Aes, Family::Aes),
        _ => (KeyKind::Rsa, Family::Rsa),
    };
    check_template(template, kind)?;
    let dkek = match dkek_holder::host_dkek(s.config()) {
        Ok(Some(d)) if d.kcv() == device_kcv => d,
        Ok(Some(_)) => {
            log::error!(
                "key import: the DKEK shares of the configuration are not this device's DKEK"
            );
            return Err(Error::FunctionFailed);
        }
        Ok(None) => {
            log::error!(
                "key import needs the DKEK on the host: give the module the DKEK share files \
                 in SCHSM_CONF [dkek] (shares, password_files)"
            );
            return Err(Error::FunctionFailed);
        }
        Err(why) => {
            log::error!("key import: the configured DKEK shares cannot be used: {why}");
            return Err(Error::FunctionFailed);
        }
    };
    let allowed = match find(template, CKA_ALLOWED_MECHANISMS) {
        Some(v) => Some(attr::read_mechanisms(v).ok_or(Error::AttributeValueInvalid)?),
        None => None,
    };
    let extractable = find_bool(template, CKA_EXTRACTABLE).unwrap_or(true);
    let card_list = algorithm_list(&s.profile(), family, allowed.as_deref(), extractable);
    let header = BlobHeader::new(key.key_type(), card_list.unwrap_or_default())
        .map_err(|_| Error::GeneralError)?;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|_| Error::FunctionFailed)?;
    let bytes = blob::encode(&dkek, &header, &key, &random).map_err(|e| {
        log::warn!("key import: {e}");
        Error::TemplateInconsistent
    })?;
    let restriction = allowed
        .as_deref()
        .map(|m| to_alg_reference(m, extractable))
        .unwrap_or_default();
    log::info!(
        "key import: {kind:?} key encoded under the DKEK on the host, card list {:02X?}",
        header.algorithms
    );
    let incoming = Incoming {
        cipher_len: bytes.len(),
        blob: bytes,
        kind,
        list: restriction,
        key: Some(&key),
        description: None,
        certificate: None,
        meta: Some(KeyMeta {
            allowed_mechanisms: allowed,
            extractable,
            local: false,
        }),
    };
    import_to_card(s, incoming, template)
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
        assert_eq!(from_pkcs8(&der).unwrap_err(), Error::WrappedKeyInvalid);
    }

    #[test]
    fn ec_point_is_computed() {
        let c = Curve::by_name("secp256r1").unwrap();
        let mut d = [0u8; 32];
        d[31] = 1;
        // 1·G = G
        assert_eq!(public_point(c, &d).unwrap(), c.generator());
        assert!(public_point(Curve::by_name("secp192r1").unwrap(), &d).is_none());
    }
}
