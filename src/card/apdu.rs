//! Command and response APDUs (ISO 7816-4), short and extended length.
//!
//! The SmartCard-HSM needs extended length for ENUMERATE OBJECTS, GENERATE ASYMMETRIC KEY PAIR,
//! WRAP KEY, UNWRAP KEY, large files and RSA ≥ 2048 (PROTOCOL.md §1.3); a command uses the
//! extended form when asked to, or when its data or Le do not fit the short form.

use std::fmt::Write as _;

use super::error::{Error, Result};

/// How many response bytes a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Le {
    /// No Le field (ISO cases 1 and 3).
    None,
    /// Le = 00 (short: 256) or 00 00 (extended: 65536): "everything you have".
    Max,
    /// A specific count, 1..=65536.
    Exactly(usize),
}

/// A command APDU.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    pub le: Le,
    /// Use extended length fields even if everything fits the short form.
    pub extended: bool,
    /// Mask the data (and the response) in logs: PINs, DKEK shares, random bytes that become keys.
    pub sensitive: bool,
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: Le::None,
            extended: false,
            sensitive: false,
        }
    }

    pub fn data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    pub fn le(mut self, le: Le) -> Self {
        self.le = le;
        self
    }

    /// Forces extended length fields (with `Le::Max` that is the `00 00` Le of §1.3).
    pub fn extended(mut self) -> Self {
        self.extended = true;
        self
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Whether the encoding will use extended length fields.
    pub fn is_extended(&self) -> bool {
        self.extended || self.data.len() > 255 || matches!(self.le, Le::Exactly(n) if n > 256)
    }

    /// Size of the encoded APDU in bytes.
    pub fn encoded_len(&self) -> usize {
        let ext = self.is_extended();
        let lc = match (self.data.is_empty(), ext) {
            (true, _) => 0,
            (false, false) => 1,
            (false, true) => 3,
        };
        let le = match (self.le, ext, self.data.is_empty()) {
            (Le::None, _, _) => 0,
            (_, false, _) => 1,
            (_, true, true) => 3,
            (_, true, false) => 2,
        };
        4 + lc + self.data.len() + le
    }

    /// The bytes to send.
    pub fn encode(&self) -> Result<Vec<u8>> {
        if self.data.len() > 0xFFFF {
            return Err(Error::InvalidArgument(format!(
                "command data of {} bytes exceeds 65535",
                self.data.len()
            )));
        }
        let le_value = match self.le {
            Le::None => None,
            Le::Max => Some(0usize),
            Le::Exactly(n @ 1..=65536) => Some(n),
            Le::Exactly(n) => {
                return Err(Error::InvalidArgument(format!("Le {n} out of range")));
            }
        };
        let ext = self.is_extended();
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            if ext {
                out.push(0);
                out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
            } else {
                out.push(self.data.len() as u8);
            }
            out.extend_from_slice(&self.data);
        }
        if let Some(n) = le_value {
            if ext {
                if self.data.is_empty() {
                    out.push(0);
                }
                // 65536 is encoded as 00 00, like "max".
                out.extend_from_slice(&((n & 0xFFFF) as u16).to_be_bytes());
            } else {
                out.push((n & 0xFF) as u8); // 256 → 00
            }
        }
        Ok(out)
    }

    /// A one-line rendering for trace logs: header in hex, data masked when sensitive.
    pub fn log_line(&self) -> String {
        let mut s = format!(
            "{:02X} {:02X} {:02X} {:02X}",
            self.cla, self.ins, self.p1, self.p2
        );
        if !self.data.is_empty() {
            if self.sensitive {
                let _ = write!(s, " [{} bytes masked]", self.data.len());
            } else {
                let _ = write!(s, " [{}] {}", self.data.len(), hex(&self.data));
            }
        }
        match self.le {
            Le::None => {}
            Le::Max => s.push_str(" Le=max"),
            Le::Exactly(n) => {
                let _ = write!(s, " Le={n}");
            }
        }
        if self.is_extended() {
            s.push_str(" (ext)");
        }
        s
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Command({})", self.log_line())
    }
}

/// A response APDU: data and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl Response {
    /// Splits raw response bytes (data ‖ SW1 SW2).
    pub fn parse(raw: Vec<u8>) -> Result<Response> {
        let mut data = raw;
        if data.len() < 2 {
            return Err(Error::malformed(format!(
                "response of {} bytes has no status word",
                data.len()
            )));
        }
        let sw2 = data.pop().unwrap_or(0);
        let sw1 = data.pop().unwrap_or(0);
        Ok(Response {
            data,
            sw: u16::from_be_bytes([sw1, sw2]),
        })
    }

    /// The data when the SW is 9000, else the SW as an error.
    pub fn into_result(self) -> Result<Vec<u8>> {
        match Error::from_sw(self.sw) {
            None => Ok(self.data),
            Some(e) => Err(e),
        }
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({} bytes, SW {:04X})", self.data.len(), self.sw)
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02X}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(c: Command) -> Vec<u8> {
        let e = c.encode().unwrap();
        assert_eq!(e.len(), c.encoded_len());
        e
    }

    #[test]
    fn short_cases_1_to_4() {
        // Case 1: VERIFY status.
        assert_eq!(
            enc(Command::new(0, 0x20, 0, 0x81)),
            [0x00, 0x20, 0x00, 0x81]
        );
        // Case 2: GET CHALLENGE 8 / DKEK query with Le 00.
        assert_eq!(
            enc(Command::new(0, 0x84, 0, 0).le(Le::Exactly(8))),
            [0, 0x84, 0, 0, 8]
        );
        assert_eq!(
            enc(Command::new(0x80, 0x52, 0, 0).le(Le::Max)),
            [0x80, 0x52, 0, 0, 0]
        );
        assert_eq!(
            enc(Command::new(0, 0x84, 0, 0).le(Le::Exactly(256))),
            [0, 0x84, 0, 0, 0]
        );
        // Case 3: VERIFY PIN.
        assert_eq!(
            enc(Command::new(0, 0x20, 0, 0x81).data(b"648219".to_vec())),
            [0, 0x20, 0, 0x81, 6, b'6', b'4', b'8', b'2', b'1', b'9']
        );
        // Case 4: SELECT applet with Le 00.
        let aid = [
            0xE8, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x81, 0xC3, 0x1F, 0x02, 0x01,
        ];
        let sel = enc(Command::new(0, 0xA4, 4, 4).data(aid.to_vec()).le(Le::Max));
        assert_eq!(sel.len(), 5 + 11 + 1);
        assert_eq!((sel[4], sel[16]), (11, 0));
    }

    #[test]
    fn extended_cases() {
        // Case 2 extended: ENUMERATE 80 58 00 00 00 00 00.
        assert_eq!(
            enc(Command::new(0x80, 0x58, 0, 0).le(Le::Max).extended()),
            [0x80, 0x58, 0, 0, 0, 0, 0]
        );
        // Case 3 extended: forced.
        assert_eq!(
            enc(Command::new(0x80, 0x74, 1, 0x93)
                .data(vec![9; 3])
                .extended()),
            [0x80, 0x74, 1, 0x93, 0, 0, 3, 9, 9, 9]
        );
        // Case 4 extended: SIGN with ext Lc and Le 00 00.
        let s = enc(Command::new(0x80, 0x68, 1, 0x70)
            .data(vec![0xAB; 32])
            .le(Le::Max)
            .extended());
        assert_eq!(&s[..7], &[0x80, 0x68, 1, 0x70, 0, 0, 32]);
        assert_eq!(&s[s.len() - 2..], &[0, 0]);
        assert_eq!(s.len(), 4 + 3 + 32 + 2);
        // Automatic: data > 255 switches to extended.
        let big = enc(Command::new(0, 0xD7, 0x2F, 0x10).data(vec![1; 300]));
        assert_eq!(&big[4..7], &[0, 0x01, 0x2C]);
        // Automatic: Le > 256.
        let rd = enc(Command::new(0, 0xB1, 0x2F, 0x02)
            .data(vec![0x54, 2, 0, 0])
            .le(Le::Exactly(1000)));
        assert_eq!(&rd[4..7], &[0, 0, 4]);
        assert_eq!(&rd[rd.len() - 2..], &[0x03, 0xE8]);
        // Le 65536 → 00 00
        let m = enc(Command::new(0, 0xB0, 0, 0).le(Le::Exactly(65536)));
        assert_eq!(m, [0, 0xB0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn limits() {
        assert!(Command::new(0, 0, 0, 0)
            .data(vec![0; 65536])
            .encode()
            .is_err());
        assert!(Command::new(0, 0, 0, 0)
            .le(Le::Exactly(0))
            .encode()
            .is_err());
        assert!(Command::new(0, 0, 0, 0)
            .le(Le::Exactly(65537))
            .encode()
            .is_err());
    }

    #[test]
    fn responses() {
        let r = Response::parse(vec![1, 2, 0x90, 0]).unwrap();
        assert_eq!((r.data.as_slice(), r.sw), (&[1u8, 2][..], 0x9000));
        assert_eq!(r.into_result().unwrap(), vec![1, 2]);
        let e = Response::parse(vec![0x6A, 0x82]).unwrap().into_result();
        assert_eq!(e, Err(Error::NotFound));
        assert!(Response::parse(vec![0x90]).is_err());
    }

    #[test]
    fn sensitive_data_is_masked_in_logs() {
        let c = Command::new(0, 0x20, 0, 0x81)
            .data(b"123456".to_vec())
            .sensitive();
        let l = format!("{c:?}");
        assert!(l.contains("masked") && !l.contains("313233"), "{l}");
        let p = Command::new(0, 0xA4, 0, 0).data(vec![0x2F, 0x02]);
        assert!(p.log_line().contains("2F02"));
    }
}
