//! Reading the templates of C_GenerateKeyPair / C_GenerateKey / C_DeriveKey: what the new key is
//! called, what it may do, and the curve of CKA_EC_PARAMS.

use cryptoki_sys::*;

use crate::card::curves::Curve;
use crate::card::pkcs15::KeyUsage;
use crate::card::tlv::Tlv;
use crate::token::api::Attribute;
use crate::token::error::{Error, Result};
use crate::token::objects::attributes::{self as attr, find, find_bool, find_text, find_ulong};

/// OpenSC's labels for keys created without CKA_LABEL (pkcs15-init.h).
pub const DEFAULT_PRIVATE_KEY_LABEL: &str = "Private Key";
pub const DEFAULT_SECRET_KEY_LABEL: &str = "Secret Key";

/// What the caller asked for the new card key.
#[derive(Debug, Clone, Default)]
pub struct KeyRequest {
    pub label: Option<String>,
    pub id: Option<Vec<u8>>,
    pub usage: u32,
    pub extractable: bool,
    pub allowed_mechanisms: Option<Vec<CK_MECHANISM_TYPE>>,
    /// CKA_SCHSM_KEY_DOMAIN of the private (or secret) key template: GENERATE tag 92.
    pub key_domain: Option<u8>,
}

/// Checks the shape of every entry and that CKA_CLASS / CKA_KEY_TYPE, when given, say `class`
/// and `key_type`, and that the object goes on the token.
pub fn check(template: &[Attribute], class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE) -> Result<()> {
    attr::check_template(template)?;
    if find_ulong(template, CKA_CLASS).is_some_and(|c| c != class) {
        return Err(Error::TemplateInconsistent);
    }
    if find_ulong(template, CKA_KEY_TYPE).is_some_and(|k| k != key_type) {
        return Err(Error::TemplateInconsistent);
    }
    if find_bool(template, CKA_TOKEN) == Some(false) {
        // The public key object comes from the CV request the card stores, so it is a token
        // object whatever the caller asked (NSS may ask for a session public key).
        if class == CKO_PUBLIC_KEY {
            log::debug!("public key of a card key pair: a token object despite CKA_TOKEN false");
        } else {
            log::info!("keys generated on the card are token objects: CKA_TOKEN false refused");
            return Err(Error::TemplateInconsistent);
        }
    }
    Ok(())
}

/// The usage bits a key template asks for: `defaults`, with each usage attribute present in the
/// template switching its bits on or off.
pub fn usage(template: &[Attribute], defaults: u32) -> u32 {
    const MAP: [(CK_ATTRIBUTE_TYPE, u32); 9] = [
        (CKA_ENCRYPT, KeyUsage::ENCRYPT),
        (CKA_DECRYPT, KeyUsage::DECRYPT),
        (CKA_SIGN, KeyUsage::SIGN),
        (CKA_SIGN_RECOVER, KeyUsage::SIGN_RECOVER),
        (CKA_WRAP, KeyUsage::WRAP),
        (CKA_UNWRAP, KeyUsage::UNWRAP),
        (CKA_VERIFY, KeyUsage::VERIFY),
        (CKA_VERIFY_RECOVER, KeyUsage::VERIFY_RECOVER),
        (CKA_DERIVE, KeyUsage::DERIVE),
    ];
    MAP.iter()
        .fold(defaults, |u, &(a, bit)| match find_bool(template, a) {
            Some(true) => u | bit,
            Some(false) => u & !bit,
            None => u,
        })
}

/// Label, ID, extractability and CKA_ALLOWED_MECHANISMS of the private (or secret) key, taking
/// label and ID from the public template when the private one has none (as OpenSC does).
pub fn key_request(
    private: &[Attribute],
    public: &[Attribute],
    default_usage: u32,
) -> Result<KeyRequest> {
    let allowed = match find(private, CKA_ALLOWED_MECHANISMS) {
        Some(v) => Some(attr::read_mechanisms(v).ok_or(Error::AttributeValueInvalid)?),
        None => None,
    };
    Ok(KeyRequest {
        label: find_text(private, CKA_LABEL).or_else(|| find_text(public, CKA_LABEL)),
        id: find(private, CKA_ID)
            .or_else(|| find(public, CKA_ID))
            .map(<[u8]>::to_vec)
            .filter(|id| !id.is_empty()),
        usage: usage(private, default_usage),
        // Absent: the device default, exportable under the DKEK (as OpenSC's keys are).
        extractable: find_bool(private, CKA_EXTRACTABLE).unwrap_or(true),
        allowed_mechanisms: allowed,
        key_domain: match find(private, crate::vendor::CKA_SCHSM_KEY_DOMAIN) {
            None => None,
            Some([d]) => Some(*d),
            Some(_) => return Err(Error::AttributeValueInvalid),
        },
    })
}

/// The key domain to send with GENERATE (tag 92): none for domain 0 (the card's default, and
/// the only domain before firmware 3.0); another domain only on firmware with key domains.
pub fn key_domain(
    request: &KeyRequest,
    profile: &crate::card::FirmwareProfile,
) -> Result<Option<u8>> {
    match request.key_domain {
        None | Some(0) => Ok(None),
        Some(d) if profile.key_domains => Ok(Some(d)),
        Some(d) => {
            log::info!(
                "CKA_SCHSM_KEY_DOMAIN {d}: firmware {} has no key domains",
                profile.version
            );
            Err(Error::AttributeValueInvalid)
        }
    }
}

/// The curve of CKA_EC_PARAMS: a named-curve OID, or explicit parameters (SEC 1
/// ECParameters) that are those of a known curve. Anything else is `CurveNotSupported`.
pub fn curve(ec_params: &[u8]) -> Result<&'static Curve> {
    if let Some(c) = Curve::by_ec_params(ec_params) {
        return Ok(c);
    }
    explicit_curve(ec_params).ok_or_else(|| {
        log::info!("CKA_EC_PARAMS names no curve the card knows");
        Error::CurveNotSupported
    })
}

/// ECParameters ::= SEQUENCE { version, fieldID SEQUENCE { prime-field OID, p }, curve SEQUENCE
/// { a, b, [seed] }, base, order, [cofactor] }: the known curve with this p, a and b.
fn explicit_curve(der: &[u8]) -> Option<&'static Curve> {
    let top = Tlv::parse_exact(der).ok()?;
    if top.tag != 0x30 {
        return None;
    }
    let mut parts = top.children();
    let _version = parts.next()?.ok()?;
    let field = parts.next()?.ok()?;
    let curve = parts.next()?.ok()?;
    let mut f = field.children();
    let prime_field = f.next()?.ok()?;
    // 1.2.840.10045.1.1 prime-field
    if prime_field.value != [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x01, 0x01] {
        return None;
    }
    let p = f.next()?.ok()?;
    let mut c = curve.children();
    let a = c.next()?.ok()?;
    let b = c.next()?.ok()?;
    Curve::by_parameters(p.value, a.value, b.value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::tlv;

    fn b(kind: CK_ATTRIBUTE_TYPE, v: bool) -> Attribute {
        Attribute {
            kind,
            value: attr::boolean(v),
        }
    }

    #[test]
    fn key_domain_from_the_template() {
        use crate::card::{FirmwareProfile, FirmwareVersion};
        let v3 = FirmwareProfile::for_version(FirmwareVersion::new(3, 5));
        let v2 = FirmwareProfile::for_version(FirmwareVersion::new(2, 6));
        let dom = |v: Vec<u8>| {
            vec![Attribute {
                kind: crate::vendor::CKA_SCHSM_KEY_DOMAIN,
                value: v,
            }]
        };
        let req = |t: &[Attribute]| key_request(t, &[], 0);
        assert_eq!(req(&[]).unwrap().key_domain, None);
        let one = req(&dom(vec![1])).unwrap();
        assert_eq!(key_domain(&one, &v3), Ok(Some(1)));
        assert_eq!(key_domain(&one, &v2), Err(Error::AttributeValueInvalid));
        let zero = req(&dom(vec![0])).unwrap();
        assert_eq!(key_domain(&zero, &v2), Ok(None), "domain 0 is the default");
        assert!(req(&dom(vec![1, 2])).is_err());
    }

    #[test]
    fn usage_defaults_and_overrides() {
        let t = [b(CKA_DERIVE, true), b(CKA_SIGN, false)];
        assert_eq!(usage(&t, KeyUsage::SIGN), KeyUsage::DERIVE);
        assert_eq!(
            usage(&[], KeyUsage::SIGN | KeyUsage::DECRYPT),
            KeyUsage::SIGN | KeyUsage::DECRYPT
        );
    }

    #[test]
    fn request_takes_public_label_and_id_as_fallback() {
        let public = [
            Attribute {
                kind: CKA_LABEL,
                value: b"pub".to_vec(),
            },
            Attribute {
                kind: CKA_ID,
                value: vec![1, 2],
            },
        ];
        let private = [Attribute {
            kind: CKA_ALLOWED_MECHANISMS,
            value: attr::mechanisms(&[CKM_ECDSA_SHA256]),
        }];
        let r = key_request(&private, &public, KeyUsage::SIGN).unwrap();
        assert_eq!(r.label.as_deref(), Some("pub"));
        assert_eq!(r.id, Some(vec![1, 2]));
        assert_eq!(r.allowed_mechanisms, Some(vec![CKM_ECDSA_SHA256]));
        assert!(r.extractable, "device default: exportable");
    }

    #[test]
    fn class_type_and_token_checks() {
        let t = [Attribute {
            kind: CKA_KEY_TYPE,
            value: attr::ulong(CKK_RSA),
        }];
        assert_eq!(
            check(&t, CKO_PRIVATE_KEY, CKK_EC),
            Err(Error::TemplateInconsistent)
        );
        assert_eq!(check(&t, CKO_PRIVATE_KEY, CKK_RSA), Ok(()));
        assert_eq!(
            check(&[b(CKA_TOKEN, false)], CKO_PRIVATE_KEY, CKK_RSA),
            Err(Error::TemplateInconsistent)
        );
        assert_eq!(
            check(&[b(CKA_TOKEN, false)], CKO_PUBLIC_KEY, CKK_RSA),
            Ok(())
        );
    }

    #[test]
    fn named_and_explicit_curves() {
        let p256 = Curve::by_name("secp256r1").unwrap();
        assert_eq!(curve(&p256.ec_params_der()).unwrap().name, "secp256r1");
        // Explicit parameters of P-256 as OpenSSL writes them (no seed, with cofactor).
        let field = tlv::encode(
            0x30,
            &[
                tlv::encode(0x06, &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x01, 0x01]),
                tlv::encode(0x02, &[[0u8].as_slice(), &p256.prime()].concat()),
            ]
            .concat(),
        );
        let curve_seq = tlv::encode(
            0x30,
            &[tlv::encode(0x04, &p256.a()), tlv::encode(0x04, &p256.b())].concat(),
        );
        let explicit = tlv::encode(
            0x30,
            &[
                tlv::encode(0x02, &[1]),
                field,
                curve_seq,
                tlv::encode(0x04, &p256.generator()),
                tlv::encode(0x02, &[[0u8].as_slice(), &p256.order()].concat()),
                tlv::encode(0x02, &[1]),
            ]
            .concat(),
        );
        assert_eq!(curve(&explicit).unwrap().name, "secp256r1");
        assert_eq!(curve(&[0x05, 0x00]), Err(Error::CurveNotSupported));
        assert_eq!(curve(&[0x06, 0x03, 1, 2, 3]), Err(Error::CurveNotSupported));
        assert_eq!(curve(&[]), Err(Error::CurveNotSupported));
    }
}
