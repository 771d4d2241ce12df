//! Operations: state errors, bad mechanisms and parameters, buffers; key management.

use super::*;

pub(crate) fn signing(
    t: &mut Tally,
    rw: CK_SESSION_HANDLE,
    public: CK_OBJECT_HANDLE,
    private: CK_OBJECT_HANDLE,
) {
    let mut data = [0x5Au8; 32];
    let d = data.as_mut_ptr();
    let mut sig = [0u8; 256];
    let mut n: CK_ULONG = 256;
    let s = sig.as_mut_ptr();
    // Wrong state: no operation.
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_Sign(rw, d, 32, s, &mut n)
    );
    expect!(t, [CKR_OPERATION_NOT_INITIALIZED], C_SignUpdate(rw, d, 32));
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_SignFinal(rw, s, &mut n)
    );
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_Verify(rw, d, 32, s, 64)
    );
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_VerifyUpdate(rw, d, 32)
    );
    expect!(t, [CKR_OPERATION_NOT_INITIALIZED], C_VerifyFinal(rw, s, 64));
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_Encrypt(rw, d, 32, s, &mut n)
    );
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_EncryptUpdate(rw, d, 32, s, &mut n)
    );
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_EncryptFinal(rw, s, &mut n)
    );
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_Decrypt(rw, d, 32, s, &mut n)
    );
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_DecryptUpdate(rw, d, 32, s, &mut n)
    );
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_DecryptFinal(rw, s, &mut n)
    );
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_Digest(rw, d, 32, s, &mut n)
    );
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_DigestUpdate(rw, d, 32)
    );
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_DigestFinal(rw, s, &mut n)
    );

    // Bad init arguments.
    let mut m = mechanism(CKM_ECDSA);
    expect!(t, [CKR_ARGUMENTS_BAD], C_SignInit(rw, null(), private));
    expect!(
        t,
        [CKR_KEY_HANDLE_INVALID],
        C_SignInit(rw, &mut m, BAD_OBJECT)
    );
    expect!(t, [CKR_KEY_HANDLE_INVALID], C_SignInit(rw, &mut m, 0));
    let mut bad = mechanism(BAD_MECHANISM);
    expect!(
        t,
        [CKR_MECHANISM_INVALID],
        C_SignInit(rw, &mut bad, private)
    );
    let mut rsa = mechanism(CKM_SHA256_RSA_PKCS);
    expect!(
        t,
        [CKR_KEY_TYPE_INCONSISTENT],
        C_SignInit(rw, &mut rsa, private)
    );
    expect!(
        t,
        [CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED],
        C_SignInit(rw, &mut m, public)
    );
    let mut param = [0u8; 8];
    let mut with_param = CK_MECHANISM {
        mechanism: CKM_ECDSA,
        pParameter: param.as_mut_ptr().cast(),
        ulParameterLen: 8,
    };
    expect!(
        t,
        [CKR_MECHANISM_PARAM_INVALID],
        C_SignInit(rw, &mut with_param, private)
    );
    // PSS parameters: NULL, a wrong length, a NULL pointer with a length.
    let mut pss = mechanism(CKM_SHA256_RSA_PKCS_PSS);
    expect!(
        t,
        [CKR_MECHANISM_PARAM_INVALID, CKR_KEY_TYPE_INCONSISTENT],
        C_SignInit(rw, &mut pss, private)
    );
    pss.pParameter = param.as_mut_ptr().cast();
    pss.ulParameterLen = 3;
    expect!(
        t,
        [CKR_MECHANISM_PARAM_INVALID, CKR_KEY_TYPE_INCONSISTENT],
        C_SignInit(rw, &mut pss, private)
    );
    pss.pParameter = null();
    pss.ulParameterLen = std::mem::size_of::<CK_RSA_PKCS_PSS_PARAMS>() as _;
    expect!(
        t,
        [
            CKR_MECHANISM_PARAM_INVALID,
            CKR_ARGUMENTS_BAD,
            CKR_KEY_TYPE_INCONSISTENT
        ],
        C_SignInit(rw, &mut pss, private)
    );
    // No operation was left behind by the refused inits.
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_Sign(rw, d, 32, s, &mut n)
    );

    // One operation at a time; the size query, a short buffer, then the signature.
    expect!(t, [CKR_OK], C_SignInit(rw, &mut m, private));
    expect!(t, [CKR_OPERATION_ACTIVE], C_SignInit(rw, &mut m, private));
    // A search is another kind of operation: 2.40 lets it run beside a signature.
    expect!(t, [CKR_OK], C_FindObjectsInit(rw, null(), 0));
    expect!(t, [CKR_OK], C_FindObjectsFinal(rw));
    n = 0;
    expect!(t, [CKR_OK], C_Sign(rw, d, 32, null(), &mut n));
    assert_eq!(n, 64);
    n = 10;
    expect!(t, [CKR_BUFFER_TOO_SMALL], C_Sign(rw, d, 32, s, &mut n));
    assert_eq!(n, 64);
    n = 256;
    expect!(t, [CKR_OK], C_Sign(rw, d, 32, s, &mut n));
    assert_eq!(n, 64);
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_Sign(rw, d, 32, s, &mut n)
    );

    // Bad data arguments end the operation (2.40: C_Sign always terminates it unless it
    // answers CKR_BUFFER_TOO_SMALL or is a size query).
    expect!(t, [CKR_OK], C_SignInit(rw, &mut m, private));
    expect!(t, [CKR_ARGUMENTS_BAD], C_Sign(rw, d, 32, s, null()));
    expect!(t, [CKR_ARGUMENTS_BAD], C_Sign(rw, null(), 32, s, &mut n));
    unsafe { C_SignFinal(rw, null(), null()) };
    let _ = unsafe { C_Sign(rw, d, 32, s, &mut n) };
    // Multi-part, then the wrong finisher.
    let mut sha = mechanism(CKM_ECDSA_SHA256);
    expect!(t, [CKR_OK], C_SignInit(rw, &mut sha, private));
    expect!(t, [CKR_OK], C_SignUpdate(rw, d, 32));
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED, CKR_OPERATION_ACTIVE],
        C_Verify(rw, d, 32, s, 64)
    );
    n = 256;
    expect!(t, [CKR_OK], C_SignFinal(rw, s, &mut n));
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_SignFinal(rw, s, &mut n)
    );

    // Verify: a wrong length and a wrong signature.
    expect!(t, [CKR_OK], C_VerifyInit(rw, &mut m, public));
    expect!(
        t,
        [CKR_SIGNATURE_LEN_RANGE, CKR_SIGNATURE_INVALID],
        C_Verify(rw, d, 32, s, 7)
    );
    expect!(t, [CKR_OK], C_VerifyInit(rw, &mut m, public));
    unsafe { *s.add(5) ^= 1 };
    expect!(t, [CKR_SIGNATURE_INVALID], C_Verify(rw, d, 32, s, 64));
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_Verify(rw, d, 32, s, 64)
    );

    // Encrypt/decrypt with an EC key: the key type is wrong.
    let mut oaep = mechanism(CKM_RSA_PKCS);
    expect!(
        t,
        [CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED],
        C_EncryptInit(rw, &mut oaep, public)
    );
    expect!(
        t,
        [CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED],
        C_DecryptInit(rw, &mut oaep, private)
    );
    expect!(
        t,
        [CKR_KEY_HANDLE_INVALID],
        C_DecryptInit(rw, &mut oaep, BAD_OBJECT)
    );
    expect!(t, [CKR_ARGUMENTS_BAD], C_EncryptInit(rw, null(), public));
    // Digest: the wrong state and bad buffers.
    let mut sha256 = mechanism(CKM_SHA256);
    let rv = expect!(
        t,
        [CKR_OK, CKR_MECHANISM_INVALID],
        C_DigestInit(rw, &mut sha256)
    );
    if rv == CKR_OK {
        expect!(t, [CKR_OPERATION_ACTIVE], C_DigestInit(rw, &mut sha256));
        n = 4;
        expect!(t, [CKR_BUFFER_TOO_SMALL], C_Digest(rw, d, 32, s, &mut n));
        assert_eq!(n, 32);
        n = 64;
        expect!(t, [CKR_OK], C_Digest(rw, d, 32, s, &mut n));
    }
    expect!(
        t,
        [
            CKR_FUNCTION_NOT_SUPPORTED,
            CKR_OPERATION_NOT_INITIALIZED,
            CKR_KEY_HANDLE_INVALID
        ],
        C_DigestKey(rw, private)
    );
    // Recovery and dual functions are not offered.
    expect!(
        t,
        [CKR_FUNCTION_NOT_SUPPORTED, CKR_MECHANISM_INVALID],
        C_SignRecoverInit(rw, &mut m, private)
    );
    expect!(
        t,
        [CKR_FUNCTION_NOT_SUPPORTED, CKR_MECHANISM_INVALID],
        C_VerifyRecoverInit(rw, &mut m, public)
    );
    n = 64;
    expect!(
        t,
        [CKR_FUNCTION_NOT_SUPPORTED, CKR_OPERATION_NOT_INITIALIZED],
        C_SignEncryptUpdate(rw, d, 32, s, &mut n)
    );
}

pub(crate) fn keys(
    t: &mut Tally,
    rw: CK_SESSION_HANDLE,
    public: CK_OBJECT_HANDLE,
    private: CK_OBJECT_HANDLE,
) {
    let mut h = 0;
    let mut buf = [0u8; 512];
    let mut n: CK_ULONG = 512;
    let b = buf.as_mut_ptr();
    let mut bad = mechanism(BAD_MECHANISM);
    expect!(
        t,
        [CKR_MECHANISM_INVALID],
        C_GenerateKey(rw, &mut bad, null(), 0, &mut h)
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_GenerateKey(rw, null(), null(), 0, &mut h)
    );
    let mut aes = mechanism(CKM_AES_KEY_GEN);
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_GenerateKey(rw, &mut aes, null(), 0, null())
    );
    // An AES key of no valid length.
    let len: CK_ULONG = 17;
    let yes = CK_TRUE;
    let odd = [attribute(CKA_VALUE_LEN, &len), attribute(CKA_TOKEN, &yes)];
    expect!(
        t,
        [
            CKR_KEY_SIZE_RANGE,
            CKR_ATTRIBUTE_VALUE_INVALID,
            CKR_TEMPLATE_INCONSISTENT
        ],
        C_GenerateKey(rw, &mut aes, odd.as_ptr().cast_mut(), 2, &mut h)
    );
    // Wrap and unwrap with invalid handles and NULL lengths.
    let mut wrap = mechanism(CKM_AES_KEY_WRAP);
    expect!(
        t,
        [CKR_WRAPPING_KEY_HANDLE_INVALID, CKR_MECHANISM_INVALID],
        C_WrapKey(rw, &mut wrap, BAD_OBJECT, private, b, &mut n)
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_WrapKey(rw, &mut wrap, BAD_OBJECT, private, b, null())
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_WrapKey(rw, null(), BAD_OBJECT, private, b, &mut n)
    );
    expect!(
        t,
        [CKR_UNWRAPPING_KEY_HANDLE_INVALID, CKR_MECHANISM_INVALID],
        C_UnwrapKey(rw, &mut wrap, BAD_OBJECT, b, 40, null(), 0, &mut h)
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_UnwrapKey(rw, &mut wrap, private, null(), 40, null(), 0, &mut h)
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_UnwrapKey(rw, &mut wrap, private, b, 40, null(), 0, null())
    );
    // ECDH: no parameter, a short parameter, a bad base key.
    let mut ecdh = mechanism(CKM_ECDH1_DERIVE);
    expect!(
        t,
        [CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD],
        C_DeriveKey(rw, &mut ecdh, private, null(), 0, &mut h)
    );
    let mut short = [0u8; 3];
    ecdh.pParameter = short.as_mut_ptr().cast();
    ecdh.ulParameterLen = 3;
    expect!(
        t,
        [CKR_MECHANISM_PARAM_INVALID],
        C_DeriveKey(rw, &mut ecdh, private, null(), 0, &mut h)
    );
    let mut point = [0x04u8; 65];
    let mut params = CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_NULL,
        ulSharedDataLen: 0,
        pSharedData: null(),
        ulPublicDataLen: 65,
        pPublicData: point.as_mut_ptr(),
    };
    ecdh.pParameter = (&mut params as *mut CK_ECDH1_DERIVE_PARAMS).cast();
    ecdh.ulParameterLen = std::mem::size_of::<CK_ECDH1_DERIVE_PARAMS>() as _;
    expect!(
        t,
        [CKR_KEY_HANDLE_INVALID],
        C_DeriveKey(rw, &mut ecdh, BAD_OBJECT, null(), 0, &mut h)
    );
    // A public point of no curve (all 0x04): refused, not a panic.
    let class = CKO_SECRET_KEY;
    let generic = CKK_GENERIC_SECRET;
    let derived = [
        attribute(CKA_CLASS, &class),
        attribute(CKA_KEY_TYPE, &generic),
    ];
    expect!(
        t,
        [
            CKR_MECHANISM_PARAM_INVALID,
            CKR_ARGUMENTS_BAD,
            CKR_DEVICE_ERROR,
            CKR_FUNCTION_FAILED,
            CKR_DATA_INVALID,
            CKR_DOMAIN_PARAMS_INVALID,
            // The key was made without CKA_DERIVE.
            CKR_KEY_FUNCTION_NOT_PERMITTED
        ],
        C_DeriveKey(
            rw,
            &mut ecdh,
            private,
            derived.as_ptr().cast_mut(),
            2,
            &mut h
        )
    );
    // NULL shared data with a length.
    let p = ecdh.pParameter.cast::<CK_ECDH1_DERIVE_PARAMS>();
    unsafe {
        (*p).kdf = CKD_SHA256_KDF;
        (*p).ulSharedDataLen = 16;
    }
    expect!(
        t,
        [CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD],
        C_DeriveKey(
            rw,
            &mut ecdh,
            private,
            derived.as_ptr().cast_mut(),
            2,
            &mut h
        )
    );
    let _ = public;
    // Random.
    expect!(t, [CKR_RANDOM_SEED_NOT_SUPPORTED], C_SeedRandom(rw, b, 8));
    expect!(t, [CKR_ARGUMENTS_BAD], C_GenerateRandom(rw, null(), 8));
    expect!(t, [CKR_OK], C_GenerateRandom(rw, b, 0));
    expect!(t, [CKR_OK], C_GenerateRandom(rw, b, 512));
}
