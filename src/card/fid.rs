//! File identifiers: the applet's flat 2-byte namespace, high byte = type prefix, low byte =
//! object number / key id (PROTOCOL.md §5.1).

use std::fmt;

/// Type prefixes (high byte of a FID).
pub mod prefix {
    /// Key object (private RSA/EC or AES key); never readable.
    pub const KEY: u8 = 0xCC;
    /// PKCS#15 private/secret key description of key xx.
    pub const PRKD: u8 = 0xC4;
    /// PKCS#15 certificate description for CA certificate CAxx.
    pub const CD: u8 = 0xC8;
    /// PKCS#15 data object description for CDxx / CFxx.
    pub const DCOD: u8 = 0xC9;
    /// CA certificate.
    pub const CA_CERTIFICATE: u8 = 0xCA;
    /// Key meta data (Smart Card Shell).
    pub const KEY_META: u8 = 0xCB;
    /// PIN-protected data object.
    pub const PRIVATE_DATA: u8 = 0xCD;
    /// End-entity certificate or CV request of key xx.
    pub const EE_CERTIFICATE: u8 = 0xCE;
    /// Public data object.
    pub const PUBLIC_DATA: u8 = 0xCF;
}

/// A file identifier.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fid(pub u16);

impl Fid {
    /// EF.C_DevAut: device certificate ‖ DICA certificate.
    pub const DEVICE_CERTIFICATE: Fid = Fid(0x2F02);
    /// EF.TokenInfo (label).
    pub const TOKEN_INFO: Fid = Fid(0x2F03);
    /// Staging file for UNWRAP KEY blobs too large for one APDU.
    pub const UNWRAP_STAGING: Fid = Fid(0x2F10);
    /// The device authentication key.
    pub const DEVICE_KEY: Fid = Fid(0xCC00);

    pub const fn new(prefix: u8, id: u8) -> Fid {
        Fid(((prefix as u16) << 8) | id as u16)
    }
    pub const fn key(id: u8) -> Fid {
        Fid::new(prefix::KEY, id)
    }
    pub const fn prkd(id: u8) -> Fid {
        Fid::new(prefix::PRKD, id)
    }
    pub const fn ee_certificate(id: u8) -> Fid {
        Fid::new(prefix::EE_CERTIFICATE, id)
    }
    pub const fn prefix(self) -> u8 {
        (self.0 >> 8) as u8
    }
    /// The low byte: key id for CCxx/C4xx/CExx, object number otherwise.
    pub const fn id(self) -> u8 {
        self.0 as u8
    }
    pub const fn bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }
    /// Whether this is a key object (CCxx).
    pub const fn is_key(self) -> bool {
        self.prefix() == prefix::KEY
    }
}

impl fmt::Debug for Fid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fid({:04X})", self.0)
    }
}

impl fmt::Display for Fid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        let f = Fid::prkd(3);
        assert_eq!(
            (f.0, f.prefix(), f.id(), f.bytes()),
            (0xC403, 0xC4, 3, [0xC4, 3])
        );
        assert!(Fid::key(1).is_key() && !Fid::TOKEN_INFO.is_key());
        assert_eq!(Fid::ee_certificate(0x10).to_string(), "CE10");
    }
}
