//! A small BER-TLV reader and writer for what the SmartCard-HSM and its hosts use: tags of one
//! or two bytes (`30`, `A0`, `7F21`, `5F37`), definite lengths of up to three length bytes
//! (`82 xx xx`, `83 xx xx xx`).
//!
//! The reader works on borrowed slices and returns an error for anything truncated or outside
//! that subset; it never panics, whatever the input (the card, a file or a host may hand us
//! garbage).

use std::fmt;

/// Why a TLV could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvError {
    /// The input ends inside a tag, a length or a value.
    Truncated,
    /// A tag of more than two bytes.
    TagTooLong,
    /// Indefinite length (`80`) or more than three length bytes.
    UnsupportedLength,
}

impl fmt::Display for TlvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlvError::Truncated => "TLV truncated",
            TlvError::TagTooLong => "TLV tag longer than two bytes",
            TlvError::UnsupportedLength => "TLV length form not supported",
        })
    }
}

impl std::error::Error for TlvError {}

impl From<TlvError> for super::Error {
    fn from(e: TlvError) -> Self {
        super::Error::Malformed(e.to_string())
    }
}

/// One data object: its tag (one byte `0x30` or two bytes `0x7F21`), its value and the complete
/// encoding (tag, length and value), which some signatures and files need verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u16,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Reads the first data object of `data`; returns it and the bytes after it.
    pub fn parse(data: &'a [u8]) -> Result<(Tlv<'a>, &'a [u8]), TlvError> {
        let (&first, mut rest) = data.split_first().ok_or(TlvError::Truncated)?;
        let mut tag = u16::from(first);
        if first & 0x1F == 0x1F {
            let (&second, r) = rest.split_first().ok_or(TlvError::Truncated)?;
            if second & 0x80 != 0 {
                return Err(TlvError::TagTooLong);
            }
            tag = (tag << 8) | u16::from(second);
            rest = r;
        }
        let (&l0, mut rest) = rest.split_first().ok_or(TlvError::Truncated)?;
        let len = if l0 < 0x80 {
            usize::from(l0)
        } else {
            let n = usize::from(l0 & 0x7F);
            if n == 0 || n > 3 {
                return Err(TlvError::UnsupportedLength);
            }
            let bytes = rest.get(..n).ok_or(TlvError::Truncated)?;
            rest = &rest[n..];
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let value = rest.get(..len).ok_or(TlvError::Truncated)?;
        let header = data.len() - rest.len();
        let total = header + len;
        Ok((
            Tlv {
                tag,
                value,
                raw: &data[..total],
            },
            &data[total..],
        ))
    }

    /// Reads exactly one data object that must fill `data` completely.
    pub fn parse_exact(data: &'a [u8]) -> Result<Tlv<'a>, TlvError> {
        let (tlv, rest) = Tlv::parse(data)?;
        if !rest.is_empty() {
            return Err(TlvError::Truncated);
        }
        Ok(tlv)
    }

    /// The data objects inside this one's value (for constructed tags).
    pub fn children(&self) -> TlvIter<'a> {
        TlvIter::new(self.value)
    }

    /// The first child with `tag`; `Ok(None)` when absent.
    pub fn find(&self, tag: u16) -> Result<Option<Tlv<'a>>, TlvError> {
        find(self.value, tag)
    }

    /// Like [`Tlv::find`] but a missing child is an error naming it.
    pub fn require(&self, tag: u16) -> Result<Tlv<'a>, super::Error> {
        self.find(tag)?
            .ok_or_else(|| super::Error::Malformed(format!("missing tag {tag:02X}")))
    }
}

/// Iterates over consecutive data objects; stops after the first error.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> TlvIter<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        TlvIter {
            rest: data,
            failed: false,
        }
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match Tlv::parse(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// All data objects of `data` in order.
pub fn parse_all(data: &[u8]) -> Result<Vec<Tlv<'_>>, TlvError> {
    TlvIter::new(data).collect()
}

/// The first data object with `tag` at the top level of `data`.
pub fn find(data: &[u8], tag: u16) -> Result<Option<Tlv<'_>>, TlvError> {
    for tlv in TlvIter::new(data) {
        let tlv = tlv?;
        if tlv.tag == tag {
            return Ok(Some(tlv));
        }
    }
    Ok(None)
}

/// Appends a BER definite length.
pub fn write_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        _ => out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]),
    }
}

/// Appends tag, length and value.
pub fn write(out: &mut Vec<u8>, tag: u16, value: &[u8]) {
    if tag > 0xFF {
        out.extend_from_slice(&tag.to_be_bytes());
    } else {
        out.push(tag as u8);
    }
    write_len(out, value.len());
    out.extend_from_slice(value);
}

/// One encoded data object.
pub fn encode(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    write(&mut out, tag, value);
    out
}

/// A DER INTEGER value (content bytes only) for a non-negative number: minimal length, with a
/// leading zero when the top bit is set.
pub fn der_uint(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(7);
    let mut v = bytes[first..].to_vec();
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    v
}

/// Reads a non-negative DER INTEGER value of at most 8 significant bytes.
pub fn read_uint(value: &[u8]) -> Option<u64> {
    let trimmed = match value.iter().position(|&b| b != 0) {
        Some(i) => &value[i..],
        None => return if value.is_empty() { None } else { Some(0) },
    };
    if trimmed.len() > 8 || value[0] & 0x80 != 0 {
        return None;
    }
    Some(
        trimmed
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_two_byte_tags_and_long_lengths() {
        let mut v = Vec::new();
        write(&mut v, 0x7F21, &[0xAA; 300]);
        assert_eq!(&v[..5], &[0x7F, 0x21, 0x82, 0x01, 0x2C]);
        let (t, rest) = Tlv::parse(&v).unwrap();
        assert_eq!(
            (t.tag, t.value.len(), t.raw.len(), rest.len()),
            (0x7F21, 300, 305, 0)
        );

        let big = encode(0x04, &vec![0u8; 70000]);
        assert_eq!(&big[..5], &[0x04, 0x83, 0x01, 0x11, 0x70]);
        assert_eq!(Tlv::parse_exact(&big).unwrap().value.len(), 70000);
        assert_eq!(encode(0x30, &[0; 0x80])[..3], [0x30, 0x81, 0x80]);
    }

    #[test]
    fn nested_find() {
        let inner = [encode(0x5F29, &[0]), encode(0x42, b"CAR")].concat();
        let outer = encode(0x7F4E, &inner);
        let t = Tlv::parse_exact(&outer).unwrap();
        assert_eq!(t.find(0x42).unwrap().unwrap().value, b"CAR");
        assert!(t.find(0x99).unwrap().is_none());
        assert!(t.require(0x99).is_err());
        assert_eq!(t.children().count(), 2);
    }

    #[test]
    fn truncated_inputs_never_panic() {
        let good = encode(
            0x30,
            &[encode(0x7F49, &[7; 200]), encode(0x04, &[1, 2, 3])].concat(),
        );
        for cut in 0..good.len() {
            let r = Tlv::parse(&good[..cut]);
            assert!(r.is_err(), "cut {cut} parsed");
            // The iterator and find also survive it.
            let _ = parse_all(&good[..cut]);
            let _ = find(&good[..cut], 0x04);
        }
        // Garbage of every short shape.
        for a in 0..=255u8 {
            for b in [0u8, 0x1F, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFF] {
                let _ = Tlv::parse(&[a, b]);
                let _ = Tlv::parse(&[a, b, 0xFF, 0xFF]);
                let _ = parse_all(&[a, b, a, b, b]);
            }
        }
        assert_eq!(Tlv::parse(&[0x30, 0x80]), Err(TlvError::UnsupportedLength));
        assert_eq!(
            Tlv::parse(&[0x30, 0x84, 0, 0, 0, 1]),
            Err(TlvError::UnsupportedLength)
        );
        assert_eq!(
            Tlv::parse(&[0x1F, 0x81, 0x01, 0]),
            Err(TlvError::TagTooLong)
        );
        assert_eq!(Tlv::parse(&[]), Err(TlvError::Truncated));
        assert_eq!(
            Tlv::parse_exact(&[0x04, 0x00, 0x00]),
            Err(TlvError::Truncated)
        );
    }

    #[test]
    fn integers() {
        assert_eq!(der_uint(0), [0]);
        assert_eq!(der_uint(1), [1]);
        assert_eq!(der_uint(256), [1, 0]);
        assert_eq!(der_uint(192), [0, 0xC0]);
        assert_eq!(read_uint(&[0, 0xC0]), Some(192));
        assert_eq!(read_uint(&[2, 9]), Some(521));
        assert_eq!(read_uint(&[]), None);
        assert_eq!(read_uint(&[0x80]), None);
        assert_eq!(read_uint(&[0, 0, 0]), Some(0));
    }
}
