//! Object creation, attributes and search; key-pair generation templates.

use super::*;

pub(crate) fn objects(t: &mut Tally, ro: CK_SESSION_HANDLE, rw: CK_SESSION_HANDLE) {
    let mut h = 0;
    let class = CKO_DATA;
    let yes = CK_TRUE;
    let label = *b"hostile";
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_CreateObject(rw, null(), 2, &mut h)
    );
    let template = [attribute(CKA_CLASS, &class), attribute(CKA_LABEL, &label)];
    let tp = template.as_ptr().cast_mut();
    expect!(t, [CKR_ARGUMENTS_BAD], C_CreateObject(rw, tp, 2, null()));
    let no_class = [attribute(CKA_LABEL, &label)];
    expect!(
        t,
        [CKR_TEMPLATE_INCOMPLETE],
        C_CreateObject(rw, no_class.as_ptr().cast_mut(), 1, &mut h)
    );
    let unknown = [attribute(CKA_CLASS, &class), attribute(0x0EEE_EEEE, &yes)];
    expect!(
        t,
        [CKR_ATTRIBUTE_TYPE_INVALID],
        C_CreateObject(rw, unknown.as_ptr().cast_mut(), 2, &mut h)
    );
    let short_class = [CK_ATTRIBUTE {
        type_: CKA_CLASS,
        pValue: (&class as *const CK_ULONG).cast_mut().cast(),
        ulValueLen: 1,
    }];
    expect!(
        t,
        [CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT],
        C_CreateObject(rw, short_class.as_ptr().cast_mut(), 1, &mut h)
    );
    let null_value = [
        attribute(CKA_CLASS, &class),
        CK_ATTRIBUTE {
            type_: CKA_LABEL,
            pValue: null(),
            ulValueLen: 5,
        },
    ];
    expect!(
        t,
        [CKR_ARGUMENTS_BAD, CKR_ATTRIBUTE_VALUE_INVALID],
        C_CreateObject(rw, null_value.as_ptr().cast_mut(), 2, &mut h)
    );
    let bad_bool = [
        attribute(CKA_CLASS, &class),
        attribute(CKA_TOKEN, &class), // a CK_ULONG where a CK_BBOOL is due
    ];
    expect!(
        t,
        [CKR_ATTRIBUTE_VALUE_INVALID],
        C_CreateObject(rw, bad_bool.as_ptr().cast_mut(), 2, &mut h)
    );
    let on_token = [
        attribute(CKA_CLASS, &class),
        attribute(CKA_TOKEN, &yes),
        attribute(CKA_LABEL, &label),
    ];
    expect!(
        t,
        [CKR_SESSION_READ_ONLY],
        C_CreateObject(ro, on_token.as_ptr().cast_mut(), 3, &mut h)
    );
    expect!(t, [CKR_OK], C_CreateObject(rw, tp, 2, &mut h));
    let object = h;

    for bad in [0, BAD_OBJECT] {
        let mut n = 0;
        let mut copy = 0;
        expect!(
            t,
            // The module offers no copy; 2.40 allows CKR_FUNCTION_NOT_SUPPORTED.
            [CKR_OBJECT_HANDLE_INVALID, CKR_FUNCTION_NOT_SUPPORTED],
            C_CopyObject(rw, bad, null(), 0, &mut copy)
        );
        expect!(t, [CKR_OBJECT_HANDLE_INVALID], C_DestroyObject(rw, bad));
        expect!(
            t,
            [CKR_OBJECT_HANDLE_INVALID],
            C_GetObjectSize(rw, bad, &mut n)
        );
        let mut get = [CK_ATTRIBUTE {
            type_: CKA_LABEL,
            pValue: null(),
            ulValueLen: 0,
        }];
        expect!(
            t,
            [CKR_OBJECT_HANDLE_INVALID],
            C_GetAttributeValue(rw, bad, get.as_mut_ptr(), 1)
        );
        expect!(
            t,
            [CKR_OBJECT_HANDLE_INVALID],
            C_SetAttributeValue(rw, bad, template.as_ptr().cast_mut().add(1), 1)
        );
    }
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_GetAttributeValue(rw, object, null(), 1)
    );
    expect!(t, [CKR_ARGUMENTS_BAD], C_GetObjectSize(rw, object, null()));
    let mut small = [0u8; 2];
    let mut get = [
        CK_ATTRIBUTE {
            type_: CKA_LABEL,
            pValue: small.as_mut_ptr().cast(),
            ulValueLen: 2,
        },
        CK_ATTRIBUTE {
            type_: 0x0EEE_EEEE,
            pValue: null(),
            ulValueLen: 0,
        },
    ];
    let rv = expect!(
        t,
        [CKR_BUFFER_TOO_SMALL, CKR_ATTRIBUTE_TYPE_INVALID],
        C_GetAttributeValue(rw, object, get.as_mut_ptr(), 2)
    );
    let _ = rv;
    t.check(
        "too-small entry answered CK_UNAVAILABLE_INFORMATION",
        if get[0].ulValueLen == CK_UNAVAILABLE_INFORMATION
            && get[1].ulValueLen == CK_UNAVAILABLE_INFORMATION
        {
            CKR_OK
        } else {
            CKR_GENERAL_ERROR
        },
        &[CKR_OK],
    );
    // CKA_CLASS cannot be changed.
    let certificate = CKO_CERTIFICATE;
    let other_class = [attribute(CKA_CLASS, &certificate)];
    expect!(
        t,
        [
            CKR_ATTRIBUTE_READ_ONLY,
            CKR_ATTRIBUTE_VALUE_INVALID,
            CKR_ACTION_PROHIBITED
        ],
        C_SetAttributeValue(rw, object, other_class.as_ptr().cast_mut(), 1)
    );
    expect!(
        t,
        [CKR_ATTRIBUTE_TYPE_INVALID],
        C_SetAttributeValue(rw, object, unknown.as_ptr().cast_mut().add(1), 1)
    );

    // Find: wrong state and bad pointers.
    let mut found = [0 as CK_OBJECT_HANDLE; 4];
    let mut n: CK_ULONG = 0;
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED],
        C_FindObjects(rw, found.as_mut_ptr(), 4, &mut n)
    );
    expect!(t, [CKR_OPERATION_NOT_INITIALIZED], C_FindObjectsFinal(rw));
    expect!(t, [CKR_ARGUMENTS_BAD], C_FindObjectsInit(rw, null(), 1));
    expect!(t, [CKR_OK], C_FindObjectsInit(rw, null(), 0));
    expect!(t, [CKR_OPERATION_ACTIVE], C_FindObjectsInit(rw, null(), 0));
    expect!(t, [CKR_ARGUMENTS_BAD], C_FindObjects(rw, null(), 4, &mut n));
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_FindObjects(rw, found.as_mut_ptr(), 4, null())
    );
    expect!(
        t,
        [CKR_OK],
        C_FindObjects(rw, found.as_mut_ptr(), 4, &mut n)
    );
    expect!(t, [CKR_OK], C_FindObjectsFinal(rw));
    expect!(t, [CKR_OPERATION_NOT_INITIALIZED], C_FindObjectsFinal(rw));
    // A find template with an unknown attribute matches nothing, it is no error.
    expect!(
        t,
        [CKR_OK, CKR_ATTRIBUTE_TYPE_INVALID],
        C_FindObjectsInit(rw, unknown.as_ptr().cast_mut(), 2)
    );
    unsafe { C_FindObjectsFinal(rw) };
    expect!(t, [CKR_OK], C_DestroyObject(rw, object));
    expect!(t, [CKR_OBJECT_HANDLE_INVALID], C_DestroyObject(rw, object));
}

/// Generates a P-256 key pair with the user logged in on `rw`: (public, private).
pub(crate) fn key_pair(
    t: &mut Tally,
    ro: CK_SESSION_HANDLE,
    rw: CK_SESSION_HANDLE,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let (yes, no) = (CK_TRUE, CK_FALSE);
    let id = *b"hostile";
    let public = [
        attribute(CKA_EC_PARAMS, &P256),
        attribute(CKA_TOKEN, &yes),
        attribute(CKA_VERIFY, &yes),
    ];
    let private = [
        attribute(CKA_TOKEN, &yes),
        attribute(CKA_PRIVATE, &yes),
        attribute(CKA_SENSITIVE, &yes),
        attribute(CKA_EXTRACTABLE, &no),
        attribute(CKA_SIGN, &yes),
        attribute(CKA_ID, &id),
    ];
    let (pp, pr) = (public.as_ptr().cast_mut(), private.as_ptr().cast_mut());
    let mut m = mechanism(CKM_EC_KEY_PAIR_GEN);
    let (mut pubh, mut privh) = (0, 0);
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_GenerateKeyPair(rw, null(), pp, 3, pr, 6, &mut pubh, &mut privh)
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_GenerateKeyPair(rw, &mut m, pp, 3, pr, 6, null(), &mut privh)
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_GenerateKeyPair(rw, &mut m, null(), 3, pr, 6, &mut pubh, &mut privh)
    );
    let mut bad = mechanism(BAD_MECHANISM);
    expect!(
        t,
        [CKR_MECHANISM_INVALID],
        C_GenerateKeyPair(rw, &mut bad, pp, 3, pr, 6, &mut pubh, &mut privh)
    );
    expect!(
        t,
        [CKR_SESSION_READ_ONLY],
        C_GenerateKeyPair(ro, &mut m, pp, 3, pr, 6, &mut pubh, &mut privh)
    );
    // No curve.
    expect!(
        t,
        [CKR_TEMPLATE_INCOMPLETE],
        C_GenerateKeyPair(
            rw,
            &mut m,
            pp.wrapping_add(1),
            2,
            pr,
            6,
            &mut pubh,
            &mut privh
        )
    );
    // A curve that is no OID, and an OID of no curve.
    for params in [
        &[0x04u8, 0x02, 0x01, 0x02][..],
        &[0x06, 0x03, 0x2A, 0x03, 0x04],
        &[0x06, 0x20],
    ] {
        let public = [
            CK_ATTRIBUTE {
                type_: CKA_EC_PARAMS,
                pValue: params.as_ptr().cast_mut().cast(),
                ulValueLen: params.len() as _,
            },
            attribute(CKA_TOKEN, &yes),
        ];
        expect!(
            t,
            [
                CKR_CURVE_NOT_SUPPORTED,
                CKR_DOMAIN_PARAMS_INVALID,
                CKR_ATTRIBUTE_VALUE_INVALID
            ],
            C_GenerateKeyPair(
                rw,
                &mut m,
                public.as_ptr().cast_mut(),
                2,
                pr,
                6,
                &mut pubh,
                &mut privh
            )
        );
    }
    // A public-key class in the private template.
    let public_class = CKO_PUBLIC_KEY;
    let inconsistent = [
        attribute(CKA_CLASS, &public_class),
        attribute(CKA_TOKEN, &yes),
    ];
    expect!(
        t,
        [CKR_TEMPLATE_INCONSISTENT, CKR_ATTRIBUTE_VALUE_INVALID],
        C_GenerateKeyPair(
            rw,
            &mut m,
            pp,
            3,
            inconsistent.as_ptr().cast_mut(),
            2,
            &mut pubh,
            &mut privh
        )
    );
    let unknown = [attribute(0x0EEE_EEEE, &yes)];
    expect!(
        t,
        [CKR_ATTRIBUTE_TYPE_INVALID],
        C_GenerateKeyPair(
            rw,
            &mut m,
            pp,
            3,
            unknown.as_ptr().cast_mut(),
            1,
            &mut pubh,
            &mut privh
        )
    );
    // A parameter where the mechanism takes none.
    let mut param = [0u8; 4];
    let mut with_param = CK_MECHANISM {
        mechanism: CKM_EC_KEY_PAIR_GEN,
        pParameter: param.as_mut_ptr().cast(),
        ulParameterLen: 4,
    };
    expect!(
        t,
        [CKR_MECHANISM_PARAM_INVALID],
        C_GenerateKeyPair(rw, &mut with_param, pp, 3, pr, 6, &mut pubh, &mut privh)
    );
    expect!(
        t,
        [CKR_OK],
        C_GenerateKeyPair(rw, &mut m, pp, 3, pr, 6, &mut pubh, &mut privh)
    );
    (pubh, privh)
}
