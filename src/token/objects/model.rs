//! The object model: what a PKCS#11 object on this token is made of.
//!
//! Objects are immutable snapshots (`Arc<Object>`) in the token's `ObjectStore`; a change
//! (new label, certificate stored, public part read) replaces the snapshot under the same
//! handle. Each object has an [`Identity`] saying which card files it comes from, so that the
//! same file always gives the same handle while the card stays in the reader.

use cryptoki_sys::{CK_OBJECT_CLASS, CK_SESSION_HANDLE, *};

use super::key_meta::KeyMeta;
use super::x509::X509;
use crate::card::cd_dcod::{CertificateDescription, DataObjectDescription};
use crate::card::curves::Curve;
use crate::card::pkcs15::KeyUsage;
use crate::card::prkd::{KeyDescription, KeyKind};
use crate::card::{Fid, SecretBytes};

/// Where an object comes from; one handle per identity per insertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    /// Private or secret key xx: CCxx with its description C4xx.
    Key(u8),
    /// The public key of key xx, from CExx (CV request or certificate).
    PublicKey(u8),
    /// The X.509 certificate in CExx.
    EeCert(u8),
    /// A CA certificate: description C8xx, certificate in the file it names (CAxx).
    CaCert(u8),
    /// A data object: description C9xx, data in CDxx (private) or CFxx (public).
    Data(u8),
    /// The DKEK of a key domain (0 on every device; 1.. on firmware >= 3.0 initialised with
    /// key domains) as a secret-key object.
    Dkek(u8),
    /// A session object (in memory only); the number is unique per initialisation.
    Session(u64),
}

/// A public key: RSA modulus and exponent, or an EC point on a curve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKind {
    Rsa {
        modulus: Vec<u8>,
        exponent: Vec<u8>,
    },
    Ec {
        /// The curve, when known to `card::curves`.
        curve: Option<&'static Curve>,
        /// CKA_EC_PARAMS: the named-curve OID, DER.
        params: Vec<u8>,
        /// Uncompressed `04‖X‖Y`.
        point: Vec<u8>,
    },
}

/// A public key with its SubjectPublicKeyInfo (CKA_PUBLIC_KEY_INFO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicInfo {
    pub kind: PublicKind,
    pub spki: Vec<u8>,
}

impl PublicInfo {
    pub fn key_type(&self) -> CK_KEY_TYPE {
        match self.kind {
            PublicKind::Rsa { .. } => CKK_RSA,
            PublicKind::Ec { .. } => CKK_EC,
        }
    }

    /// Modulus bits or field bits (0 for an unknown curve).
    pub fn bits(&self) -> u16 {
        match &self.kind {
            PublicKind::Rsa { modulus, .. } => {
                let m: Vec<u8> = modulus.iter().copied().skip_while(|&b| b == 0).collect();
                let top = m.first().map_or(0, |b| 8 - b.leading_zeros() as usize);
                (m.len().saturating_sub(1) * 8 + top) as u16
            }
            PublicKind::Ec { curve, .. } => curve.map_or(0, |c| c.field_bits),
        }
    }
}

/// What CExx holds for a key: its public key, and the certificate subject when it is X.509.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicPart {
    pub info: PublicInfo,
    /// The certificate, when CExx is X.509 (not a CV request).
    pub certificate: Option<X509>,
}

/// A private (RSA, EC) or secret (AES) key on the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyObject {
    pub key_id: u8,
    pub desc: KeyDescription,
    pub meta: KeyMeta,
    /// From CExx: `None` = not read yet; `Some(None)` = no usable CExx.
    pub public: Option<Option<PublicPart>>,
}

impl KeyObject {
    pub fn class(&self) -> CK_OBJECT_CLASS {
        match self.desc.kind {
            KeyKind::Aes => CKO_SECRET_KEY,
            _ => CKO_PRIVATE_KEY,
        }
    }

    pub fn key_type(&self) -> CK_KEY_TYPE {
        match self.desc.kind {
            KeyKind::Rsa => CKK_RSA,
            KeyKind::Ec => CKK_EC,
            KeyKind::Aes => CKK_AES,
        }
    }

    pub fn public_part(&self) -> Option<&PublicPart> {
        self.public.as_ref().and_then(Option::as_ref)
    }
}

/// A public key object: derived from a card key's CExx, or a session object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyObject {
    /// The card key it belongs to (`None` for session objects).
    pub key_id: Option<u8>,
    pub label: String,
    pub id: Vec<u8>,
    pub info: PublicInfo,
    /// The private key's usage; the public key offers the mirror operations.
    pub usage: KeyUsage,
    pub meta: KeyMeta,
    pub subject: Vec<u8>,
}

/// An X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertObject {
    /// CExx (end entity), CAxx (CA) or `None` (session object).
    pub file: Option<Fid>,
    /// The C8xx description of a CA certificate.
    pub desc: Option<CertificateDescription>,
    pub label: String,
    pub id: Vec<u8>,
    pub value: Vec<u8>,
    pub x509: X509,
    /// CKA_CERTIFICATE_CATEGORY.
    pub category: CK_ULONG,
    pub trusted: bool,
}

/// A data object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataObject {
    /// C9xx and its content (`None` for session objects).
    pub desc_fid: Option<Fid>,
    pub desc: Option<DataObjectDescription>,
    /// CDxx / CFxx.
    pub file: Option<Fid>,
    pub label: String,
    pub application: String,
    /// CKA_OBJECT_ID, DER (empty when none).
    pub object_id: Vec<u8>,
    pub private: bool,
    /// `None` = not read yet (read on demand; private data needs the user PIN).
    pub value: Option<Vec<u8>>,
}

/// The DKEK status (IMPORT DKEK SHARE without data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkekObject {
    /// The key domain (P2 of IMPORT DKEK SHARE).
    pub domain: u8,
    pub kcv: [u8; 8],
    pub total_shares: u8,
    pub outstanding_shares: u8,
}

impl DkekObject {
    /// "DKEK" for domain 0 (the only one most devices have), "DKEK <n>" for the others.
    pub fn label(&self) -> String {
        match self.domain {
            0 => "DKEK".into(),
            n => format!("DKEK {n}"),
        }
    }
}

/// A secret key held in memory as a session object (see `session_secret.rs`); its value is
/// zeroized when the object goes and masked in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSecretKey {
    /// CKK_GENERIC_SECRET or CKK_AES.
    pub key_type: CK_KEY_TYPE,
    pub label: String,
    pub id: Vec<u8>,
    pub value: SecretBytes,
    pub private: bool,
    pub sensitive: bool,
    pub extractable: bool,
    pub always_sensitive: bool,
    pub never_extractable: bool,
    /// The mechanism that derived it, or CK_UNAVAILABLE_INFORMATION.
    pub key_gen_mechanism: CK_MECHANISM_TYPE,
    /// The usage attributes (CKA_ENCRYPT, ...) that are true.
    pub usage: Vec<CK_ATTRIBUTE_TYPE>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Key(KeyObject),
    PublicKey(PublicKeyObject),
    Certificate(CertObject),
    Data(DataObject),
    Dkek(DkekObject),
    SessionSecret(SessionSecretKey),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub handle: CK_OBJECT_HANDLE,
    pub identity: Identity,
    /// The session that created a session object.
    pub owner: Option<CK_SESSION_HANDLE>,
    pub body: Body,
}

impl Object {
    pub fn class(&self) -> CK_OBJECT_CLASS {
        match &self.body {
            Body::Key(k) => k.class(),
            Body::PublicKey(_) => CKO_PUBLIC_KEY,
            Body::Certificate(_) => CKO_CERTIFICATE,
            Body::Data(_) => CKO_DATA,
            Body::Dkek(_) | Body::SessionSecret(_) => CKO_SECRET_KEY,
        }
    }

    /// CKA_TOKEN.
    pub fn is_token(&self) -> bool {
        self.owner.is_none()
    }

    /// CKA_PRIVATE.
    pub fn is_private(&self) -> bool {
        match &self.body {
            Body::Key(_) | Body::Dkek(_) => true,
            Body::Data(d) => d.private,
            Body::SessionSecret(k) => k.private,
            Body::PublicKey(_) | Body::Certificate(_) => false,
        }
    }

    /// PKCS#11 2.40 §4.4: a CKA_PRIVATE object is out of reach until the user logs in. (OpenSC
    /// does the same on this card: without login it lists the public keys only.)
    pub fn visible(&self, user_logged_in: bool) -> bool {
        user_logged_in || !self.is_private()
    }

    pub fn is_key(&self) -> bool {
        matches!(
            self.body,
            Body::Key(_) | Body::PublicKey(_) | Body::Dkek(_) | Body::SessionSecret(_)
        )
    }
}
