//! CK_MECHANISM -> [`Mechanism`]: the parameter is decoded for the mechanisms whose parameter is
//! a C structure (its length must be that structure's size); any other parameter is carried as
//! raw bytes. Whether a mechanism is supported is the token's decision, not ours.

use std::mem::size_of;

use cryptoki_sys::*;

use super::marshal::len;
use crate::token::api::{Error, Mechanism, MechanismParam, Result};

/// Larger than any parameter of a mechanism we know (an OAEP label, ECDH public data).
const MAX_PARAM_LEN: usize = 64 * 1024;
const AES_BLOCK: usize = 16;

/// Reads `pMechanism` (NULL -> CKR_ARGUMENTS_BAD).
pub(crate) unsafe fn read_mechanism(p: *const CK_MECHANISM) -> Result<Mechanism> {
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL; the caller promises a CK_MECHANISM there.
    let m = unsafe { p.read() };
    // SAFETY: forwarded from the caller (pParameter/ulParameterLen of a valid CK_MECHANISM).
    let param = unsafe { decode_param(&m)? };
    Ok(Mechanism {
        kind: m.mechanism,
        param,
    })
}

unsafe fn decode_param(m: &CK_MECHANISM) -> Result<MechanismParam> {
    Ok(match m.mechanism {
        CKM_AES_CBC | CKM_AES_CBC_PAD => {
            let iv = unsafe { param_bytes(m.pParameter.cast(), m.ulParameterLen)? };
            if iv.len() != AES_BLOCK {
                return Err(Error::MechanismParamInvalid);
            }
            MechanismParam::Iv(iv)
        }
        CKM_RSA_PKCS_PSS
        | CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS
        | CKM_SHA3_224_RSA_PKCS_PSS
        | CKM_SHA3_256_RSA_PKCS_PSS
        | CKM_SHA3_384_RSA_PKCS_PSS
        | CKM_SHA3_512_RSA_PKCS_PSS => {
            let p: CK_RSA_PKCS_PSS_PARAMS = unsafe { param_struct(m)? };
            MechanismParam::Pss {
                hash: p.hashAlg,
                mgf: p.mgf,
                salt_len: p.sLen,
            }
        }
        CKM_RSA_PKCS_OAEP => {
            let p: CK_RSA_PKCS_OAEP_PARAMS = unsafe { param_struct(m)? };
            let source_data = unsafe { param_bytes(p.pSourceData.cast(), p.ulSourceDataLen)? };
            MechanismParam::Oaep {
                hash: p.hashAlg,
                mgf: p.mgf,
                source: p.source,
                source_data,
            }
        }
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
            let p: CK_ECDH1_DERIVE_PARAMS = unsafe { param_struct(m)? };
            MechanismParam::Ecdh {
                kdf: p.kdf,
                shared_data: unsafe { param_bytes(p.pSharedData, p.ulSharedDataLen)? },
                public_data: unsafe { param_bytes(p.pPublicData, p.ulPublicDataLen)? },
            }
        }
        _ if m.ulParameterLen == 0 => MechanismParam::None,
        _ => MechanismParam::Raw(unsafe { param_bytes(m.pParameter.cast(), m.ulParameterLen)? }),
    })
}

/// A parameter structure: `ulParameterLen` must be exactly its size.
unsafe fn param_struct<T: Copy>(m: &CK_MECHANISM) -> Result<T> {
    if m.pParameter.is_null() || len(m.ulParameterLen).ok() != Some(size_of::<T>()) {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: non-NULL with size_of::<T>() bytes; read_unaligned as the caller may not align
    // a parameter it passes through a `void *`.
    Ok(unsafe { m.pParameter.cast::<T>().read_unaligned() })
}

/// Bytes inside a parameter; a wrong pointer or length is a bad parameter.
unsafe fn param_bytes(p: *const u8, n: CK_ULONG) -> Result<Vec<u8>> {
    let n = len(n).map_err(|_| Error::MechanismParamInvalid)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() || n > MAX_PARAM_LEN {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: non-NULL; the caller promises `n` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, n) }.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    fn mech<T>(kind: CK_MECHANISM_TYPE, param: &mut T) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: kind,
            pParameter: (param as *mut T).cast(),
            ulParameterLen: size_of::<T>() as CK_ULONG,
        }
    }

    fn plain(kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: kind,
            pParameter: ptr::null_mut(),
            ulParameterLen: 0,
        }
    }

    #[test]
    fn null_mechanism_is_arguments_bad() {
        assert_eq!(
            unsafe { read_mechanism(ptr::null()) },
            Err(Error::ArgumentsBad)
        );
    }

    #[test]
    fn no_parameter() {
        let m = plain(CKM_ECDSA);
        let d = unsafe { read_mechanism(&m) }.unwrap();
        assert_eq!(
            d,
            Mechanism {
                kind: CKM_ECDSA,
                param: MechanismParam::None
            }
        );
    }

    #[test]
    fn unknown_mechanism_passes_through_raw() {
        let mut p = [1u8, 2, 3];
        let m = mech(0x8000_0001, &mut p);
        let d = unsafe { read_mechanism(&m) }.unwrap();
        assert_eq!(d.param, MechanismParam::Raw(vec![1, 2, 3]));
        let m = CK_MECHANISM {
            mechanism: 0x8000_0001,
            pParameter: ptr::null_mut(),
            ulParameterLen: 3,
        };
        assert_eq!(
            unsafe { read_mechanism(&m) },
            Err(Error::MechanismParamInvalid)
        );
    }

    #[test]
    fn aes_cbc_iv_must_be_16_bytes() {
        let mut iv = [7u8; 16];
        let m = mech(CKM_AES_CBC_PAD, &mut iv);
        let d = unsafe { read_mechanism(&m) }.unwrap();
        assert_eq!(d.param, MechanismParam::Iv(vec![7; 16]));
        let mut short = [7u8; 8];
        let m = mech(CKM_AES_CBC, &mut short);
        assert_eq!(
            unsafe { read_mechanism(&m) },
            Err(Error::MechanismParamInvalid)
        );
        let m = plain(CKM_AES_CBC);
        assert_eq!(
            unsafe { read_mechanism(&m) },
            Err(Error::MechanismParamInvalid)
        );
    }

    #[test]
    fn pss_params() {
        let mut p = CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            sLen: 32,
        };
        let m = mech(CKM_SHA256_RSA_PKCS_PSS, &mut p);
        let d = unsafe { read_mechanism(&m) }.unwrap();
        assert_eq!(
            d.param,
            MechanismParam::Pss {
                hash: CKM_SHA256,
                mgf: CKG_MGF1_SHA256,
                salt_len: 32
            }
        );
        let mut wrong = m;
        wrong.ulParameterLen -= 1;
        assert_eq!(
            unsafe { read_mechanism(&wrong) },
            Err(Error::MechanismParamInvalid)
        );
        let m = plain(CKM_RSA_PKCS_PSS);
        assert_eq!(
            unsafe { read_mechanism(&m) },
            Err(Error::MechanismParamInvalid)
        );
    }

    #[test]
    fn oaep_params_with_label() {
        let mut label = *b"label";
        let mut p = CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            source: CKZ_DATA_SPECIFIED,
            pSourceData: label.as_mut_ptr().cast(),
            ulSourceDataLen: 5,
        };
        let m = mech(CKM_RSA_PKCS_OAEP, &mut p);
        let d = unsafe { read_mechanism(&m) }.unwrap();
        assert_eq!(
            d.param,
            MechanismParam::Oaep {
                hash: CKM_SHA256,
                mgf: CKG_MGF1_SHA256,
                source: CKZ_DATA_SPECIFIED,
                source_data: b"label".to_vec()
            }
        );
        p.pSourceData = ptr::null_mut();
        let m = mech(CKM_RSA_PKCS_OAEP, &mut p);
        assert_eq!(
            unsafe { read_mechanism(&m) },
            Err(Error::MechanismParamInvalid)
        );
        p.ulSourceDataLen = 0;
        let m = mech(CKM_RSA_PKCS_OAEP, &mut p);
        let d = unsafe { read_mechanism(&m) }.unwrap();
        assert!(
            matches!(d.param, MechanismParam::Oaep { ref source_data, .. } if source_data.is_empty())
        );
    }

    #[test]
    fn ecdh_params() {
        let mut point = [4u8; 65];
        let mut p = CK_ECDH1_DERIVE_PARAMS {
            kdf: CKD_NULL,
            ulSharedDataLen: 0,
            pSharedData: ptr::null_mut(),
            ulPublicDataLen: 65,
            pPublicData: point.as_mut_ptr(),
        };
        let m = mech(CKM_ECDH1_DERIVE, &mut p);
        let d = unsafe { read_mechanism(&m) }.unwrap();
        assert_eq!(
            d.param,
            MechanismParam::Ecdh {
                kdf: CKD_NULL,
                shared_data: vec![],
                public_data: vec![4; 65]
            }
        );
        p.ulPublicDataLen = (MAX_PARAM_LEN + 1) as CK_ULONG;
        let m = mech(CKM_ECDH1_DERIVE, &mut p);
        assert_eq!(
            unsafe { read_mechanism(&m) },
            Err(Error::MechanismParamInvalid)
        );
    }
}
