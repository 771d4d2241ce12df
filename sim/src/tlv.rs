//! BER-TLV as the SmartCard-HSM uses it: tags of one to three bytes, definite lengths of up to
//! three length bytes (`82 xx xx` is the largest any command needs). Parsing never panics; a
//! malformed encoding is an `Err(Malformed)` that the command answers with `6A80`.

/// The bytes are not a well-formed TLV sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// One TLV: the tag as its big-endian bytes packed into a u32 (`0x5F29`, `0x7F49`, `0x81`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u32,
    pub value: &'a [u8],
}

/// Splits `data` into a sequence of TLVs. Trailing bytes that do not form a TLV are an error.
pub fn parse_all(mut data: &[u8]) -> Result<Vec<Tlv<'_>>, Malformed> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (tlv, rest) = parse_one(data)?;
        out.push(tlv);
        data = rest;
    }
    Ok(out)
}

/// Parses one TLV at the start of `data`, returning it and the rest.
pub fn parse_one(data: &[u8]) -> Result<(Tlv<'_>, &[u8]), Malformed> {
    let (tag, after_tag) = parse_tag(data)?;
    let (len, after_len) = parse_len(after_tag)?;
    if after_len.len() < len {
        return Err(Malformed);
    }
    let (value, rest) = after_len.split_at(len);
    Ok((Tlv { tag, value }, rest))
}

fn parse_tag(data: &[u8]) -> Result<(u32, &[u8]), Malformed> {
    let first = *data.first().ok_or(Malformed)?;
    let mut tag = u32::from(first);
    let mut i = 1;
    if first & 0x1F == 0x1F {
        // Multi-byte tag: continuation bytes have bit 8 set, the last one has it clear.
        loop {
            let b = *data.get(i).ok_or(Malformed)?;
            tag = (tag << 8) | u32::from(b);
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            if i >= 3 {
                return Err(Malformed);
            }
        }
    }
    Ok((tag, &data[i..]))
}

/// Parses a BER definite length (`xx`, `81 xx`, `82 xx xx`, `83 xx xx xx`).
pub fn parse_len(data: &[u8]) -> Result<(usize, &[u8]), Malformed> {
    let first = *data.first().ok_or(Malformed)?;
    if first < 0x80 {
        return Ok((usize::from(first), &data[1..]));
    }
    let n = usize::from(first & 0x7F);
    if n == 0 || n > 3 || data.len() < 1 + n {
        return Err(Malformed);
    }
    let len = data[1..=n]
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Ok((len, &data[1 + n..]))
}

/// The value of the first TLV with `tag` in a list.
pub fn find<'a>(tlvs: &[Tlv<'a>], tag: u32) -> Option<&'a [u8]> {
    tlvs.iter().find(|t| t.tag == tag).map(|t| t.value)
}

/// BER definite length bytes.
pub fn encode_len(len: usize) -> Vec<u8> {
    match len {
        0..=0x7F => vec![len as u8],
        0x80..=0xFF => vec![0x81, len as u8],
        0x100..=0xFFFF => vec![0x82, (len >> 8) as u8, len as u8],
        _ => vec![0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8],
    }
}

/// Encodes one TLV; `tag` is written with as many bytes as it needs (1 to 3).
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    if tag > 0xFFFF {
        out.push((tag >> 16) as u8);
    }
    if tag > 0xFF {
        out.push((tag >> 8) as u8);
    }
    out.push(tag as u8);
    out.extend(encode_len(value.len()));
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_multibyte_tags() {
        let big = vec![0xAB; 300];
        let mut data = encode(0x5F29, &[0]);
        data.extend(encode(0x7F49, &encode(0x06, &[1, 2])));
        data.extend(encode(0x53, &big));
        let tlvs = parse_all(&data).unwrap();
        assert_eq!(tlvs.len(), 3);
        assert_eq!(find(&tlvs, 0x5F29), Some(&[0u8][..]));
        assert_eq!(find(&tlvs, 0x53).unwrap().len(), 300);
        let inner = parse_all(find(&tlvs, 0x7F49).unwrap()).unwrap();
        assert_eq!(
            inner[0],
            Tlv {
                tag: 0x06,
                value: &[1, 2]
            }
        );
        assert_eq!(encode_len(0x80), vec![0x81, 0x80]);
    }

    #[test]
    fn malformed_is_an_error() {
        assert!(parse_all(&[0x53, 0x05, 1, 2]).is_err());
        assert!(parse_all(&[0x5F]).is_err());
        assert!(parse_all(&[0x53, 0x84, 0, 0, 0, 1]).is_err());
        assert!(parse_all(&[0x53, 0x80]).is_err());
        assert!(parse_all(&[0x1F, 0x81, 0x81, 0x01, 0x00]).is_err());
    }
}
