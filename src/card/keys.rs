//! Key management commands: GENERATE ASYMMETRIC KEY PAIR, GENERATE SYMMETRIC KEY, WRAP KEY,
//! UNWRAP KEY, deleting a key (PROTOCOL.md §4.7, 4.8, 4.18, 4.19).

use super::apdu::{Command, Le};
use super::curves::Curve;
use super::cvc::{ta_oid, CvRequest};
use super::device::Device;
use super::error::{Error, Result};
use super::fid::Fid;
use super::tlv;

/// CAR OpenSC puts into key generation requests.
pub const OPENSC_CAR: &str = "UTCA00001";
/// CAR sc-hsm-embedded inserts on firmware < 2.0, which requires one.
pub const DUMMY_CAR: &str = "UTDUMMY00000";

/// Which key pair to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySpec {
    /// RSA with a modulus of `bits` and this public exponent (hosts use 01 00 01).
    Rsa { bits: u16, public_exponent: Vec<u8> },
    /// EC on a named curve, sent as explicit parameters.
    Ec(&'static Curve),
}

/// Everything GENERATE ASYMMETRIC KEY PAIR takes besides the key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGenParams {
    pub spec: KeySpec,
    /// CAR (tag 42) of the request; OpenSC sends "UTCA00001". Forced on firmware < 2.0.
    pub car: Option<String>,
    /// CHR (tag 5F20); OpenSC uses the serial number followed by "00001".
    pub chr: String,
    /// Allowed algorithms (tag 91); `None` = unrestricted. See the #168 shim in firmware.rs.
    pub algorithms: Option<Vec<u8>>,
    /// Key use counter (tag 90).
    pub use_counter: Option<u32>,
    /// Key domain (tag 92).
    pub key_domain: Option<u8>,
    /// Key that signs the outer request (P2); 0 = the device key.
    pub signing_key: u8,
}

impl KeyGenParams {
    /// OpenSC's choices: CAR "UTCA00001", CHR = serial ‖ "00001", no restrictions.
    pub fn new(spec: KeySpec, serial: &str) -> Self {
        KeyGenParams {
            spec,
            car: Some(OPENSC_CAR.to_string()),
            chr: format!("{serial}00001"),
            algorithms: None,
            use_counter: None,
            key_domain: None,
            signing_key: 0,
        }
    }

    /// The command data: the content of a CV body (§4.7).
    pub fn encode(&self, requires_car: bool) -> Result<Vec<u8>> {
        let mut pk = Vec::new();
        match &self.spec {
            KeySpec::Rsa {
                bits,
                public_exponent,
            } => {
                tlv::write(&mut pk, 0x06, ta_oid::RSA_V15_SHA256);
                tlv::write(&mut pk, 0x82, public_exponent);
                tlv::write(&mut pk, 0x02, &bits.to_be_bytes());
            }
            KeySpec::Ec(curve) => {
                tlv::write(&mut pk, 0x06, ta_oid::ECDSA_SHA256);
                curve.write_domain_parameters(&mut pk);
            }
        }
        let mut d = Vec::with_capacity(pk.len() + 64);
        tlv::write(&mut d, 0x5F29, &[0]);
        let car = match (&self.car, requires_car) {
            (Some(c), _) => Some(c.as_str()),
            (None, true) => Some(DUMMY_CAR),
            (None, false) => None,
        };
        if let Some(car) = car {
            tlv::write(&mut d, 0x42, car.as_bytes());
        }
        tlv::write(&mut d, 0x7F49, &pk);
        tlv::write(&mut d, 0x5F20, self.chr.as_bytes());
        if let Some(n) = self.use_counter {
            tlv::write(&mut d, 0x90, &n.to_be_bytes());
        }
        if let Some(list) = &self.algorithms {
            if list.len() > 16 {
                return Err(Error::InvalidArgument(
                    "more than 16 allowed algorithms".into(),
                ));
            }
            tlv::write(&mut d, 0x91, list);
        }
        if let Some(dom) = self.key_domain {
            tlv::write(&mut d, 0x92, &[dom]);
        }
        Ok(d)
    }
}

/// A generated key pair: the card's authenticated request (also stored by the card in CExx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    pub id: u8,
    pub request: CvRequest,
}

/// AES key sizes for GENERATE SYMMETRIC KEY (P2 B0/B1/B2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AesKeySize {
    Aes128,
    Aes192,
    Aes256,
}

impl AesKeySize {
    pub fn from_bytes(n: usize) -> Option<Self> {
        match n {
            16 => Some(AesKeySize::Aes128),
            24 => Some(AesKeySize::Aes192),
            32 => Some(AesKeySize::Aes256),
            _ => None,
        }
    }

    /// The key length in bits.
    pub fn bits(self) -> u16 {
        match self {
            AesKeySize::Aes128 => 128,
            AesKeySize::Aes192 => 192,
            AesKeySize::Aes256 => 256,
        }
    }

    fn p2(self) -> u8 {
        match self {
            AesKeySize::Aes128 => 0xB0,
            AesKeySize::Aes192 => 0xB1,
            AesKeySize::Aes256 => 0xB2,
        }
    }
}

/// Options of GENERATE SYMMETRIC KEY.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SymKeyParams {
    /// Allowed algorithms (tag 91); sc-hsm-embedded's default is 10 11 18 99.
    pub algorithms: Option<Vec<u8>>,
    pub use_counter: Option<u32>,
    pub key_domain: Option<u8>,
}

fn check_key_id(id: u8) -> Result<()> {
    if id == 0 {
        return Err(Error::InvalidArgument("key id 0 is the device key".into()));
    }
    Ok(())
}

impl Device {
    /// GENERATE ASYMMETRIC KEY PAIR into key id `id` (`00 46 <id> <P2>`, extended).
    pub fn generate_key_pair(&mut self, id: u8, params: &KeyGenParams) -> Result<GeneratedKey> {
        check_key_id(id)?;
        let profile = self.profile();
        match &params.spec {
            KeySpec::Rsa { bits, .. } if !profile.supports_rsa_bits(*bits) => {
                return Err(Error::Unsupported(format!(
                    "RSA-{bits} on firmware {}",
                    profile.version
                )))
            }
            KeySpec::Ec(c) if !profile.supports_ec_bits(c.field_bits) => {
                return Err(Error::Unsupported(format!(
                    "{} on firmware {}",
                    c.name, profile.version
                )))
            }
            _ => {}
        }
        let data = params.encode(profile.key_generation_requires_car)?;
        let cmd = Command::new(0x00, 0x46, id, params.signing_key)
            .data(data)
            .le(Le::Max)
            .extended();
        let response = self.execute(&cmd)?;
        Ok(GeneratedKey {
            id,
            request: CvRequest::parse(&response)?,
        })
    }

    /// GENERATE SYMMETRIC KEY (`00 48 <id> <B0|B1|B2>`), fw ≥ 3.0.
    pub fn generate_aes_key(
        &mut self,
        id: u8,
        size: AesKeySize,
        params: &SymKeyParams,
    ) -> Result<()> {
        check_key_id(id)?;
        if !self.profile().aes {
            return Err(Error::Unsupported(format!(
                "AES keys on firmware {}",
                self.profile().version
            )));
        }
        if self.profile().weak_aes_generation {
            log::warn!(
                "{}: firmware {} generates weak AES keys (advisory, fixed in 3.3)",
                self.name(),
                self.profile().version
            );
        }
        let mut d = Vec::new();
        if let Some(list) = &params.algorithms {
            tlv::write(&mut d, 0x91, list);
        }
        if let Some(n) = params.use_counter {
            tlv::write(&mut d, 0x90, &n.to_be_bytes());
        }
        if let Some(dom) = params.key_domain {
            tlv::write(&mut d, 0x92, &[dom]);
        }
        let cmd = Command::new(0x00, 0x48, id, size.p2()).data(d);
        self.execute(&cmd).map(|_| ())
    }

    /// WRAP KEY (`80 72 <id> 92`, extended Le): the key blob under the DKEK (§8.3).
    pub fn wrap_key(&mut self, id: u8) -> Result<Vec<u8>> {
        check_key_id(id)?;
        let cmd = Command::new(0x80, 0x72, id, 0x92).le(Le::Max).extended();
        self.execute(&cmd)
    }

    /// UNWRAP KEY into the free key id `id`. The blob goes inline when the APDU fits the
    /// device (and reader); otherwise it is staged in EF 2F10 and UNWRAP is sent without data,
    /// as OpenSC ≥ 0.24 does. Runs in one transaction so no other process touches 2F10.
    pub fn unwrap_key(&mut self, id: u8, blob: &[u8]) -> Result<()> {
        check_key_id(id)?;
        let inline = Command::new(0x80, 0x74, id, 0x93)
            .data(blob.to_vec())
            .extended();
        if inline.encoded_len() <= self.max_apdu_len() {
            return self.execute(&inline).map(|_| ());
        }
        log::debug!(
            "{}: UNWRAP of {} bytes goes through EF 2F10 (max APDU {})",
            self.name(),
            blob.len(),
            self.max_apdu_len()
        );
        self.transaction(|d| {
            d.write_file(Fid::UNWRAP_STAGING, blob)?;
            let r = d.execute(&Command::new(0x80, 0x74, id, 0x93)).map(|_| ());
            // The staged blob is encrypted, but there is no reason to leave it behind.
            if let Err(e) = d.delete_file_if_exists(Fid::UNWRAP_STAGING) {
                log::debug!("{}: could not delete EF 2F10: {e}", d.name());
            }
            r
        })
    }

    /// Deletes key `id` (its CCxx object; descriptions and certificates are separate files).
    pub fn delete_key(&mut self, id: u8) -> Result<()> {
        check_key_id(id)?;
        self.delete_file(Fid::key(id))
    }

    /// The key ids in use (CCxx, except the device key CC00), from ENUMERATE OBJECTS.
    pub fn key_ids(&mut self) -> Result<Vec<u8>> {
        Ok(self
            .enumerate()?
            .into_iter()
            .filter(|f| f.is_key() && f.id() != 0)
            .map(|f| f.id())
            .collect())
    }

    /// The lowest key id not in use (OpenSC's and sc-hsm-embedded's choice).
    pub fn free_key_id(&mut self) -> Result<u8> {
        let used = self.key_ids()?;
        (1..=255u8)
            .find(|i| !used.contains(i))
            .ok_or(Error::NotEnoughMemory)
    }
}

#[cfg(test)]
mod tests {
    use super::super::device::tests::mock_device;
    use super::*;

    #[test]
    fn ec_request_body_matches_a2() {
        let p = KeyGenParams::new(
            KeySpec::Ec(Curve::by_name("secp256r1").unwrap()),
            "DENK0105702",
        );
        let d = p.encode(false).unwrap();
        // 5F29 01 00, 42 09 "UTCA00001", 7F49 81 DA ..., 5F20 10 "DENK010570200001"
        assert_eq!(&d[..4], &[0x5F, 0x29, 1, 0]);
        assert_eq!(&d[4..6], &[0x42, 9]);
        assert_eq!(&d[15..19], &[0x7F, 0x49, 0x81, 0xDA]);
        let chr = tlv::find(&d, 0x5F20).unwrap().unwrap();
        assert_eq!(chr.value, b"DENK010570200001");
        assert!(tlv::find(&d, 0x91).unwrap().is_none());
    }

    #[test]
    fn rsa_request_body_and_options() {
        let mut p = KeyGenParams::new(
            KeySpec::Rsa {
                bits: 2048,
                public_exponent: vec![1, 0, 1],
            },
            "X",
        );
        p.car = None;
        p.algorithms = Some(vec![0x20, 0x21, 0x92]);
        p.use_counter = Some(1000);
        p.key_domain = Some(1);
        let d = p.encode(false).unwrap();
        let pk = tlv::find(&d, 0x7F49).unwrap().unwrap();
        assert_eq!(pk.find(0x02).unwrap().unwrap().value, &[8, 0]);
        assert_eq!(pk.find(0x82).unwrap().unwrap().value, &[1, 0, 1]);
        assert!(tlv::find(&d, 0x42).unwrap().is_none());
        assert_eq!(
            tlv::find(&d, 0x90).unwrap().unwrap().value,
            &[0, 0, 3, 0xE8]
        );
        assert_eq!(
            tlv::find(&d, 0x91).unwrap().unwrap().value,
            &[0x20, 0x21, 0x92]
        );
        assert_eq!(tlv::find(&d, 0x92).unwrap().unwrap().value, &[1]);
        // Firmware < 2.0 needs a CAR.
        let old = p.encode(true).unwrap();
        assert_eq!(
            tlv::find(&old, 0x42).unwrap().unwrap().value,
            DUMMY_CAR.as_bytes()
        );
    }

    #[test]
    fn profile_limits_are_checked_before_sending() {
        let (mut d, m) = mock_device(2, 6);
        let p = KeyGenParams::new(
            KeySpec::Rsa {
                bits: 4096,
                public_exponent: vec![1, 0, 1],
            },
            "X",
        );
        assert!(matches!(
            d.generate_key_pair(1, &p),
            Err(Error::Unsupported(_))
        ));
        let p = KeyGenParams::new(KeySpec::Ec(Curve::by_name("secp384r1").unwrap()), "X");
        assert!(matches!(
            d.generate_key_pair(1, &p),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            d.generate_key_pair(0, &p),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            d.generate_aes_key(1, AesKeySize::Aes128, &SymKeyParams::default()),
            Err(Error::Unsupported(_))
        ));
        m.assert_done();
    }

    #[test]
    fn wrap_and_inline_unwrap() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("8072019200 0000", "0102 9000");
        assert_eq!(d.wrap_key(1).unwrap(), [1, 2]);
        m.expect_hex("80740293 000003 010203", "9000");
        d.unwrap_key(2, &[1, 2, 3]).unwrap();
        m.expect_hex("80740293 000003 010203", "6F00");
        assert_eq!(d.unwrap_key(2, &[1, 2, 3]), Err(Error::InternalError));
        m.assert_done();
    }

    #[test]
    fn large_unwrap_is_staged_in_2f10() {
        let (mut d, m) = mock_device(3, 5);
        let blob = vec![0x5A; 1300];
        m.expect_hex("00E40200022F10", "6A82");
        m.expect_prefix(
            &[0, 0xD7, 0x2F, 0x10, 0, 0x04, 0xC9, 0x54, 2, 0, 0],
            &[0x90, 0],
        );
        m.expect_prefix(
            &[0, 0xD7, 0x2F, 0x10, 0x59, 0x54, 2, 0x04, 0xC1],
            &[0x90, 0],
        );
        m.expect_hex("80740393", "9000");
        m.expect_hex("00E40200022F10", "9000");
        d.unwrap_key(3, &blob).unwrap();
        m.assert_done();
    }

    #[test]
    fn free_key_id_skips_used_ids() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("80580000000000", "2F02 CC00 CC01 C401 CC03 9000");
        assert_eq!(d.free_key_id().unwrap(), 2);
        m.assert_done();
    }
}
