//! Private and secret key descriptions (C4xx, PROTOCOL.md §7.1): `30` RSA, `A0` EC, `A8` AES.
//!
//! Decodes OpenSC's form (flags, authId, keyReference) and sc-hsm-embedded's (label only,
//! two-byte usage, no keyReference, EC size = prime bytes × 8 so 528 for P-521, which becomes
//! 521 here as OpenSC does). Encodes RSA and EC in OpenSC's form so OpenSC sees our keys, and
//! AES in sc-hsm-embedded's form (OpenSC does not read AES descriptions).

use super::error::{Error, Result};
use super::pkcs15::{
    decode_bit_string, encode_bit_string, find_deep, object_flags, CommonObject, KeyUsage,
};
use super::tlv::{self, Tlv};

/// The key type, from the outer tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Rsa,
    Ec,
    Aes,
}

impl KeyKind {
    fn tag(self) -> u16 {
        match self {
            KeyKind::Rsa => 0x30,
            KeyKind::Ec => 0xA0,
            KeyKind::Aes => 0xA8,
        }
    }
}

/// One key description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDescription {
    pub kind: KeyKind,
    pub common: CommonObject,
    /// CKA_ID.
    pub id: Vec<u8>,
    pub usage: KeyUsage,
    /// The card's key id (OpenSC writes it; sc-hsm-embedded does not).
    pub key_reference: Option<u8>,
    /// RSA modulus bits, EC field bits (521 for P-521), AES key bits.
    pub size_bits: u16,
    /// `algReference [1] SEQUENCE OF Reference` of CommonKeyAttributes (ISO 7816-15): the card
    /// algorithm ids (P2 values, e.g. `73 92`) the key is restricted to. This module keeps a
    /// key's CKA_ALLOWED_MECHANISMS here, on the card beside the key and inside every wrapped-key
    /// envelope (bug #168 shim); OpenSC parses the field as optional. `None` = unrestricted.
    pub alg_reference: Option<Vec<u8>>,
    /// `subjectName` of CommonPrivateKeyAttributes ([0] of an RSA/EC description): what an
    /// application set as CKA_SUBJECT, kept byte for byte as the contents of a SEQUENCE, the way
    /// OpenSC encodes and reads it (applications are not always careful to give a valid DER
    /// Name, and must get back what they set). Never on AES descriptions.
    pub subject: Option<Vec<u8>>,
}

impl KeyDescription {
    /// An OpenSC-style description: flags private+modifiable, authId 01, keyReference.
    pub fn opensc(
        kind: KeyKind,
        label: &str,
        id: &[u8],
        usage: u32,
        key_id: u8,
        size_bits: u16,
    ) -> Self {
        KeyDescription {
            kind,
            common: CommonObject {
                label: label.to_string(),
                flags: Some(object_flags::PRIVATE | object_flags::MODIFIABLE),
                auth_id: Some(vec![0x01]),
            },
            id: id.to_vec(),
            usage: KeyUsage(usage),
            key_reference: Some(key_id),
            size_bits,
            alg_reference: None,
            subject: None,
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<KeyDescription> {
        let top = Tlv::parse(bytes)?.0;
        let kind = match top.tag {
            0x30 => KeyKind::Rsa,
            0xA0 => KeyKind::Ec,
            0xA8 => KeyKind::Aes,
            t => return Err(Error::malformed(format!("key description with tag {t:X}"))),
        };
        let parts = tlv::parse_all(top.value)?;
        let mut seqs = parts.iter().filter(|t| t.tag == 0x30);
        let common =
            CommonObject::decode(seqs.next().ok_or_else(|| {
                Error::malformed("key description without CommonObjectAttributes")
            })?)?;
        let key_attrs = seqs
            .next()
            .ok_or_else(|| Error::malformed("key description without CommonKeyAttributes"))?;

        let mut id = None;
        let mut usage = None;
        let mut key_reference = None;
        let mut alg_reference = None;
        for e in key_attrs.children() {
            let e = e?;
            match e.tag {
                0x04 if id.is_none() => id = Some(e.value.to_vec()),
                // The first bit string is the usage; a second one would be accessFlags.
                0x03 if usage.is_none() => usage = Some(decode_bit_string(e.value)?),
                0x02 => key_reference = tlv::read_uint(e.value).and_then(|v| u8::try_from(v).ok()),
                0xA1 => alg_reference = Some(decode_alg_reference(e.value)?),
                _ => {}
            }
        }

        // Size: in the type attributes [1] for RSA/EC; in [0] (with or without an inner
        // SEQUENCE) for AES.
        let size_holders: &[u16] = match kind {
            KeyKind::Aes => &[0xA0, 0xA1],
            _ => &[0xA1],
        };
        let mut size = None;
        for holder in size_holders {
            if let Some(h) = parts.iter().find(|t| t.tag == *holder) {
                if let Some(i) = find_deep(h.value, 0x02)? {
                    size = tlv::read_uint(i.value);
                    break;
                }
            }
        }
        let subject = match kind {
            KeyKind::Aes => None,
            _ => match parts.iter().find(|t| t.tag == 0xA0) {
                Some(private_attrs) => tlv::parse_all(private_attrs.value)?
                    .iter()
                    .find(|t| t.tag == 0x30)
                    .map(|n| n.value.to_vec()),
                None => None,
            },
        };
        let mut size_bits = size
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| Error::malformed("key description without key size"))?;
        if kind == KeyKind::Ec && size_bits == 528 {
            size_bits = 521; // prime bytes × 8 for P-521, as sc-hsm-embedded writes it
        }
        Ok(KeyDescription {
            kind,
            common,
            id: id.ok_or_else(|| Error::malformed("key description without iD"))?,
            usage: KeyUsage(usage.unwrap_or(0)),
            key_reference,
            size_bits,
            alg_reference,
            subject,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut key_attrs = tlv::encode(0x04, &self.id);
        tlv::write(&mut key_attrs, 0x03, &encode_bit_string(self.usage.0));
        if let Some(r) = self.key_reference {
            tlv::write(&mut key_attrs, 0x02, &tlv::der_uint(u64::from(r)));
        }
        if let Some(list) = &self.alg_reference {
            let refs: Vec<u8> = list
                .iter()
                .flat_map(|&a| tlv::encode(0x02, &tlv::der_uint(u64::from(a))))
                .collect();
            tlv::write(&mut key_attrs, 0xA1, &refs);
        }
        let size = tlv::encode(0x02, &tlv::der_uint(u64::from(self.size_bits)));
        let type_attrs = match self.kind {
            KeyKind::Aes => tlv::encode(0xA0, &tlv::encode(0x30, &size)),
            _ => {
                let path = tlv::encode(0x30, &tlv::encode(0x04, &[]));
                tlv::encode(0xA1, &tlv::encode(0x30, &[path, size].concat()))
            }
        };
        let private_attrs = match (&self.subject, self.kind) {
            (Some(name), KeyKind::Rsa | KeyKind::Ec) => tlv::encode(0xA0, &tlv::encode(0x30, name)),
            _ => Vec::new(),
        };
        let body = [
            self.common.encode(),
            tlv::encode(0x30, &key_attrs),
            private_attrs,
            type_attrs,
        ]
        .concat();
        tlv::encode(self.kind.tag(), &body)
    }
}

/// The INTEGERs of algReference; each must be a card algorithm id (one byte).
fn decode_alg_reference(value: &[u8]) -> Result<Vec<u8>> {
    tlv::parse_all(value)?
        .iter()
        .map(|i| match (i.tag, tlv::read_uint(i.value)) {
            (0x02, Some(v)) => u8::try_from(v)
                .map_err(|_| Error::malformed(format!("algReference {v:#x} is no card algorithm"))),
            _ => Err(Error::malformed(
                "algReference holds something else than INTEGERs",
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_name_round_trips_and_stays_off_aes() {
        let name = h("3011310F300D06035504030C066D792D6B6579"); // CN=my-key
        let mut d = KeyDescription::opensc(KeyKind::Ec, "k", &[1], 0, 1, 256);
        d.subject = Some(name.clone());
        let back = KeyDescription::decode(&d.encode()).unwrap();
        assert_eq!(back.subject, Some(name.clone()));
        assert_eq!(back, d);
        // Whatever an application sets comes back unchanged, valid DER or not.
        d.subject = Some(b"This won't be used in the cert".to_vec());
        assert_eq!(KeyDescription::decode(&d.encode()).unwrap(), d);
        let mut aes = KeyDescription::opensc(KeyKind::Aes, "a", &[2], 0, 2, 256);
        aes.subject = Some(name);
        assert_eq!(KeyDescription::decode(&aes.encode()).unwrap().subject, None);
    }

    fn h(s: &str) -> Vec<u8> {
        crate::transport::mock::from_hex(s)
    }

    const OPENSC_EC: &str = "A03F30110C086274632D74657374030206C0040101301E04144D8B45C6B9E00AEE9C677B595E7B7B72572035ED0303073080020101A10A30083002040002020100";

    #[test]
    fn opensc_ec_example_round_trips_byte_exactly() {
        let bytes = h(OPENSC_EC);
        let d = KeyDescription::decode(&bytes).unwrap();
        assert_eq!(d.kind, KeyKind::Ec);
        assert_eq!(d.common.label, "btc-test");
        assert!(d.common.is_private());
        assert_eq!(d.common.auth_id.as_deref(), Some(&[1u8][..]));
        assert_eq!(d.id, h("4D8B45C6B9E00AEE9C677B595E7B7B72572035ED"));
        assert!(d
            .usage
            .has(KeyUsage::SIGN | KeyUsage::SIGN_RECOVER | KeyUsage::DERIVE));
        assert!(!d.usage.has(KeyUsage::DECRYPT));
        assert_eq!((d.key_reference, d.size_bits), (Some(1), 256));
        assert_eq!(d.encode(), bytes);
        let built = KeyDescription::opensc(
            KeyKind::Ec,
            "btc-test",
            &h("4D8B45C6B9E00AEE9C677B595E7B7B72572035ED"),
            KeyUsage::SIGN | KeyUsage::SIGN_RECOVER | KeyUsage::DERIVE,
            1,
            256,
        );
        assert_eq!(built.encode(), bytes);
    }

    #[test]
    fn sc_hsm_embedded_variants() {
        // RSA: label only, 2-byte usage with 6 unused bits, no keyReference.
        let rsa = tlv::encode(
            0x30,
            &[
                tlv::encode(0x30, &tlv::encode(0x0C, b"rsa")),
                tlv::encode(
                    0x30,
                    &[tlv::encode(0x04, &[7]), tlv::encode(0x03, &[6, 0x60, 0x00])].concat(),
                ),
                tlv::encode(
                    0xA1,
                    &tlv::encode(0x30, &[h("30020400"), h("02020800")].concat()),
                ),
            ]
            .concat(),
        );
        let d = KeyDescription::decode(&rsa).unwrap();
        assert_eq!(
            (d.kind, d.size_bits, d.key_reference),
            (KeyKind::Rsa, 2048, None)
        );
        assert_eq!(d.usage.0, KeyUsage::DECRYPT | KeyUsage::SIGN);
        assert_eq!(d.common.flags, None);
        assert_eq!(KeyDescription::decode(&d.encode()).unwrap(), d);

        // EC P-521 with size 528 → 521.
        let ec = tlv::encode(
            0xA0,
            &[
                tlv::encode(0x30, &tlv::encode(0x0C, b"p521")),
                tlv::encode(
                    0x30,
                    &[tlv::encode(0x04, &[1]), tlv::encode(0x03, &[6, 0x20, 0x80])].concat(),
                ),
                tlv::encode(
                    0xA1,
                    &tlv::encode(0x30, &[h("30020400"), h("02020210")].concat()),
                ),
            ]
            .concat(),
        );
        assert_eq!(KeyDescription::decode(&ec).unwrap().size_bits, 521);

        // AES in both forms of [0].
        for size in [
            tlv::encode(0xA0, &h("3004020200C0")),
            tlv::encode(0xA0, &h("020200C0")),
        ] {
            let aes = tlv::encode(
                0xA8,
                &[
                    tlv::encode(0x30, &tlv::encode(0x0C, b"aes")),
                    tlv::encode(
                        0x30,
                        &[tlv::encode(0x04, &[2]), tlv::encode(0x03, &[6, 0xC0, 0x80])].concat(),
                    ),
                    size,
                ]
                .concat(),
            );
            let d = KeyDescription::decode(&aes).unwrap();
            assert_eq!((d.kind, d.size_bits), (KeyKind::Aes, 192));
            assert_eq!(KeyDescription::decode(&d.encode()).unwrap(), d);
        }
    }

    #[test]
    fn alg_reference_round_trips() {
        let mut d = KeyDescription::decode(&h(OPENSC_EC)).unwrap();
        assert_eq!(d.alg_reference, None);
        d.alg_reference = Some(vec![0x73, 0x92]);
        let bytes = d.encode();
        // CommonKeyAttributes ends with A1 { 02 01 73, 02 02 00 92 } (0x92 needs a 00 in DER).
        let needle = h("A1070201730202 0092".replace(' ', "").as_str());
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
        assert_eq!(KeyDescription::decode(&bytes).unwrap(), d);
        d.alg_reference = Some(vec![]);
        assert_eq!(KeyDescription::decode(&d.encode()).unwrap(), d);
        // Not INTEGERs, or out of range: an error, not a panic.
        let mut bad = d.clone();
        bad.alg_reference = Some(vec![0x01]);
        let mut bytes = bad.encode();
        let pos = bytes
            .windows(5)
            .position(|w| w == [0xA1, 0x03, 0x02, 0x01, 0x01])
            .unwrap();
        bytes[pos + 2] = 0x04;
        assert!(KeyDescription::decode(&bytes).is_err());
    }

    #[test]
    fn bad_descriptions_are_errors() {
        let bytes = h(OPENSC_EC);
        for cut in 0..bytes.len() {
            assert!(KeyDescription::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
        assert!(KeyDescription::decode(&h("A1020500")).is_err());
        assert!(KeyDescription::decode(&h("A0023000")).is_err());
    }
}
