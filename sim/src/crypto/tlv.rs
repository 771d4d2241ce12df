//! Minimal BER-TLV encoding and decoding for CV certificates, requests and DER signatures
//! (one- or two-byte tags, definite lengths up to 3 length bytes).

use super::CryptoError;

/// Encode a TLV; `tag` is 1 or 2 bytes (e.g. 0x5F37, 0x7F21, 0x42).
pub fn encode(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    if tag > 0xFF {
        out.extend_from_slice(&tag.to_be_bytes());
    } else {
        out.push(tag as u8);
    }
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else if len <= 0xFFFF {
        out.push(0x82);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x83);
        out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    }
    out.extend_from_slice(value);
    out
}

/// One decoded TLV: its tag, its value and the whole encoding (tag ‖ length ‖ value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u16,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

/// Decode the TLV at the start of `data`; returns it and the rest.
pub fn decode(data: &[u8]) -> Result<(Tlv<'_>, &[u8]), CryptoError> {
    let first = *data.first().ok_or(CryptoError::Malformed)?;
    let (tag, mut pos) = if first & 0x1F == 0x1F {
        let second = *data.get(1).ok_or(CryptoError::Malformed)?;
        if second & 0x80 != 0 {
            return Err(CryptoError::Malformed); // tags of 3+ bytes do not occur here
        }
        (u16::from_be_bytes([first, second]), 2)
    } else {
        (first as u16, 1)
    };
    let len_byte = *data.get(pos).ok_or(CryptoError::Malformed)?;
    pos += 1;
    let len = if len_byte < 0x80 {
        len_byte as usize
    } else {
        let count = (len_byte & 0x7F) as usize;
        if count == 0 || count > 3 {
            return Err(CryptoError::Malformed);
        }
        let bytes = data.get(pos..pos + count).ok_or(CryptoError::Malformed)?;
        pos += count;
        bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize)
    };
    let end = pos.checked_add(len).ok_or(CryptoError::Malformed)?;
    let value = data.get(pos..end).ok_or(CryptoError::Malformed)?;
    Ok((
        Tlv {
            tag,
            value,
            raw: &data[..end],
        },
        &data[end..],
    ))
}

/// Decode a whole sequence of TLVs (the content of a constructed TLV).
pub fn decode_all(mut data: &[u8]) -> Result<Vec<Tlv<'_>>, CryptoError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (tlv, rest) = decode(data)?;
        out.push(tlv);
        data = rest;
    }
    Ok(out)
}

/// The value of the first TLV with `tag` in `items`.
pub fn find<'a>(items: &[Tlv<'a>], tag: u16) -> Option<&'a [u8]> {
    items.iter().find(|t| t.tag == tag).map(|t| t.value)
}

/// DER INTEGER of an unsigned big-endian number (minimal, with a 00 when the top bit is set).
pub fn der_unsigned_integer(be: &[u8]) -> Vec<u8> {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let mut v = Vec::with_capacity(be.len() - start + 1);
    if be.get(start).is_none_or(|&b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(&be[start..]);
    encode(0x02, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_lengths_and_tags() {
        for len in [0usize, 1, 0x7F, 0x80, 0xFF, 0x100, 0x1234, 0x10000] {
            let value = vec![0xAB; len];
            for tag in [0x42u16, 0x5F37, 0x7F21] {
                let enc = encode(tag, &value);
                let (tlv, rest) = decode(&enc).unwrap();
                assert_eq!(
                    (tlv.tag, tlv.value.len(), tlv.raw.len()),
                    (tag, len, enc.len())
                );
                assert!(rest.is_empty());
            }
        }
    }

    #[test]
    fn truncated_input_is_malformed() {
        let enc = encode(0x7F21, &[1, 2, 3]);
        for cut in 0..enc.len() {
            assert_eq!(decode(&enc[..cut]), Err(CryptoError::Malformed));
        }
    }

    #[test]
    fn der_integers() {
        assert_eq!(der_unsigned_integer(&[0, 0, 0x7F]), vec![2, 1, 0x7F]);
        assert_eq!(der_unsigned_integer(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(der_unsigned_integer(&[0, 0]), vec![2, 1, 0]);
    }
}
