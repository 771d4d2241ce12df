//! Certificate descriptions (C8xx, for CA certificates in CAxx) and data object descriptions
//! (C9xx, for data in CDxx/CFxx) (PROTOCOL.md §7.2, §7.3).

use super::error::{Error, Result};
use super::pkcs15::{find_deep, CommonObject};
use super::tlv::{self, Tlv};

/// A certificate description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateDescription {
    pub common: CommonObject,
    /// CKA_ID.
    pub id: Vec<u8>,
    /// CommonCertificateAttributes.authority (a CA certificate).
    pub authority: bool,
    /// Path of the certificate file, usually `CA xx`.
    pub path: Vec<u8>,
    /// Outer tag A5 (a CV certificate, sc-hsm-embedded) instead of 30 (X.509).
    pub cv_certificate: bool,
}

impl CertificateDescription {
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let top = Tlv::parse(bytes)?.0;
        let cv_certificate = match top.tag {
            0x30 => false,
            0xA5 => true,
            t => {
                return Err(Error::malformed(format!(
                    "certificate description with tag {t:X}"
                )))
            }
        };
        let parts = tlv::parse_all(top.value)?;
        let mut seqs = parts.iter().filter(|t| t.tag == 0x30);
        let common = CommonObject::decode(
            seqs.next()
                .ok_or_else(|| Error::malformed("certificate description without attributes"))?,
        )?;
        let cert_attrs = seqs
            .next()
            .ok_or_else(|| Error::malformed("certificate description without iD"))?;
        let id = cert_attrs.require(0x04)?.value.to_vec();
        let authority = cert_attrs
            .find(0x01)?
            .is_some_and(|b| b.value.first().is_some_and(|&v| v != 0));
        Ok(CertificateDescription {
            common,
            id,
            authority,
            path: path_of(&parts)?,
            cv_certificate,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut cert_attrs = tlv::encode(0x04, &self.id);
        if self.authority {
            tlv::write(&mut cert_attrs, 0x01, &[0xFF]);
        }
        let path = tlv::encode(
            0xA1,
            &tlv::encode(0x30, &tlv::encode(0x30, &tlv::encode(0x04, &self.path))),
        );
        let body = [self.common.encode(), tlv::encode(0x30, &cert_attrs), path].concat();
        tlv::encode(if self.cv_certificate { 0xA5 } else { 0x30 }, &body)
    }
}

/// A data object description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataObjectDescription {
    pub common: CommonObject,
    pub application_name: Option<String>,
    /// Application OID, content bytes.
    pub application_oid: Option<Vec<u8>>,
    /// Path of the data file: `CD xx` (private) or `CF xx` (public).
    pub path: Vec<u8>,
}

impl DataObjectDescription {
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let top = Tlv::parse(bytes)?.0;
        if top.tag != 0x30 {
            return Err(Error::malformed(format!(
                "data object description with tag {:X}",
                top.tag
            )));
        }
        let parts = tlv::parse_all(top.value)?;
        let mut seqs = parts.iter().filter(|t| t.tag == 0x30);
        let common = CommonObject::decode(
            seqs.next()
                .ok_or_else(|| Error::malformed("data object description without attributes"))?,
        )?;
        let (mut application_name, mut application_oid) = (None, None);
        if let Some(app) = seqs.next() {
            application_name = app
                .find(0x0C)?
                .map(|n| String::from_utf8_lossy(n.value).into_owned());
            application_oid = app.find(0x06)?.map(|o| o.value.to_vec());
        }
        Ok(DataObjectDescription {
            common,
            application_name,
            application_oid,
            path: path_of(&parts)?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut app = Vec::new();
        if let Some(n) = &self.application_name {
            tlv::write(&mut app, 0x0C, n.as_bytes());
        }
        if let Some(o) = &self.application_oid {
            tlv::write(&mut app, 0x06, o);
        }
        let path = tlv::encode(0xA1, &tlv::encode(0x30, &tlv::encode(0x04, &self.path)));
        let body = [self.common.encode(), tlv::encode(0x30, &app), path].concat();
        tlv::encode(0x30, &body)
    }
}

/// The path (first OCTET STRING) inside the type attributes [1].
fn path_of(parts: &[Tlv<'_>]) -> Result<Vec<u8>> {
    let attrs = parts
        .iter()
        .find(|t| t.tag == 0xA1)
        .ok_or_else(|| Error::malformed("description without type attributes [1]"))?;
    Ok(find_deep(attrs.value, 0x04)?
        .ok_or_else(|| Error::malformed("description without path"))?
        .value
        .to_vec())
}

#[cfg(test)]
mod tests {
    use super::super::pkcs15::object_flags;
    use super::*;

    #[test]
    fn certificate_description_round_trip() {
        let cd = CertificateDescription {
            common: CommonObject {
                label: "Root CA".into(),
                flags: None,
                auth_id: None,
            },
            id: vec![1, 2, 3],
            authority: true,
            path: vec![0xCA, 0x01],
            cv_certificate: false,
        };
        let enc = cd.encode();
        let tail = crate::transport::mock::from_hex("0101FF A108 3006 3004 0402 CA01");
        assert!(enc.ends_with(&tail), "{enc:02X?}");
        assert_eq!(CertificateDescription::decode(&enc).unwrap(), cd);
        let cv = CertificateDescription {
            cv_certificate: true,
            authority: false,
            ..cd
        };
        assert_eq!(CertificateDescription::decode(&cv.encode()).unwrap(), cv);
        for cut in 0..enc.len() {
            assert!(CertificateDescription::decode(&enc[..cut]).is_err());
        }
    }

    #[test]
    fn data_object_description_round_trip() {
        let dc = DataObjectDescription {
            common: CommonObject {
                label: "secret note".into(),
                flags: Some(object_flags::PRIVATE),
                auth_id: Some(vec![1]),
            },
            application_name: Some("app".into()),
            application_oid: Some(vec![0x2A, 0x03]),
            path: vec![0xCD, 0x00],
        };
        let enc = dc.encode();
        assert_eq!(
            &enc[enc.len() - 8..],
            &[0xA1, 0x06, 0x30, 0x04, 0x04, 0x02, 0xCD, 0x00]
        );
        assert_eq!(DataObjectDescription::decode(&enc).unwrap(), dc);
        let bare = DataObjectDescription {
            common: CommonObject {
                label: "pub".into(),
                flags: None,
                auth_id: None,
            },
            application_name: None,
            application_oid: None,
            path: vec![0xCF, 0x01],
        };
        assert_eq!(DataObjectDescription::decode(&bare.encode()).unwrap(), bare);
        for cut in 0..enc.len() {
            assert!(DataObjectDescription::decode(&enc[..cut]).is_err());
        }
    }
}
