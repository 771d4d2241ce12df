//! Firmware profiles: every version-dependent behaviour of the simulated card lives in this one
//! table, so commands ask `profile.<quirk>` instead of comparing version numbers.

/// ATR of the SmartCard-HSM / Nitrokey HSM 1 (JCOP 2.4.1, contact).
const ATR_HSM1: &[u8] = &[
    0x3B, 0xFE, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x31, 0x81, 0x54, 0x48, 0x53, 0x4D,
    0x31, 0x73, 0x80, 0x21, 0x40, 0x81, 0x07, 0xFA,
];
/// ATR of the SmartCard-HSM 4K / Nitrokey HSM 2 (JCOP 3).
const ATR_HSM2: &[u8] = &[
    0x3B, 0xDE, 0x18, 0xFF, 0x81, 0x91, 0xFE, 0x1F, 0xC3, 0x80, 0x31, 0x81, 0x54, 0x48, 0x53, 0x4D,
    0x31, 0x73, 0x80, 0x21, 0x40, 0x81, 0x07, 0x1C,
];

/// What one firmware version does differently. See PROTOCOL.md §2.5 and §9.
#[derive(Debug, PartialEq, Eq)]
pub struct Profile {
    /// Version as given on the command line and stored in the state ("3.1").
    pub name: &'static str,
    pub major: u8,
    pub minor: u8,
    /// Hardware, for `stat` and the ATR.
    pub platform: &'static str,
    pub atr: &'static [u8],
    /// Largest command or response APDU in bytes (header, data and SW included).
    pub max_apdu: usize,
    pub rsa_max_bits: usize,
    /// Largest EC curve (bits of the order) the chip supports.
    pub ec_max_bits: usize,
    /// AES keys, GENERATE SYMMETRIC KEY and CIPHER SYMMETRIC (fw >= 3.0).
    pub aes: bool,
    /// Key domains (INITIALIZE tag 97, IMPORT DKEK SHARE P2 > 0), fw >= 3.0.
    pub key_domains: bool,
    /// Tag 85 of the SELECT response has 5 bytes (options, type, version) from 2.0 on, before
    /// that only `major minor`.
    pub long_tag85: bool,
    /// Before 2.0 GENERATE ASYMMETRIC KEY PAIR requires a CAR (tag 42).
    pub gakp_requires_car: bool,
    /// Before 2.0 VERIFY on an uninitialised device answers 6984 instead of 6A88.
    pub uninitialized_sw_6984: bool,
    /// Bug #168 (3.1): UNWRAP of a blob whose algorithm list is not empty answers 6F00 and
    /// imports nothing.
    pub unwrap_alglist_bug168: bool,
    /// GENERATE SYMMETRIC KEY produced weak AES keys (3.1, 3.2; advisory of Sept 2019). The
    /// simulator generates good keys but reports the flag so hosts can test their warning.
    pub weak_aes_keygen: bool,
    /// Memory for keys and files (bytes); beyond it writes and key generation answer 6A84.
    pub memory: usize,
}

const fn hsm1(name: &'static str, major: u8, minor: u8) -> Profile {
    Profile {
        name,
        major,
        minor,
        platform: "SmartCard-HSM / Nitrokey HSM 1 (JCOP 2.4.1r3)",
        atr: ATR_HSM1,
        max_apdu: 1462,
        rsa_max_bits: 2048,
        ec_max_bits: 320,
        aes: false,
        key_domains: false,
        long_tag85: major >= 2,
        gakp_requires_car: major < 2,
        uninitialized_sw_6984: major < 2,
        unwrap_alglist_bug168: false,
        weak_aes_keygen: false,
        memory: 64 * 1024,
    }
}

const fn hsm2(name: &'static str, minor: u8) -> Profile {
    Profile {
        name,
        major: 3,
        minor,
        platform: "SmartCard-HSM 4K / Nitrokey HSM 2 (JCOP 3)",
        atr: ATR_HSM2,
        max_apdu: 1232,
        rsa_max_bits: 4096,
        ec_max_bits: 521,
        aes: true,
        key_domains: true,
        long_tag85: true,
        gakp_requires_car: false,
        uninitialized_sw_6984: false,
        unwrap_alglist_bug168: minor == 1,
        weak_aes_keygen: minor == 1 || minor == 2,
        memory: 76 * 1024,
    }
}

/// The table. 1.2 is an old HSM 1 applet (2-byte tag 85, CAR required, 6984 uninitialised);
/// 2.6 the last HSM 1 firmware; 3.x the HSM 2 line.
static PROFILES: [Profile; 7] = [
    hsm1("1.2", 1, 2),
    hsm1("2.6", 2, 6),
    hsm2("3.1", 1),
    hsm2("3.2", 2),
    hsm2("3.3", 3),
    hsm2("3.4", 4),
    hsm2("3.5", 5),
];

/// The profile for a version string such as "3.1".
pub fn by_name(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

/// All versions, for `--help` and error messages.
pub fn names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_facts() {
        let p = by_name("2.6").unwrap();
        assert_eq!(
            (p.max_apdu, p.rsa_max_bits, p.ec_max_bits, p.aes),
            (1462, 2048, 320, false)
        );
        assert!(p.long_tag85 && !p.gakp_requires_car);
        assert!(by_name("3.1").unwrap().unwrap_alglist_bug168);
        assert!(!by_name("3.2").unwrap().unwrap_alglist_bug168);
        assert!(by_name("3.2").unwrap().weak_aes_keygen);
        assert!(!by_name("3.3").unwrap().weak_aes_keygen);
        assert_eq!(by_name("3.5").unwrap().max_apdu, 1232);
        assert!(!by_name("1.2").unwrap().long_tag85);
        assert!(by_name("9.9").is_none());
        assert!(names().contains(&"3.5"));
    }
}
