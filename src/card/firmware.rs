//! The firmware profile: what the applet version (tag 85 of the SELECT response) implies about
//! the device — platform limits and known bugs — in one table, so that no command has to test
//! version numbers itself (PROTOCOL.md §2.3, §2.5, §9).
//!
//! Also the two decisions of the bug #168 shim (DESIGN.md), as pure functions; the caller logs
//! each decision at info.

use std::fmt;

use super::error::{Error, Result};
use super::tlv;

/// Applet version `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirmwareVersion {
    pub major: u8,
    pub minor: u8,
}

impl FirmwareVersion {
    pub const fn new(major: u8, minor: u8) -> Self {
        FirmwareVersion { major, minor }
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The JavaCard platform the applet runs on, inferred from the major version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// NXP JCOP 2.4.1: SmartCard-HSM, Nitrokey HSM 1 (firmware 0.x – 2.x).
    Jcop2,
    /// NXP JCOP 3: SmartCard-HSM 4K, Nitrokey HSM 2 (firmware 3.x).
    Jcop3,
    /// NXP JCOP 4 (firmware 4.x and later).
    Jcop4,
}

/// Device-option bits of INITIALIZE DEVICE tag 80, as reported in tag 85 (§4.5).
pub mod options {
    pub const RESET_RETRY_COUNTER_ENABLED: u16 = 0x0001;
    pub const TRANSPORT_PIN: u16 = 0x0002;
    pub const SESSION_PIN: u16 = 0x0004;
    pub const SESSION_PIN_EXPLICIT_CLEAR: u16 = 0x000C;
}

/// What a firmware version implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareProfile {
    pub version: FirmwareVersion,
    /// False when the SELECT response had no tag 85 and the version was assumed (3.0, as
    /// sc-hsm-embedded does).
    pub version_reported: bool,
    /// Applet type byte of the 5-byte tag 85: 00 production, 01 demo applet, FF pico-hsm.
    pub applet_type: Option<u8>,
    /// Device options (tag 80 of INITIALIZE), from the 5-byte tag 85.
    pub options: Option<u16>,
    pub platform: Platform,
    /// Largest command or response APDU the platform takes, in bytes (§1.3).
    pub max_apdu: usize,
    pub rsa_min_bits: u16,
    pub rsa_max_bits: u16,
    /// Largest EC field size in bits.
    pub ec_max_bits: u16,
    /// GENERATE SYMMETRIC KEY and CIPHER SYMMETRIC exist (fw ≥ 3.0).
    pub aes: bool,
    /// Key domains and XKEK (fw ≥ 3.0).
    pub key_domains: bool,
    /// Bug #168 (3.1): UNWRAP of a blob with a non-empty algorithm list fails with 6F00.
    pub bug_168_unwrap_restricted: bool,
    /// 3.1 and 3.2 generate weak AES keys (security advisory, fixed in 3.3).
    pub weak_aes_generation: bool,
    /// 3.0–3.2 write a wrong default-algorithm field into AES key blobs.
    pub aes_blob_algorithm_misencoded: bool,
    /// RESET RETRY COUNTER exists (fw ≥ 1.0).
    pub reset_retry_counter: bool,
    /// SELECT with P2=0C works (fw ≥ 0.16).
    pub select_without_fci: bool,
    /// GENERATE ASYMMETRIC KEY PAIR needs a CAR (tag 42) in the request (fw < 2.0).
    pub key_generation_requires_car: bool,
    /// An uninitialized device answers VERIFY with 6984 instead of 6A88 (fw 1.x).
    pub uninitialized_is_6984: bool,
}

impl FirmwareProfile {
    /// The profile of a version, with no options known.
    pub fn for_version(version: FirmwareVersion) -> Self {
        let v = version;
        let platform = match v.major {
            0..=2 => Platform::Jcop2,
            3 => Platform::Jcop3,
            _ => Platform::Jcop4,
        };
        let (max_apdu, rsa_max_bits, ec_max_bits) = match platform {
            Platform::Jcop2 => (1462, 2048, 320),
            Platform::Jcop3 => (1232, 4096, 521),
            Platform::Jcop4 => (1454, 4096, 521),
        };
        let at_least = |major, minor| v >= FirmwareVersion::new(major, minor);
        FirmwareProfile {
            version: v,
            version_reported: true,
            applet_type: None,
            options: None,
            platform,
            max_apdu,
            rsa_min_bits: 1024,
            rsa_max_bits,
            ec_max_bits,
            aes: at_least(3, 0),
            key_domains: at_least(3, 0),
            bug_168_unwrap_restricted: v == FirmwareVersion::new(3, 1),
            weak_aes_generation: v == FirmwareVersion::new(3, 1) || v == FirmwareVersion::new(3, 2),
            aes_blob_algorithm_misencoded: v.major == 3 && v.minor <= 2,
            reset_retry_counter: at_least(1, 0),
            select_without_fci: at_least(0, 16),
            key_generation_requires_car: !at_least(2, 0),
            uninitialized_is_6984: v.major == 1,
        }
    }

    /// Parses the value of tag 85: `major minor` (before 2.0) or
    /// `opt-hi opt-lo type major minor` (2.0 and later). Like OpenSC, the version is always the
    /// last two bytes, so a longer future form still yields a version.
    pub fn from_tag85(value: &[u8]) -> Result<Self> {
        let n = value.len();
        if n < 2 {
            return Err(Error::malformed(format!("tag 85 of {n} bytes")));
        }
        let mut p = FirmwareProfile::for_version(FirmwareVersion::new(value[n - 2], value[n - 1]));
        if n >= 5 {
            p.options = Some(u16::from_be_bytes([value[0], value[1]]));
            p.applet_type = Some(value[n - 3]);
        }
        Ok(p)
    }

    /// Parses the data of the applet SELECT: an FCP template 62 (or FCI 6F) holding tag 85.
    /// Without tag 85 the version is assumed to be 3.0 (`version_reported` false).
    pub fn from_select_response(data: &[u8]) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::malformed("SELECT returned no FCP (was P2 0C used?)"));
        }
        let top = tlv::Tlv::parse(data)?.0;
        let inner = match top.tag {
            0x62 | 0x6F => top.value,
            _ => data,
        };
        match tlv::find(inner, 0x85)? {
            Some(t85) => FirmwareProfile::from_tag85(t85.value),
            None => {
                let mut p = FirmwareProfile::for_version(FirmwareVersion::new(3, 0));
                p.version_reported = false;
                Ok(p)
            }
        }
    }

    fn option(&self, bit: u16) -> Option<bool> {
        self.options.map(|o| o & bit == bit)
    }

    /// RESET RETRY COUNTER enabled at initialization (`None` when tag 85 had no options).
    pub fn rrc_enabled(&self) -> Option<bool> {
        self.option(options::RESET_RETRY_COUNTER_ENABLED)
    }

    /// Transport-PIN mode: the initial PIN must be changed before use.
    pub fn transport_pin_mode(&self) -> Option<bool> {
        self.option(options::TRANSPORT_PIN)
    }

    /// A human-readable device name for CK_TOKEN_INFO and logs.
    pub fn applet_name(&self) -> String {
        let kind = match self.applet_type {
            Some(1) => "SmartCard-HSM Demo Applet for JCOP",
            Some(0xFF) => "SmartCard-HSM compatible (pico-hsm)",
            _ => "SmartCard-HSM Applet for JCOP",
        };
        format!("{kind} version {}", self.version)
    }

    /// Whether RSA keys of `bits` can be generated on this platform (multiples of 8 between
    /// the limits; hosts use 1024, 1536, 2048, 3072, 4096).
    pub fn supports_rsa_bits(&self, bits: u16) -> bool {
        bits % 8 == 0 && (self.rsa_min_bits..=self.rsa_max_bits).contains(&bits)
    }

    /// Whether an EC curve with a field of `bits` fits this platform.
    pub fn supports_ec_bits(&self, bits: u16) -> bool {
        bits <= self.ec_max_bits
    }
}

/// Bug #168 shim, key generation: should the allowed-algorithm list (GAKP tag 91) go to the
/// card? Not on 3.1 for a key that may be exported: its blob would carry the list and could
/// never be unwrapped on a 3.1 device, so the module keeps the restriction on the host instead.
/// Everywhere else the card enforces the list.
pub fn keep_algorithm_list_at_generation(profile: &FirmwareProfile, extractable: bool) -> bool {
    !(profile.bug_168_unwrap_restricted && extractable)
}

/// Bug #168 shim, unwrap: must this blob be re-encoded without its algorithm list before it is
/// sent? Yes on 3.1 when the list is not empty (the card would answer 6F00); that needs the DKEK
/// on the host.
pub fn unwrap_needs_reencoding(profile: &FirmwareProfile, blob_algorithm_list: &[u8]) -> bool {
    profile.bug_168_unwrap_restricted && !blob_algorithm_list.is_empty()
}

/// What to tell the user when an unwrap hits bug #168 and the module cannot re-encode.
pub const BUG_168_ADVICE: &str = "firmware 3.1 cannot unwrap a key blob that carries an allowed-\
algorithm list (CardContact bug #168, SW 6F00): update the device to firmware 3.2 or later, or \
give the module the DKEK shares (config [dkek]) so that it can re-encode the blob without the list";

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u8, minor: u8) -> FirmwareProfile {
        FirmwareProfile::for_version(FirmwareVersion::new(major, minor))
    }

    #[test]
    fn tag85_two_and_five_bytes() {
        let old = FirmwareProfile::from_tag85(&[1, 3]).unwrap();
        assert_eq!(old.version, FirmwareVersion::new(1, 3));
        assert_eq!((old.options, old.applet_type), (None, None));
        assert!(old.uninitialized_is_6984 && old.key_generation_requires_car);

        let new = FirmwareProfile::from_tag85(&[0x00, 0x01, 0x00, 3, 5]).unwrap();
        assert_eq!(new.version.to_string(), "3.5");
        assert_eq!((new.options, new.applet_type), (Some(1), Some(0)));
        assert_eq!(
            (new.rrc_enabled(), new.transport_pin_mode()),
            (Some(true), Some(false))
        );
        assert_eq!(
            new.applet_name(),
            "SmartCard-HSM Applet for JCOP version 3.5"
        );

        assert!(FirmwareProfile::from_tag85(&[3]).is_err());
        assert!(FirmwareProfile::from_tag85(&[]).is_err());
    }

    #[test]
    fn select_response_forms() {
        // 62 07 85 05 00 01 00 03 05 (§13.2)
        let r = [0x62, 0x07, 0x85, 0x05, 0x00, 0x03, 0x00, 0x03, 0x01];
        let p = FirmwareProfile::from_select_response(&r).unwrap();
        assert_eq!(p.version, FirmwareVersion::new(3, 1));
        assert_eq!(p.options, Some(3));
        assert!(p.transport_pin_mode().unwrap());
        // pico style with other tags first, FCI 6F, and old 2-byte form.
        let r = [
            0x6F, 0x0A, 0x82, 0x01, 0x38, 0x8A, 0x01, 0x05, 0x85, 0x02, 2, 6,
        ];
        let p = FirmwareProfile::from_select_response(&r).unwrap();
        assert_eq!(p.version, FirmwareVersion::new(2, 6));
        assert_eq!(p.platform, Platform::Jcop2);
        // No tag 85: assumed 3.0.
        let p = FirmwareProfile::from_select_response(&[0x62, 0x03, 0x82, 0x01, 0x38]).unwrap();
        assert!(!p.version_reported);
        assert_eq!(p.version, FirmwareVersion::new(3, 0));
        // Garbage and truncation are errors, not panics.
        assert!(FirmwareProfile::from_select_response(&[]).is_err());
        assert!(FirmwareProfile::from_select_response(&[0x62, 0x07, 0x85]).is_err());
        assert!(FirmwareProfile::from_select_response(&[0x62, 0x02, 0x85, 0x00]).is_err());
    }

    #[test]
    fn platform_limits() {
        let hsm1 = v(2, 6);
        assert_eq!(
            (hsm1.max_apdu, hsm1.rsa_max_bits, hsm1.ec_max_bits),
            (1462, 2048, 320)
        );
        assert!(!hsm1.aes && !hsm1.supports_rsa_bits(4096) && hsm1.supports_rsa_bits(2048));
        assert!(!hsm1.supports_ec_bits(384));
        let hsm2 = v(3, 5);
        assert_eq!(
            (hsm2.max_apdu, hsm2.rsa_max_bits, hsm2.ec_max_bits),
            (1232, 4096, 521)
        );
        assert!(hsm2.aes && hsm2.supports_rsa_bits(3072) && !hsm2.supports_rsa_bits(1025));
        assert_eq!(v(4, 0).max_apdu, 1454);
        assert!(!v(0, 15).select_without_fci && !v(0, 15).reset_retry_counter);
    }

    #[test]
    fn quirk_flags_per_version() {
        let table = [
            // version, #168, weak AES, AES blob OID misencoded
            ((2, 6), false, false, false),
            ((3, 0), false, false, true),
            ((3, 1), true, true, true),
            ((3, 2), false, true, true),
            ((3, 3), false, false, false),
            ((3, 5), false, false, false),
            ((4, 1), false, false, false),
        ];
        for ((major, minor), b168, weak, mis) in table {
            let p = v(major, minor);
            assert_eq!(p.bug_168_unwrap_restricted, b168, "{major}.{minor}");
            assert_eq!(p.weak_aes_generation, weak, "{major}.{minor}");
            assert_eq!(p.aes_blob_algorithm_misencoded, mis, "{major}.{minor}");
        }
    }

    #[test]
    fn shim_keep_algorithm_list_at_generation() {
        // Only 3.1 with an exportable key keeps the list on the host.
        assert!(!keep_algorithm_list_at_generation(&v(3, 1), true));
        assert!(keep_algorithm_list_at_generation(&v(3, 1), false));
        for (major, minor) in [(2, 6), (3, 0), (3, 2), (3, 3), (3, 5), (4, 0)] {
            assert!(keep_algorithm_list_at_generation(&v(major, minor), true));
            assert!(keep_algorithm_list_at_generation(&v(major, minor), false));
        }
    }

    #[test]
    fn shim_unwrap_needs_reencoding() {
        assert!(unwrap_needs_reencoding(&v(3, 1), &[0x73, 0x92]));
        assert!(!unwrap_needs_reencoding(&v(3, 1), &[]));
        for (major, minor) in [(2, 6), (3, 0), (3, 2), (3, 3), (3, 5), (4, 0)] {
            assert!(!unwrap_needs_reencoding(&v(major, minor), &[0x73, 0x92]));
            assert!(!unwrap_needs_reencoding(&v(major, minor), &[]));
        }
        assert!(BUG_168_ADVICE.contains("3.2"));
    }
}
