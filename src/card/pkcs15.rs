//! PKCS#15 pieces shared by the descriptions hosts store on the card (PROTOCOL.md §7):
//! bit strings, CommonObjectAttributes, key usage flags; and EF.TokenInfo (2F03).
//!
//! Encoders write what OpenSC writes (DER, minimal named-bit lists), so that OpenSC reads what
//! this module creates; decoders accept OpenSC's and sc-hsm-embedded's variants.

use super::error::{Error, Result};
use super::tlv::{self, Tlv};

/// Encodes a named-bit list (bit i of `bits` = PKCS#15 flag i, flag 0 = MSB of the first
/// byte) as a DER BIT STRING value: trailing zero bits dropped, as OpenSC does.
pub fn encode_bit_string(bits: u32) -> Vec<u8> {
    if bits == 0 {
        return vec![0];
    }
    let count = 32 - bits.leading_zeros() as usize; // highest set flag + 1
    let nbytes = count.div_ceil(8);
    let mut out = vec![0u8; 1 + nbytes];
    out[0] = ((8 - count % 8) % 8) as u8;
    for i in 0..count {
        if bits & (1 << i) != 0 {
            out[1 + i / 8] |= 0x80 >> (i % 8);
        }
    }
    out
}

/// Decodes a BIT STRING value into flag bits (flag i = bit i); ignores the unused-bits count
/// beyond masking, and flags past 31.
pub fn decode_bit_string(value: &[u8]) -> Result<u32> {
    let (&unused, bytes) = value
        .split_first()
        .ok_or_else(|| Error::malformed("empty BIT STRING"))?;
    if unused > 7 || (bytes.is_empty() && unused != 0) {
        return Err(Error::malformed("bad BIT STRING padding"));
    }
    let mut bits = 0u32;
    let total = bytes.len() * 8 - usize::from(unused);
    for i in 0..total.min(32) {
        if bytes[i / 8] & (0x80 >> (i % 8)) != 0 {
            bits |= 1 << i;
        }
    }
    Ok(bits)
}

/// CommonObjectFlags.
pub mod object_flags {
    pub const PRIVATE: u32 = 1 << 0;
    pub const MODIFIABLE: u32 = 1 << 1;
}

/// KeyUsageFlags (PKCS#15), as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct KeyUsage(pub u32);

impl KeyUsage {
    pub const ENCRYPT: u32 = 1 << 0;
    pub const DECRYPT: u32 = 1 << 1;
    pub const SIGN: u32 = 1 << 2;
    pub const SIGN_RECOVER: u32 = 1 << 3;
    pub const WRAP: u32 = 1 << 4;
    pub const UNWRAP: u32 = 1 << 5;
    pub const VERIFY: u32 = 1 << 6;
    pub const VERIFY_RECOVER: u32 = 1 << 7;
    pub const DERIVE: u32 = 1 << 8;
    pub const NON_REPUDIATION: u32 = 1 << 9;

    pub fn has(self, flag: u32) -> bool {
        self.0 & flag == flag
    }
}

/// CommonObjectAttributes: label, flags, authId.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonObject {
    pub label: String,
    /// `None` when the flags element is absent (sc-hsm-embedded writes none).
    pub flags: Option<u32>,
    pub auth_id: Option<Vec<u8>>,
}

impl CommonObject {
    pub(crate) fn decode(t: &Tlv<'_>) -> Result<CommonObject> {
        let mut c = CommonObject::default();
        for e in t.children() {
            let e = e?;
            match e.tag {
                0x0C => c.label = String::from_utf8_lossy(e.value).into_owned(),
                0x03 => c.flags = Some(decode_bit_string(e.value)?),
                0x04 => c.auth_id = Some(e.value.to_vec()),
                _ => {}
            }
        }
        Ok(c)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = tlv::encode(0x0C, self.label.as_bytes());
        if let Some(f) = self.flags {
            tlv::write(&mut v, 0x03, &encode_bit_string(f));
        }
        if let Some(a) = &self.auth_id {
            tlv::write(&mut v, 0x04, a);
        }
        tlv::encode(0x30, &v)
    }

    pub fn is_private(&self) -> bool {
        self.flags.is_some_and(|f| f & object_flags::PRIVATE != 0)
    }
}

/// The first data object with `tag` found depth-first inside constructed objects of `data`
/// (paths and sizes sit at varying depths in the variants hosts write).
pub(crate) fn find_deep<'a>(data: &'a [u8], tag: u16) -> Result<Option<Tlv<'a>>> {
    for t in tlv::TlvIter::new(data) {
        let t = t?;
        if t.tag == tag {
            return Ok(Some(t));
        }
        let constructed = (t.tag >> if t.tag > 0xFF { 8 } else { 0 }) & 0x20 != 0;
        if constructed {
            if let Some(found) = find_deep(t.value, tag)? {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

/// EF.TokenInfo (2F03): hosts only read the label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenInfo {
    pub version: u8,
    pub serial_number: Option<Vec<u8>>,
    pub manufacturer_id: Option<String>,
    pub label: Option<String>,
    /// TokenFlags (readonly 0, loginRequired 1, prnGeneration 2, eidCompliant 3).
    pub flags: u32,
}

impl TokenInfo {
    pub const FLAG_READONLY: u32 = 1 << 0;
    pub const FLAG_LOGIN_REQUIRED: u32 = 1 << 1;
    pub const FLAG_PRN_GENERATION: u32 = 1 << 2;

    /// What OpenSC writes after INITIALIZE with a label: version 0, label, prnGeneration.
    pub fn with_label(label: &str) -> TokenInfo {
        TokenInfo {
            label: Some(label.to_string()),
            flags: TokenInfo::FLAG_PRN_GENERATION,
            ..TokenInfo::default()
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<TokenInfo> {
        let top = Tlv::parse(bytes)?.0;
        if top.tag != 0x30 {
            return Err(Error::malformed("TokenInfo is not a SEQUENCE"));
        }
        let mut ti = TokenInfo::default();
        for e in top.children() {
            let e = e?;
            match e.tag {
                0x02 => ti.version = tlv::read_uint(e.value).unwrap_or(0) as u8,
                0x04 => ti.serial_number = Some(e.value.to_vec()),
                0x0C => ti.manufacturer_id = Some(String::from_utf8_lossy(e.value).into_owned()),
                0x80 => ti.label = Some(String::from_utf8_lossy(e.value).into_owned()),
                0x03 => ti.flags = decode_bit_string(e.value)?,
                _ => {}
            }
        }
        Ok(ti)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = tlv::encode(0x02, &tlv::der_uint(u64::from(self.version)));
        if let Some(s) = &self.serial_number {
            tlv::write(&mut v, 0x04, s);
        }
        if let Some(m) = &self.manufacturer_id {
            tlv::write(&mut v, 0x0C, m.as_bytes());
        }
        if let Some(l) = &self.label {
            tlv::write(&mut v, 0x80, l.as_bytes());
        }
        tlv::write(&mut v, 0x03, &encode_bit_string(self.flags));
        tlv::encode(0x30, &v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_strings_as_opensc_writes_them() {
        assert_eq!(encode_bit_string(0b11), [6, 0xC0]);
        assert_eq!(encode_bit_string(object_flags::PRIVATE), [7, 0x80]);
        let usage = KeyUsage::SIGN | KeyUsage::SIGN_RECOVER | KeyUsage::DERIVE;
        assert_eq!(encode_bit_string(usage), [7, 0x30, 0x80]);
        assert_eq!(encode_bit_string(TokenInfo::FLAG_PRN_GENERATION), [5, 0x20]);
        assert_eq!(encode_bit_string(0), [0]);
        assert_eq!(encode_bit_string(1 << 7), [0, 0x01]);
        for bits in [0u32, 1, 3, 0x80, 0x100, 0x3FF, 0x2A5] {
            assert_eq!(decode_bit_string(&encode_bit_string(bits)).unwrap(), bits);
        }
        // sc-hsm-embedded: always two bytes, 6 unused.
        assert_eq!(
            decode_bit_string(&[6, 0x20, 0x80]).unwrap(),
            KeyUsage::SIGN | KeyUsage::DERIVE
        );
        assert!(decode_bit_string(&[]).is_err());
        assert!(decode_bit_string(&[8, 0]).is_err());
        assert!(decode_bit_string(&[1]).is_err());
    }

    #[test]
    fn token_info_round_trip() {
        let ti = TokenInfo::with_label("My HSM");
        let enc = ti.encode();
        assert_eq!(
            enc,
            [
                &[0x30, 0x0F, 0x02, 0x01, 0x00, 0x80, 0x06][..],
                b"My HSM",
                &[0x03, 0x02, 0x05, 0x20]
            ]
            .concat()
        );
        assert_eq!(TokenInfo::decode(&enc).unwrap(), ti);
        let full = TokenInfo {
            version: 1,
            serial_number: Some(b"DENK0105702".to_vec()),
            manufacturer_id: Some("CardContact".into()),
            label: Some("x".into()),
            flags: 0,
        };
        assert_eq!(TokenInfo::decode(&full.encode()).unwrap(), full);
        assert!(TokenInfo::decode(&[0x31, 0]).is_err());
        for cut in 0..enc.len() {
            assert!(TokenInfo::decode(&enc[..cut]).is_err());
        }
    }
}
