//! Private key encodings `import` reads besides plain PKCS#8 and PKCS#12, each turned into
//! PKCS#8 DER for the card layer (`card::private_key::from_pkcs8`):
//! - encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY"): PBES2 with PBKDF2 or scrypt and AES-CBC, what
//!   `openssl pkcs8 -topk8 -v2 aes-256-cbc` and `openssl genpkey ... -aes256` write;
//! - traditional RSA ("RSA PRIVATE KEY", PKCS#1) and EC ("EC PRIVATE KEY", SEC 1) keys;
//!
//! in PEM or DER. OpenSSL's legacy encrypted PEM ("Proc-Type: 4,ENCRYPTED", an MD5-based key
//! derivation) is refused with the command that converts it.

use pkcs8::der::asn1::{AnyRef, OctetStringRef};
use pkcs8::der::{Decode, Encode};
use pkcs8::{AlgorithmIdentifierRef, EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use schsm_pkcs11::card::tlv::{parse_all, Tlv};
use schsm_pkcs11::card::SecretBytes;
use zeroize::Zeroizing;

use crate::output::{Failure, Outcome};

/// The hint for keys the tool does not read.
pub const CONVERT_HINT: &str = "convert it with: openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY \
-out key.pem (encrypted) or openssl pkcs8 -topk8 -nocrypt -in KEY -out key.pem";

/// How a private key is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    Pkcs8,
    EncryptedPkcs8,
    RsaPkcs1,
    EcSec1,
}

impl KeyFormat {
    /// The format of a PEM block label, if it is a private key.
    pub fn from_pem_label(label: &str) -> Option<KeyFormat> {
        Some(match label {
            "PRIVATE KEY" => KeyFormat::Pkcs8,
            "ENCRYPTED PRIVATE KEY" => KeyFormat::EncryptedPkcs8,
            "RSA PRIVATE KEY" => KeyFormat::RsaPkcs1,
            "EC PRIVATE KEY" => KeyFormat::EcSec1,
            _ => return None,
        })
    }

    /// The format of a DER key from its first two fields (PKCS#12 is told apart before):
    /// EncryptedPrivateKeyInfo starts with a SEQUENCE; PrivateKeyInfo with INTEGER 0|1 and a
    /// SEQUENCE; RSAPrivateKey with INTEGER 0 and an INTEGER; ECPrivateKey with INTEGER 1 and an
    /// OCTET STRING.
    pub fn sniff_der(der: &[u8]) -> Option<KeyFormat> {
        let (top, _) = Tlv::parse(der).ok()?;
        if top.tag != 0x30 {
            return None;
        }
        let fields = parse_all(top.value).ok()?;
        let first = fields.first()?;
        let second = fields.get(1)?;
        Some(match (first.tag, first.value, second.tag) {
            (0x30, _, 0x04) => KeyFormat::EncryptedPkcs8,
            (0x02, [0] | [1], 0x30) => KeyFormat::Pkcs8,
            (0x02, [0], 0x02) => KeyFormat::RsaPkcs1,
            (0x02, [1], 0x04) => KeyFormat::EcSec1,
            _ => return None,
        })
    }
}

/// PKCS#8 DER of a key in `format`; `password` is asked only for an encrypted key.
pub fn to_pkcs8(
    format: KeyFormat,
    der: &[u8],
    password: impl FnOnce() -> Outcome<SecretBytes>,
) -> Outcome<Zeroizing<Vec<u8>>> {
    match format {
        KeyFormat::Pkcs8 => Ok(Zeroizing::new(der.to_vec())),
        KeyFormat::EncryptedPkcs8 => decrypt(der, password()?.expose()),
        KeyFormat::RsaPkcs1 => rsa_to_pkcs8(der),
        KeyFormat::EcSec1 => ec_to_pkcs8(der),
    }
}

fn decrypt(der: &[u8], password: &[u8]) -> Outcome<Zeroizing<Vec<u8>>> {
    let info = EncryptedPrivateKeyInfoRef::from_der(der)
        .map_err(|e| Failure::new(format!("damaged encrypted PKCS#8 key: {e}")))?;
    match info.decrypt(password) {
        Ok(doc) => Ok(Zeroizing::new(doc.as_bytes().to_vec())),
        // A wrong password gives bad padding (DecryptFailed) or, one time in 256, plaintext that
        // is not DER: the same answer for both.
        Err(pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed))
        | Err(pkcs8::Error::Asn1(_)) => Err(Failure::new(
            "wrong password for the encrypted key (or a damaged file)",
        )),
        Err(pkcs8::Error::EncryptedPrivateKey(e)) => Err(Failure::new(format!(
            "the key's encryption is not supported ({e}); only PBES2 (PBKDF2 or scrypt with \
             AES-CBC) is read: {CONVERT_HINT}"
        ))),
        Err(e) => Err(Failure::new(format!("cannot decrypt the key: {e}"))),
    }
}

fn wrap(algorithm: AlgorithmIdentifierRef<'_>, key: &[u8]) -> Outcome<Zeroizing<Vec<u8>>> {
    let key = OctetStringRef::new(key).map_err(|e| Failure::new(e.to_string()))?;
    let info = PrivateKeyInfoRef::new(algorithm, key);
    info.to_der()
        .map(Zeroizing::new)
        .map_err(|e| Failure::new(format!("cannot re-encode the key as PKCS#8: {e}")))
}

fn rsa_to_pkcs8(der: &[u8]) -> Outcome<Zeroizing<Vec<u8>>> {
    pkcs1::RsaPrivateKeyRef::from_der(der)
        .map_err(|e| Failure::new(format!("damaged RSA private key (PKCS#1): {e}")))?;
    let algorithm = AlgorithmIdentifierRef {
        oid: pkcs1::ALGORITHM_OID,
        parameters: Some(AnyRef::NULL),
    };
    wrap(algorithm, der)
}

fn ec_to_pkcs8(der: &[u8]) -> Outcome<Zeroizing<Vec<u8>>> {
    let key = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| Failure::new(format!("damaged EC private key (SEC 1): {e}")))?;
    let curve = match key.parameters {
        Some(sec1::EcParameters::NamedCurve(oid)) => oid,
        None => {
            return Err(Failure::new(
                "the EC private key names no curve; export it with its curve \
                 (openssl ec -param_enc named_curve)",
            ))
        }
    };
    let curve_der = curve
        .to_der()
        .map_err(|e| Failure::new(format!("curve OID: {e}")))?;
    let parameters = AnyRef::from_der(&curve_der).map_err(|e| Failure::new(e.to_string()))?;
    let algorithm = AlgorithmIdentifierRef {
        oid: sec1::ALGORITHM_OID,
        parameters: Some(parameters),
    };
    wrap(algorithm, der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_shapes() {
        // SEQUENCE { INTEGER 0, SEQUENCE {} , OCTET STRING }
        assert_eq!(
            KeyFormat::sniff_der(&[0x30, 0x07, 0x02, 0x01, 0x00, 0x30, 0x00, 0x04, 0x00]),
            Some(KeyFormat::Pkcs8)
        );
        assert_eq!(
            KeyFormat::sniff_der(&[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x05]),
            Some(KeyFormat::RsaPkcs1)
        );
        assert_eq!(
            KeyFormat::sniff_der(&[0x30, 0x05, 0x02, 0x01, 0x01, 0x04, 0x00]),
            Some(KeyFormat::EcSec1)
        );
        assert_eq!(
            KeyFormat::sniff_der(&[0x30, 0x04, 0x30, 0x00, 0x04, 0x00]),
            Some(KeyFormat::EncryptedPkcs8)
        );
        assert_eq!(KeyFormat::sniff_der(b"junk"), None);
        assert_eq!(
            KeyFormat::from_pem_label("ENCRYPTED PRIVATE KEY"),
            Some(KeyFormat::EncryptedPkcs8)
        );
    }

    #[test]
    fn wrong_password_and_damage() {
        let err = to_pkcs8(KeyFormat::EncryptedPkcs8, &[0x30, 0x00], || {
            Ok(SecretBytes::from_slice(b"x"))
        })
        .unwrap_err();
        assert!(err.message.contains("damaged"), "{err}");
        assert!(to_pkcs8(KeyFormat::RsaPkcs1, &[0x30, 0x00], || unreachable!()).is_err());
    }
}
