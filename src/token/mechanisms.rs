//! The mechanisms: one table that says, for every mechanism the module offers, what it does
//! (the PKCS#11 function flags), which key family it takes, which hash the host computes for it
//! and which card algorithms (the P2 ids of SIGN/DECIPHER/CIPHER, also the entries of a key's
//! allowed-algorithm list, GAKP tag 91) it sends. C_GetMechanismList/Info read it per device
//! profile; the operations and key generation read it for their checks.
//!
//! Where the work happens: the card does every private-key and secret-key operation (CKF_HW);
//! the host hashes, pads, verifies and encrypts with public keys. CKM_RSA_PKCS_PSS and the
//! SHAx_RSA_PKCS_PSS mechanisms go to the card as P2 40 with the hash, and the card always uses
//! MGF1 with that hash and a salt as long as the hash: any other CK_RSA_PKCS_PSS_PARAMS
//! (another MGF1 hash, another salt length) is refused with MechanismParamInvalid.

use cryptoki_sys::*;

use super::api::MechanismInfo;
use super::crypto::hash::HashAlg;
use super::error::{Error, Result};
use super::{library, slots};
use crate::card::algorithm::id;
use crate::card::curves;
use crate::card::FirmwareProfile;

/// The key family of a mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rsa,
    Ec,
    Aes,
    /// Software digests: no key.
    Digest,
}

impl Family {
    /// The CKK_ of the keys this family takes.
    pub fn key_type(self) -> Option<CK_KEY_TYPE> {
        match self {
            Family::Rsa => Some(CKK_RSA),
            Family::Ec => Some(CKK_EC),
            Family::Aes => Some(CKK_AES),
            Family::Digest => None,
        }
    }
}

/// What one mechanism is, on every device.
#[derive(Debug, Clone, Copy)]
pub struct MechSpec {
    pub kind: CK_MECHANISM_TYPE,
    pub family: Family,
    /// CKF_SIGN, CKF_DECRYPT, … (without CKF_HW and the EC flags, added per family).
    pub functions: CK_FLAGS,
    /// The hash the host computes (hash-and-sign mechanisms, digests).
    pub hash: Option<HashAlg>,
    /// The card algorithms the mechanism sends (P2 of SIGN / DECIPHER / CIPHER SYMMETRIC).
    pub card_algorithms: &'static [u8],
}

const SIGN_VERIFY: CK_FLAGS = CKF_SIGN | CKF_VERIFY;
const ENC_DEC: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT;
const RSA_SIGN: &[u8] = &[0x20];
const RSA_BOTH: &[u8] = &[0x20, id::RSA_DECRYPT_RAW];
const RSA_DECRYPT: &[u8] = &[id::RSA_DECRYPT_RAW];
const RSA_PSS: &[u8] = &[0x40];
const ECDSA: &[u8] = &[0x70];
const ECDH: &[u8] = &[id::ECDH];
const AES_CBC: &[u8] = &[0x10, 0x11];
const AES_CMAC: &[u8] = &[0x18];

const fn m(
    kind: CK_MECHANISM_TYPE,
    family: Family,
    functions: CK_FLAGS,
    hash: Option<HashAlg>,
    card_algorithms: &'static [u8],
) -> MechSpec {
    MechSpec {
        kind,
        family,
        functions,
        hash,
        card_algorithms,
    }
}

use Family::{Aes, Digest, Ec, Rsa};
use HashAlg::{Sha1, Sha224, Sha256, Sha384, Sha512};

/// Every mechanism, in the order C_GetMechanismList reports them.
static TABLE: &[MechSpec] = &[
    m(
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        Rsa,
        CKF_GENERATE_KEY_PAIR,
        None,
        &[],
    ),
    // Sign: host pads the caller's DigestInfo, card P2 20. Decrypt: P2 21, host unpads.
    // Encrypt/verify: software with the public key.
    m(CKM_RSA_PKCS, Rsa, SIGN_VERIFY | ENC_DEC, None, RSA_BOTH),
    m(CKM_RSA_X_509, Rsa, SIGN_VERIFY | ENC_DEC, None, RSA_BOTH),
    m(CKM_RSA_PKCS_OAEP, Rsa, ENC_DEC, None, RSA_DECRYPT),
    // Hash on the host, DigestInfo + padding on the host, card P2 20.
    m(CKM_SHA1_RSA_PKCS, Rsa, SIGN_VERIFY, Some(Sha1), RSA_SIGN),
    m(
        CKM_SHA224_RSA_PKCS,
        Rsa,
        SIGN_VERIFY,
        Some(Sha224),
        RSA_SIGN,
    ),
    m(
        CKM_SHA256_RSA_PKCS,
        Rsa,
        SIGN_VERIFY,
        Some(Sha256),
        RSA_SIGN,
    ),
    m(
        CKM_SHA384_RSA_PKCS,
        Rsa,
        SIGN_VERIFY,
        Some(Sha384),
        RSA_SIGN,
    ),
    m(
        CKM_SHA512_RSA_PKCS,
        Rsa,
        SIGN_VERIFY,
        Some(Sha512),
        RSA_SIGN,
    ),
    // PSS: the card pads (P2 40) the hash; MGF1 hash = hash, salt length = hash length.
    m(CKM_RSA_PKCS_PSS, Rsa, SIGN_VERIFY, None, RSA_PSS),
    m(CKM_SHA1_RSA_PKCS_PSS, Rsa, SIGN_VERIFY, Some(Sha1), RSA_PSS),
    m(
        CKM_SHA224_RSA_PKCS_PSS,
        Rsa,
        SIGN_VERIFY,
        Some(Sha224),
        RSA_PSS,
    ),
    m(
        CKM_SHA256_RSA_PKCS_PSS,
        Rsa,
        SIGN_VERIFY,
        Some(Sha256),
        RSA_PSS,
    ),
    m(
        CKM_SHA384_RSA_PKCS_PSS,
        Rsa,
        SIGN_VERIFY,
        Some(Sha384),
        RSA_PSS,
    ),
    m(
        CKM_SHA512_RSA_PKCS_PSS,
        Rsa,
        SIGN_VERIFY,
        Some(Sha512),
        RSA_PSS,
    ),
    m(CKM_EC_KEY_PAIR_GEN, Ec, CKF_GENERATE_KEY_PAIR, None, &[]),
    // ECDSA on the hash (P2 70); the hashing mechanisms hash on the host: one short APDU.
    m(CKM_ECDSA, Ec, SIGN_VERIFY, None, ECDSA),
    m(CKM_ECDSA_SHA1, Ec, SIGN_VERIFY, Some(Sha1), ECDSA),
    m(CKM_ECDSA_SHA224, Ec, SIGN_VERIFY, Some(Sha224), ECDSA),
    m(CKM_ECDSA_SHA256, Ec, SIGN_VERIFY, Some(Sha256), ECDSA),
    m(CKM_ECDSA_SHA384, Ec, SIGN_VERIFY, Some(Sha384), ECDSA),
    m(CKM_ECDSA_SHA512, Ec, SIGN_VERIFY, Some(Sha512), ECDSA),
    // DECIPHER P2 80; every curve here has cofactor 1, so both derive the same.
    m(CKM_ECDH1_DERIVE, Ec, CKF_DERIVE, None, ECDH),
    m(CKM_ECDH1_COFACTOR_DERIVE, Ec, CKF_DERIVE, None, ECDH),
    m(CKM_AES_KEY_GEN, Aes, CKF_GENERATE, None, &[]),
    // CIPHER SYMMETRIC 10/11 with IV zero; the host applies the IV and PKCS#7.
    m(CKM_AES_CBC, Aes, ENC_DEC, None, AES_CBC),
    m(CKM_AES_CBC_PAD, Aes, ENC_DEC, None, AES_CBC),
    // CIPHER SYMMETRIC 18; verification recomputes on the card.
    m(CKM_AES_CMAC, Aes, SIGN_VERIFY, None, AES_CMAC),
    m(CKM_SHA_1, Digest, CKF_DIGEST, Some(Sha1), &[]),
    m(CKM_SHA224, Digest, CKF_DIGEST, Some(Sha224), &[]),
    m(CKM_SHA256, Digest, CKF_DIGEST, Some(Sha256), &[]),
    m(CKM_SHA384, Digest, CKF_DIGEST, Some(Sha384), &[]),
    m(CKM_SHA512, Digest, CKF_DIGEST, Some(Sha512), &[]),
];

/// Every mechanism the module knows (on any device).
pub fn all() -> &'static [MechSpec] {
    TABLE
}

/// The table entry of a mechanism (on any device).
pub fn spec(kind: CK_MECHANISM_TYPE) -> Option<&'static MechSpec> {
    TABLE.iter().find(|s| s.kind == kind)
}

/// Smallest and largest EC field size (bits) among the curves the device can generate.
pub fn ec_size_range(profile: &FirmwareProfile) -> Option<(u16, u16)> {
    let bits = curves::all()
        .iter()
        .map(|c| c.field_bits)
        .filter(|&b| profile.supports_ec_bits(b));
    let (min, max) = bits.fold((u16::MAX, 0), |(lo, hi), b| (lo.min(b), hi.max(b)));
    (max > 0).then_some((min, max))
}

/// The mechanism on this device, or `None` when the device lacks it (AES before 3.0).
pub fn on_device(profile: &FirmwareProfile, kind: CK_MECHANISM_TYPE) -> Option<MechanismInfo> {
    let s = spec(kind)?;
    let hw = if s.family == Digest { 0 } else { CKF_HW };
    let (min, max, extra) = match s.family {
        Rsa => (
            CK_ULONG::from(profile.rsa_min_bits),
            CK_ULONG::from(profile.rsa_max_bits),
            0,
        ),
        Ec => {
            let (lo, hi) = ec_size_range(profile)?;
            (
                CK_ULONG::from(lo),
                CK_ULONG::from(hi),
                CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS,
            )
        }
        Aes if profile.aes => (16, 32, 0),
        Aes => return None,
        Digest => (0, 0, 0),
    };
    Some(MechanismInfo {
        min_key_size: min,
        max_key_size: max,
        flags: s.functions | hw | extra,
    })
}

/// The mechanisms of this device, in table order.
pub fn list_for(profile: &FirmwareProfile) -> Vec<CK_MECHANISM_TYPE> {
    TABLE
        .iter()
        .filter(|s| on_device(profile, s.kind).is_some())
        .map(|s| s.kind)
        .collect()
}

/// The card algorithm list (GAKP/GSK tag 91) that permits exactly what these mechanisms send,
/// sorted, without duplicates. Mechanisms the table does not know add nothing.
pub fn card_algorithms(mechanisms: &[CK_MECHANISM_TYPE]) -> Vec<u8> {
    let mut out: Vec<u8> = mechanisms
        .iter()
        .filter_map(|&k| spec(k))
        .flat_map(|s| s.card_algorithms.iter().copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// C_GetMechanismList.
pub fn mechanism_list(slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
    let lib = library::get()?;
    let token = slots::present_token(&lib, slot)?;
    let mut list = list_for(&token.profile);
    list.extend(VENDOR.iter().map(|(m, _)| *m));
    Ok(list)
}

/// The vendor mechanisms (`crate::vendor`), with the DKEK object as their key: WRAP KEY /
/// UNWRAP KEY, and key import. Every firmware has a DKEK (a 256-bit AES key).
const VENDOR: [(CK_MECHANISM_TYPE, CK_FLAGS); 2] = [
    (
        crate::vendor::CKM_SCHSM_DKEK_WRAP,
        CKF_HW | CKF_WRAP | CKF_UNWRAP,
    ),
    (crate::vendor::CKM_SCHSM_PKCS8_IMPORT, CKF_HW | CKF_UNWRAP),
];

/// C_GetMechanismInfo: `MechanismInvalid` for a mechanism this device does not offer.
pub fn mechanism_info(slot: CK_SLOT_ID, kind: CK_MECHANISM_TYPE) -> Result<MechanismInfo> {
    let lib = library::get()?;
    let token = slots::present_token(&lib, slot)?;
    if let Some((_, flags)) = VENDOR.iter().find(|(m, _)| *m == kind) {
        return Ok(MechanismInfo {
            min_key_size: 32,
            max_key_size: 32,
            flags: *flags,
        });
    }
    on_device(&token.profile, kind).ok_or(Error::MechanismInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::FirmwareVersion;

    fn profile(major: u8, minor: u8) -> FirmwareProfile {
        FirmwareProfile::for_version(FirmwareVersion::new(major, minor))
    }

    #[test]
    fn hsm1_has_no_aes_and_smaller_sizes() {
        let p = profile(2, 6);
        let list = list_for(&p);
        assert!(!list.contains(&CKM_AES_CBC) && !list.contains(&CKM_AES_KEY_GEN));
        assert!(list.contains(&CKM_ECDSA_SHA256) && list.contains(&CKM_SHA512));
        assert_eq!(on_device(&p, CKM_AES_CMAC).map(|i| i.flags), None);
        let ec = on_device(&p, CKM_EC_KEY_PAIR_GEN).unwrap();
        assert_eq!((ec.min_key_size, ec.max_key_size), (192, 320));
        let rsa = on_device(&p, CKM_RSA_PKCS).unwrap();
        assert_eq!((rsa.min_key_size, rsa.max_key_size), (1024, 2048));
    }

    #[test]
    fn hsm2_sizes_and_flags() {
        let p = profile(3, 5);
        let list = list_for(&p);
        assert_eq!(list.len(), TABLE.len());
        let ec = on_device(&p, CKM_ECDSA).unwrap();
        assert_eq!((ec.min_key_size, ec.max_key_size), (192, 521));
        assert_eq!(
            ec.flags,
            CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS
        );
        let rsa = on_device(&p, CKM_RSA_PKCS).unwrap();
        assert_eq!(rsa.max_key_size, 4096);
        assert_eq!(
            rsa.flags,
            CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT
        );
        let aes = on_device(&p, CKM_AES_CBC_PAD).unwrap();
        assert_eq!((aes.min_key_size, aes.max_key_size), (16, 32));
        let sha = on_device(&p, CKM_SHA256).unwrap();
        assert_eq!((sha.flags, sha.max_key_size), (CKF_DIGEST, 0));
        assert_eq!(
            on_device(&p, CKM_ECDH1_DERIVE).unwrap().flags & CKF_DERIVE,
            CKF_DERIVE
        );
        assert!(on_device(&p, CKM_MD5).is_none());
    }

    #[test]
    fn card_algorithm_lists() {
        assert_eq!(card_algorithms(&[CKM_ECDSA_SHA256]), vec![0x70]);
        assert_eq!(
            card_algorithms(&[CKM_ECDSA, CKM_ECDSA_SHA384, CKM_ECDH1_DERIVE]),
            vec![0x70, 0x80]
        );
        assert_eq!(
            card_algorithms(&[CKM_SHA256_RSA_PKCS_PSS, CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP]),
            vec![0x20, 0x21, 0x40]
        );
        assert_eq!(
            card_algorithms(&[CKM_AES_CBC, CKM_AES_CMAC]),
            vec![0x10, 0x11, 0x18]
        );
        assert!(card_algorithms(&[CKM_SHA256, CKM_MD5]).is_empty());
    }

    #[test]
    fn every_entry_is_consistent() {
        for s in TABLE {
            assert_eq!(spec(s.kind).unwrap().kind, s.kind);
            let card = !s.card_algorithms.is_empty();
            let keygen = s.functions & (CKF_GENERATE | CKF_GENERATE_KEY_PAIR) != 0;
            assert!(card || keygen || s.family == Digest, "{:#x}", s.kind);
            if s.family == Digest {
                assert!(s.hash.is_some());
            }
        }
    }
}
