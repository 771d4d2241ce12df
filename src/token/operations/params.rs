//! Mechanism parameters: CK_RSA_PKCS_PSS_PARAMS, CK_RSA_PKCS_OAEP_PARAMS and the AES IV, with
//! what the card can do checked here (`MechanismParamInvalid` otherwise).

use cryptoki_sys::CKZ_DATA_SPECIFIED;

use crate::token::api::{Mechanism, MechanismParam};
use crate::token::crypto::cbc::BLOCK;
use crate::token::crypto::hash::HashAlg;
use crate::token::error::{Error, Result};
use crate::token::mechanisms::MechSpec;

/// The hash of a PSS mechanism. The card (SIGN P2 40) always uses MGF1 with the signature's
/// hash and a salt as long as the hash, so the parameters must say exactly that; for the
/// SHAx_RSA_PKCS_PSS mechanisms the parameter's hash must be the mechanism's, and a missing
/// parameter means those defaults.
pub fn pss(mechanism: &Mechanism, spec: &MechSpec) -> Result<HashAlg> {
    let (hash, mgf, salt_len) = match &mechanism.param {
        MechanismParam::Pss {
            hash,
            mgf,
            salt_len,
        } => (*hash, *mgf, *salt_len),
        MechanismParam::None if spec.hash.is_some() => {
            return spec.hash.ok_or(Error::MechanismParamInvalid)
        }
        _ => return Err(Error::MechanismParamInvalid),
    };
    let invalid = |why: &str| {
        log::info!("PSS parameters refused: {why} (the card uses MGF1 with the hash and a salt of the hash length)");
        Error::MechanismParamInvalid
    };
    let h = HashAlg::from_mechanism(hash).ok_or_else(|| invalid("unknown hash"))?;
    if spec.hash.is_some_and(|m| m != h) {
        return Err(invalid("hash differs from the mechanism's"));
    }
    if HashAlg::from_mgf1(mgf) != Some(h) {
        return Err(invalid("MGF1 hash differs from the hash"));
    }
    if usize::try_from(salt_len).ok() != Some(h.len()) {
        return Err(invalid("salt length differs from the hash length"));
    }
    Ok(h)
}

/// CK_RSA_PKCS_OAEP_PARAMS, decoded.
#[derive(Debug, Clone)]
pub struct Oaep {
    pub hash: HashAlg,
    pub mgf: HashAlg,
    pub label: Vec<u8>,
}

/// The OAEP parameters (required by PKCS#11; the host decodes, so any SHA hash and MGF1 hash
/// combination works).
pub fn oaep(mechanism: &Mechanism) -> Result<Oaep> {
    let MechanismParam::Oaep {
        hash,
        mgf,
        source,
        source_data,
    } = &mechanism.param
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let hash = HashAlg::from_mechanism(*hash).ok_or(Error::MechanismParamInvalid)?;
    let mgf = HashAlg::from_mgf1(*mgf).ok_or(Error::MechanismParamInvalid)?;
    // No source (0) is accepted for an empty label, as several callers send it.
    if *source != CKZ_DATA_SPECIFIED && !(*source == 0 && source_data.is_empty()) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(Oaep {
        hash,
        mgf,
        label: source_data.clone(),
    })
}

/// The 16-byte IV of CKM_AES_CBC(_PAD).
pub fn iv(mechanism: &Mechanism) -> Result<[u8; BLOCK]> {
    match &mechanism.param {
        MechanismParam::Iv(v) | MechanismParam::Raw(v) => v
            .as_slice()
            .try_into()
            .map_err(|_| Error::MechanismParamInvalid),
        _ => Err(Error::MechanismParamInvalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::mechanisms::spec;
    use cryptoki_sys::*;

    fn pss_mech(
        kind: CK_MECHANISM_TYPE,
        hash: CK_ULONG,
        mgf: CK_ULONG,
        salt: CK_ULONG,
    ) -> Mechanism {
        Mechanism {
            kind,
            param: MechanismParam::Pss {
                hash,
                mgf,
                salt_len: salt,
            },
        }
    }

    #[test]
    fn pss_rules() {
        let raw = spec(CKM_RSA_PKCS_PSS).unwrap();
        let sha256 = spec(CKM_SHA256_RSA_PKCS_PSS).unwrap();
        let ok = pss_mech(CKM_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48);
        assert_eq!(pss(&ok, raw), Ok(HashAlg::Sha384));
        let bad_mgf = pss_mech(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA1, 32);
        assert_eq!(pss(&bad_mgf, raw), Err(Error::MechanismParamInvalid));
        let bad_salt = pss_mech(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 0);
        assert_eq!(pss(&bad_salt, raw), Err(Error::MechanismParamInvalid));
        let other_hash = pss_mech(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, 20);
        assert_eq!(pss(&other_hash, sha256), Err(Error::MechanismParamInvalid));
        let none = Mechanism {
            kind: CKM_SHA256_RSA_PKCS_PSS,
            param: MechanismParam::None,
        };
        assert_eq!(pss(&none, sha256), Ok(HashAlg::Sha256));
        assert_eq!(pss(&none, raw), Err(Error::MechanismParamInvalid));
    }

    #[test]
    fn oaep_and_iv() {
        let m = Mechanism {
            kind: CKM_RSA_PKCS_OAEP,
            param: MechanismParam::Oaep {
                hash: CKM_SHA256,
                mgf: CKG_MGF1_SHA1,
                source: CKZ_DATA_SPECIFIED,
                source_data: b"L".to_vec(),
            },
        };
        let p = oaep(&m).unwrap();
        assert_eq!(
            (p.hash, p.mgf, p.label.as_slice()),
            (HashAlg::Sha256, HashAlg::Sha1, &b"L"[..])
        );
        let mut bad = m.clone();
        bad.param = MechanismParam::None;
        assert!(oaep(&bad).is_err());
        let iv_mech = Mechanism {
            kind: CKM_AES_CBC,
            param: MechanismParam::Iv(vec![7; 16]),
        };
        assert_eq!(iv(&iv_mech), Ok([7; 16]));
        let short = Mechanism {
            kind: CKM_AES_CBC,
            param: MechanismParam::Iv(vec![7; 8]),
        };
        assert_eq!(iv(&short), Err(Error::MechanismParamInvalid));
    }
}
