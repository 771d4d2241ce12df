//! Command and response APDUs (ISO 7816-4, short and extended length) and the status words the
//! simulated card answers with.

/// A parsed command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length; `Some(65536)` for an extended `00 00`, `Some(256)` for short `00`.
    pub le: Option<usize>,
    /// Whether the APDU used the extended-length encoding.
    pub extended: bool,
}

/// A response APDU before encoding: data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl Response {
    pub fn ok(data: Vec<u8>) -> Self {
        Response { data, sw: SW_OK }
    }
    pub fn sw(sw: u16) -> Self {
        Response {
            data: Vec::new(),
            sw,
        }
    }
    /// `data ‖ SW1 ‖ SW2`, as sent on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.to_be_bytes());
        out
    }
}

pub const SW_OK: u16 = 0x9000;
pub const SW_END_OF_FILE: u16 = 0x6282;
pub const SW_WRONG_LENGTH: u16 = 0x6700;
pub const SW_SECURITY_STATUS: u16 = 0x6982;
pub const SW_AUTH_BLOCKED: u16 = 0x6983;
/// VERIFY: transport PIN must be changed. SIGN/DECIPHER: key use counter exhausted.
pub const SW_REF_DATA_NOT_USABLE: u16 = 0x6984;
pub const SW_CONDITIONS: u16 = 0x6985;
pub const SW_NOT_ALLOWED: u16 = 0x6986;
pub const SW_WRONG_DATA: u16 = 0x6A80;
/// Algorithm not allowed for this key (sc-hsm-embedded's expectation).
pub const SW_FUNC_NOT_SUPPORTED: u16 = 0x6A81;
pub const SW_FILE_NOT_FOUND: u16 = 0x6A82;
pub const SW_NO_MEMORY: u16 = 0x6A84;
pub const SW_WRONG_P1P2: u16 = 0x6A86;
pub const SW_REF_NOT_FOUND: u16 = 0x6A88;
pub const SW_EXISTS: u16 = 0x6A89;
pub const SW_WRONG_OFFSET: u16 = 0x6B00;
pub const SW_INS_NOT_SUPPORTED: u16 = 0x6D00;
pub const SW_CLA_NOT_SUPPORTED: u16 = 0x6E00;
/// "No precise diagnosis": what firmware 3.1 answers for bug #168.
pub const SW_NO_DIAGNOSIS: u16 = 0x6F00;

/// `63Cx`: wrong PIN or PIN status, x tries left.
pub fn sw_tries_left(n: u8) -> u16 {
    0x63C0 | u16::from(n.min(15))
}

impl Command {
    /// Parses a command APDU in any of the ISO 7816-4 cases, short or extended.
    /// A malformed length encoding is answered with `6700` by the caller.
    pub fn parse(raw: &[u8]) -> Result<Command, u16> {
        if raw.len() < 4 {
            return Err(SW_WRONG_LENGTH);
        }
        let (cla, ins, p1, p2) = (raw[0], raw[1], raw[2], raw[3]);
        let body = &raw[4..];
        let mut cmd = Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
            extended: false,
        };
        match body.len() {
            0 => {}
            // Case 2 short: Le only; 00 means 256.
            1 => cmd.le = Some(short_le(body[0])),
            _ if body[0] != 0 => {
                // Case 3/4 short.
                let lc = usize::from(body[0]);
                match body.len() - 1 {
                    n if n == lc => cmd.data = body[1..].to_vec(),
                    n if n == lc + 1 => {
                        cmd.data = body[1..=lc].to_vec();
                        cmd.le = Some(short_le(body[lc + 1]));
                    }
                    _ => return Err(SW_WRONG_LENGTH),
                }
            }
            // Extended: a leading 00, then two bytes (Le alone, or Lc).
            3 => {
                cmd.extended = true;
                cmd.le = Some(extended_le(body[1], body[2]));
            }
            n if n >= 4 => {
                cmd.extended = true;
                let lc = usize::from(u16::from_be_bytes([body[1], body[2]]));
                let rest = &body[3..];
                if lc == 0 {
                    return Err(SW_WRONG_LENGTH);
                }
                match rest.len() {
                    r if r == lc => cmd.data = rest.to_vec(),
                    r if r == lc + 2 => {
                        cmd.data = rest[..lc].to_vec();
                        cmd.le = Some(extended_le(rest[lc], rest[lc + 1]));
                    }
                    _ => return Err(SW_WRONG_LENGTH),
                }
            }
            _ => return Err(SW_WRONG_LENGTH),
        }
        Ok(cmd)
    }
}

fn short_le(b: u8) -> usize {
    if b == 0 {
        256
    } else {
        usize::from(b)
    }
}

fn extended_le(hi: u8, lo: u8) -> usize {
    match u16::from_be_bytes([hi, lo]) {
        0 => 65536,
        n => usize::from(n),
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn all_cases() {
        let c = Command::parse(&[0, 0x20, 0, 0x81]).unwrap();
        assert_eq!((c.data.len(), c.le, c.extended), (0, None, false));
        let c = Command::parse(&[0, 0x84, 0, 0, 0]).unwrap();
        assert_eq!(c.le, Some(256));
        let c = Command::parse(&[0, 0x20, 0, 0x81, 2, 1, 2]).unwrap();
        assert_eq!((c.data, c.le), (vec![1, 2], None));
        let c = Command::parse(&[0, 0xA4, 4, 0, 2, 1, 2, 0]).unwrap();
        assert_eq!((c.data, c.le), (vec![1, 2], Some(256)));
        let c = Command::parse(&[0x80, 0x58, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!((c.le, c.extended), (Some(65536), true));
        let c = Command::parse(&[0x80, 0x68, 1, 0x70, 0, 0, 2, 9, 9, 0, 0]).unwrap();
        assert_eq!((c.data, c.le, c.extended), (vec![9, 9], Some(65536), true));
        let c = Command::parse(&[0x80, 0x74, 1, 0x93, 0, 0, 1, 7]).unwrap();
        assert_eq!((c.data, c.le), (vec![7], None));
    }

    #[test]
    fn malformed() {
        for raw in [
            &[0u8, 1, 2][..],
            &[0, 1, 2, 3, 5, 1],
            &[0, 1, 2, 3, 0, 0],
            &[0, 1, 2, 3, 0, 0, 0, 0],
            &[0, 1, 2, 3, 0, 0, 3, 1],
            &[0, 1, 2, 3, 1, 1, 1, 1],
        ] {
            assert_eq!(Command::parse(raw), Err(SW_WRONG_LENGTH), "{raw:02X?}");
        }
    }
}
