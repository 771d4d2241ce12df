//! The wrapped-key file of `sc-hsm-tool --wrap-key` / `--unwrap-key` (PROTOCOL.md §8.5):
//! `30 { 04 <key blob>, [PRKD from C4xx], [certificate or CV request from CExx] }`.
//! Files written here and by sc-hsm-tool are interchangeable.

use super::cvc::CvRequest;
use super::error::{Error, Result};
use super::prkd::KeyDescription;
use super::tlv::{self, Tlv};

/// The parts of a wrapped-key file, each kept as its complete TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKeyFile {
    /// The key blob (§8.3), without the 04 wrapper.
    pub blob: Vec<u8>,
    /// The key description TLV (30/A0/A8), as read from C4xx.
    pub prkd: Option<Vec<u8>>,
    /// The certificate TLV (30 X.509 or 67 CV request), as read from CExx.
    pub certificate: Option<Vec<u8>>,
}

impl WrappedKeyFile {
    /// Parses a file. Like sc-hsm-tool, the element after the blob is the description and the
    /// one after that the certificate; a lone second element that is not a key description is
    /// taken as the certificate. Bytes after the outer SEQUENCE are ignored.
    pub fn decode(bytes: &[u8]) -> Result<WrappedKeyFile> {
        let outer = Tlv::parse(bytes)?.0;
        if outer.tag != 0x30 {
            return Err(Error::malformed("wrapped key file is not a SEQUENCE"));
        }
        let parts = tlv::parse_all(outer.value)?;
        let blob = match parts.first() {
            Some(b) if b.tag == 0x04 => b.value.to_vec(),
            _ => {
                return Err(Error::malformed(
                    "wrapped key file does not start with the key blob",
                ))
            }
        };
        let mut prkd = None;
        let mut certificate = None;
        match &parts[1..] {
            [] => {}
            [one] => {
                if KeyDescription::decode(one.raw).is_ok() {
                    prkd = Some(one.raw.to_vec());
                } else {
                    certificate = Some(one.raw.to_vec());
                }
            }
            [p, c, ..] => {
                prkd = Some(p.raw.to_vec());
                certificate = Some(c.raw.to_vec());
            }
        }
        Ok(WrappedKeyFile {
            blob,
            prkd,
            certificate,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut body = tlv::encode(0x04, &self.blob);
        if let Some(p) = &self.prkd {
            body.extend_from_slice(p);
        }
        if let Some(c) = &self.certificate {
            body.extend_from_slice(c);
        }
        tlv::encode(0x30, &body)
    }

    /// The decoded key description, if the file has one.
    pub fn key_description(&self) -> Option<Result<KeyDescription>> {
        self.prkd.as_deref().map(KeyDescription::decode)
    }

    /// The CV request, if the certificate part is one (tag 67).
    pub fn cv_request(&self) -> Option<Result<CvRequest>> {
        self.certificate
            .as_deref()
            .filter(|c| c.first() == Some(&0x67))
            .map(CvRequest::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_variants() {
        let prkd = crate::transport::mock::from_hex(
            "A03F30110C086274632D74657374030206C0040101301E04144D8B45C6B9E00AEE9C677B595E7B7B72572035ED0303073080020101A10A30083002040002020100",
        );
        let cert = tlv::encode(
            0x30,
            &[tlv::encode(0x30, &[1, 2]), tlv::encode(0x30, &[])].concat(),
        );
        let full = WrappedKeyFile {
            blob: vec![0xAA; 300],
            prkd: Some(prkd.clone()),
            certificate: Some(cert.clone()),
        };
        let enc = full.encode();
        assert_eq!(&enc[..2], &[0x30, 0x82]);
        assert_eq!(WrappedKeyFile::decode(&enc).unwrap(), full);
        assert_eq!(
            full.key_description().unwrap().unwrap().common.label,
            "btc-test"
        );
        assert!(full.cv_request().is_none());

        let blob_only = WrappedKeyFile {
            blob: vec![1; 10],
            prkd: None,
            certificate: None,
        };
        assert_eq!(
            WrappedKeyFile::decode(&blob_only.encode()).unwrap(),
            blob_only
        );
        let cert_only = WrappedKeyFile {
            blob: vec![1; 10],
            prkd: None,
            certificate: Some(cert),
        };
        assert_eq!(
            WrappedKeyFile::decode(&cert_only.encode()).unwrap(),
            cert_only
        );
        let prkd_only = WrappedKeyFile {
            blob: vec![1; 10],
            prkd: Some(prkd),
            certificate: None,
        };
        assert_eq!(
            WrappedKeyFile::decode(&prkd_only.encode()).unwrap(),
            prkd_only
        );

        for cut in 0..enc.len() {
            assert!(WrappedKeyFile::decode(&enc[..cut]).is_err());
        }
        assert!(WrappedKeyFile::decode(&tlv::encode(0x30, &tlv::encode(0x05, &[]))).is_err());
    }
}
