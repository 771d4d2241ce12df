//! The Device Key Encryption Key: shares, assembly, key check value and the derived keys
//! (PROTOCOL.md §8.1–8.2), and the IMPORT DKEK SHARE command (§4.6).
//!
//! DKEK = share₁ ⊕ … ⊕ shareₙ; KCV = SHA-256(DKEK)[0..8];
//! K_ENC = SHA-256(DKEK ‖ 00000001), K_MAC = SHA-256(DKEK ‖ 00000002).

use sha2::{Digest, Sha256};

use super::apdu::{Command, Le};
use super::device::Device;
use super::error::{Error, Result};
use super::secret::SecretArray;

/// Length of a DKEK share and of the DKEK.
pub const SHARE_LEN: usize = 32;

/// One DKEK share (32 bytes), as decrypted from a share file or made for one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DkekShare(SecretArray<SHARE_LEN>);

impl DkekShare {
    pub fn new(bytes: [u8; SHARE_LEN]) -> Self {
        DkekShare(SecretArray::new(bytes))
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        SecretArray::from_slice(bytes)
            .map(DkekShare)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("a DKEK share has 32 bytes, not {}", bytes.len()))
            })
    }

    pub fn expose(&self) -> &[u8; SHARE_LEN] {
        self.0.expose()
    }

    /// The KCV of a DKEK made of this share alone (what the card reports after importing it
    /// as the first share).
    pub fn kcv(&self) -> [u8; 8] {
        Dkek::from_shares(std::slice::from_ref(self)).kcv()
    }
}

/// The assembled DKEK.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Dkek(SecretArray<SHARE_LEN>);

impl Dkek {
    /// The all-zero start value (what the card holds before the first share).
    pub fn zero() -> Self {
        Dkek(SecretArray::new([0; SHARE_LEN]))
    }

    pub fn from_bytes(bytes: [u8; SHARE_LEN]) -> Self {
        Dkek(SecretArray::new(bytes))
    }

    /// XOR of all shares.
    pub fn from_shares(shares: &[DkekShare]) -> Self {
        let mut d = Dkek::zero();
        for s in shares {
            d.add_share(s);
        }
        d
    }

    /// XORs one more share in, as IMPORT DKEK SHARE does on the card.
    pub fn add_share(&mut self, share: &DkekShare) {
        let mut acc = *self.0.expose();
        for (a, b) in acc.iter_mut().zip(share.expose()) {
            *a ^= b;
        }
        *self = Dkek::from_bytes(acc);
        zeroize::Zeroize::zeroize(&mut acc);
    }

    pub fn expose(&self) -> &[u8; SHARE_LEN] {
        self.0.expose()
    }

    /// Key check value: the first 8 bytes of SHA-256(DKEK).
    pub fn kcv(&self) -> [u8; 8] {
        let h = Sha256::digest(self.expose());
        let mut k = [0u8; 8];
        k.copy_from_slice(&h[..8]);
        k
    }

    /// K_ENC, the AES-256 key that encrypts key blobs.
    pub fn enc_key(&self) -> SecretArray<32> {
        self.derive(1)
    }

    /// K_MAC, the AES-256 CMAC key of key blobs.
    pub fn mac_key(&self) -> SecretArray<32> {
        self.derive(2)
    }

    fn derive(&self, counter: u32) -> SecretArray<32> {
        let mut h = Sha256::new();
        h.update(self.expose());
        h.update(counter.to_be_bytes());
        let mut out: [u8; 32] = h.finalize().into();
        let key = SecretArray::new(out);
        zeroize::Zeroize::zeroize(&mut out);
        key
    }
}

/// The answer of IMPORT DKEK SHARE and of its query form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DkekStatus {
    /// Shares the device was initialized for (0 = random DKEK).
    pub total_shares: u8,
    /// Shares still to import; the DKEK is usable when 0.
    pub outstanding_shares: u8,
    /// KCV of the DKEK accumulated so far.
    pub kcv: [u8; 8],
}

impl DkekStatus {
    /// Parses `total outstanding KCV(8)` (further bytes, e.g. XKEK domain data, are ignored).
    pub fn parse(data: &[u8]) -> Result<Self> {
        if data.len() < 10 {
            return Err(Error::malformed(format!(
                "DKEK status of {} bytes",
                data.len()
            )));
        }
        let mut kcv = [0u8; 8];
        kcv.copy_from_slice(&data[2..10]);
        Ok(DkekStatus {
            total_shares: data[0],
            outstanding_shares: data[1],
            kcv,
        })
    }

    /// All shares imported: WRAP and UNWRAP can work.
    pub fn is_complete(&self) -> bool {
        self.outstanding_shares == 0
    }
}

/// What IMPORT DKEK SHARE's query form says about one key domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainDkek {
    /// The domain has a DKEK (complete or with shares outstanding).
    Dkek(DkekStatus),
    /// 6A88: the domain exists but has no DKEK (none configured, or a domain not set up).
    NoDkek,
    /// 6A86: the index is beyond the configured number of key domains (pico: 6B00 beyond its
    /// compile-time maximum). Domains are numbered from 0 without gaps, so nothing lies beyond.
    NoSuchDomain,
}

impl Device {
    /// Queries the DKEK state of key domain 0 (`80 52 00 00 00`). A device initialized without
    /// DKEK answers `ReferencedDataNotFound` (6A88), older firmware `InsNotSupported` (6D00).
    pub fn dkek_status(&mut self) -> Result<DkekStatus> {
        let cmd = Command::new(0x80, 0x52, 0x00, 0x00).le(Le::Max);
        DkekStatus::parse(&self.execute(&cmd)?)
    }

    /// Queries the DKEK state of key domain `domain` (`80 52 00 <domain> 00`, fw >= 3.0 for
    /// domains other than 0). Other errors (6D00 on firmware without DKEK, transport) are
    /// returned as they are.
    pub fn dkek_status_of(&mut self, domain: u8) -> Result<DomainDkek> {
        let cmd = Command::new(0x80, 0x52, 0x00, domain).le(Le::Max);
        match self.execute(&cmd) {
            Ok(data) => DkekStatus::parse(&data).map(DomainDkek::Dkek),
            Err(Error::ReferencedDataNotFound) => Ok(DomainDkek::NoDkek),
            Err(Error::IncorrectP1P2 | Error::WrongParameters) => Ok(DomainDkek::NoSuchDomain),
            Err(e) => Err(e),
        }
    }

    /// Imports one DKEK share into key domain 0 (`80 52 00 00 20 <share> 00`).
    pub fn import_dkek_share(&mut self, share: &DkekShare) -> Result<DkekStatus> {
        self.import_dkek_share_into(0, share)
    }

    /// Imports one DKEK share into key domain `domain` (`80 52 00 <domain> 20 <share> 00`).
    pub fn import_dkek_share_into(&mut self, domain: u8, share: &DkekShare) -> Result<DkekStatus> {
        let mut cmd = Command::new(0x80, 0x52, 0x00, domain)
            .data(share.expose().to_vec())
            .le(Le::Max)
            .sensitive();
        let r = self.execute(&cmd);
        zeroize::Zeroize::zeroize(&mut cmd.data);
        DkekStatus::parse(&r?)
    }

    /// Creates a DKEK-type key domain `domain` expecting `shares` shares (`80 52 01 <domain>
    /// 01 <shares>`, fw >= 3.0, user PIN; 0 = the card makes a random DKEK) [PICO semantics].
    pub fn create_key_domain(&mut self, domain: u8, shares: u8) -> Result<DkekStatus> {
        let cmd = Command::new(0x80, 0x52, 0x01, domain)
            .data(vec![shares])
            .le(Le::Max);
        DkekStatus::parse(&self.execute(&cmd)?)
    }

    /// Deletes key domain `domain` (`80 52 03 <domain> 00`, fw >= 3.0, user PIN). The card
    /// refuses with `AlreadyExists` (6A89) while keys live in the domain; pico answers the
    /// status of the domain that no longer exists with 6A88, which is success here [PICO].
    pub fn delete_key_domain(&mut self, domain: u8) -> Result<()> {
        let cmd = Command::new(0x80, 0x52, 0x03, domain).le(Le::Max);
        match self.execute(&cmd) {
            Ok(_) | Err(Error::ReferencedDataNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::device::tests::mock_device;
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        crate::transport::mock::from_hex(s)
    }

    fn arr(s: &str) -> [u8; 32] {
        h(s).try_into().unwrap()
    }

    #[test]
    fn vectors_of_8_1() {
        let zero = Dkek::zero();
        assert_eq!(zero.kcv().to_vec(), h("66687AADF862BD77"));
        assert_eq!(
            zero.enc_key().expose().to_vec(),
            h("2158A8906D5E2C2BE001BAC943AB9CAB4063536E1C546B40221FDF8DB031A4BB")
        );
        assert_eq!(
            zero.mac_key().expose().to_vec(),
            h("E15F374423633701E04FE17C1D640B34F2E27B8F6AEC00E24F1DCF50AD0920B3")
        );

        let s1 = DkekShare::new(core::array::from_fn(|i| i as u8));
        let s2 = DkekShare::new([0xFF; 32]);
        assert_eq!(s1.kcv().to_vec(), h("630DCD2966C43366"));
        let d = Dkek::from_shares(&[s1, s2]);
        assert_eq!(d.expose()[..4], [0xFF, 0xFE, 0xFD, 0xFC]);
        assert_eq!(d.expose()[31], 0xE0);
        assert_eq!(d.kcv().to_vec(), h("1865C00831E73F7E"));

        let real = Dkek::from_bytes(arr(
            "2848CB6E994F5A00C365C3C255ED130512CE1EB06BF08D348EEB8B2F866E3E50",
        ));
        assert_eq!(real.kcv().to_vec(), h("97E303855DC1C54D"));
        assert_eq!(
            real.enc_key().expose().to_vec(),
            h("44F880EAF1498698BBE8121243143CDBF363079949BC1C7438D8B376E2A8AF63")
        );
        assert_eq!(
            real.mac_key().expose().to_vec(),
            h("00FB47A5D4272BAA794AF546BB3E0B84A259D3AF61F651C4CC4D6F9637F44244")
        );
    }

    #[test]
    fn import_and_query_commands() {
        let (mut d, m) = mock_device(3, 5);
        let share = DkekShare::new([0x11; 32]);
        let mut apdu = vec![0x80, 0x52, 0, 0, 0x20];
        apdu.extend_from_slice(&[0x11; 32]);
        apdu.push(0);
        m.expect(&apdu, &h("0201 630DCD2966C43366 9000"));
        let st = d.import_dkek_share(&share).unwrap();
        assert_eq!(
            (st.total_shares, st.outstanding_shares, st.is_complete()),
            (2, 1, false)
        );
        m.expect_hex("8052000000", "0200 1865C00831E73F7E 9000");
        assert!(d.dkek_status().unwrap().is_complete());
        m.expect_hex("8052000000", "6A88");
        assert_eq!(d.dkek_status(), Err(Error::ReferencedDataNotFound));
        m.expect_hex("8052000000", "0200 9000");
        assert!(matches!(d.dkek_status(), Err(Error::Malformed(_))));
        m.assert_done();
        assert!(!format!("{share:?}").contains("11"));
    }

    #[test]
    fn key_domain_queries() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("8052000100", "0100 1865C00831E73F7E 9000");
        assert!(matches!(d.dkek_status_of(1), Ok(DomainDkek::Dkek(s)) if s.is_complete()));
        m.expect_hex("8052000200", "6A88");
        assert_eq!(d.dkek_status_of(2), Ok(DomainDkek::NoDkek));
        m.expect_hex("8052000300", "6A86");
        assert_eq!(d.dkek_status_of(3), Ok(DomainDkek::NoSuchDomain));
        m.expect_hex("8052000400", "6B00");
        assert_eq!(d.dkek_status_of(4), Ok(DomainDkek::NoSuchDomain));
        m.expect_hex("8052000100", "6D00");
        assert_eq!(d.dkek_status_of(1), Err(Error::InsNotSupported));
        m.expect_hex("80520101010100", "0101 66687AADF862BD77 9000");
        assert_eq!(d.create_key_domain(1, 1).unwrap().outstanding_shares, 1);
        let mut apdu = vec![0x80, 0x52, 0, 1, 0x20];
        apdu.extend_from_slice(&[0x22; 32]);
        apdu.push(0);
        m.expect(&apdu, &h("0100 630DCD2966C43366 9000"));
        let share = DkekShare::new([0x22; 32]);
        assert!(d.import_dkek_share_into(1, &share).unwrap().is_complete());
        m.expect_hex("8052030100", "6A89");
        assert_eq!(d.delete_key_domain(1), Err(Error::AlreadyExists));
        m.expect_hex("8052030100", "9000");
        assert_eq!(d.delete_key_domain(1), Ok(()));
        m.assert_done();
    }
}
