//! Every entry point at once: before C_Initialize, after C_Finalize, with bad session handles.

use super::*;

/// Every function but C_GetFunctionList, with `session`/`slot`/`object` as given (valid or not),
/// and harmless non-NULL pointers, answering `want`.
pub(crate) fn every_function(t: &mut Tally, want: CK_RV, slot: CK_SLOT_ID, s: CK_SESSION_HANDLE) {
    let o = BAD_OBJECT;
    let mut m = mechanism(CKM_ECDSA);
    let mut buf = [0u8; 64];
    let mut n: CK_ULONG;
    let mut h: CK_ULONG = 0;
    let mut h2: CK_ULONG = 0;
    let b = buf.as_mut_ptr();
    let tpl: *mut CK_ATTRIBUTE = null();
    let mut info = CK_INFO::default();
    let mut sinfo = CK_SLOT_INFO::default();
    let mut tinfo = CK_TOKEN_INFO::default();
    let mut minfo = CK_MECHANISM_INFO::default();
    let mut session_info = CK_SESSION_INFO::default();
    let mut slots = [0 as CK_SLOT_ID; 4];
    let pin = PIN.as_ptr().cast_mut();
    let pl = PIN.len() as CK_ULONG;
    let mut label = [b' '; 32];
    expect!(t, [want], C_GetInfo(&mut info));
    n = 4;
    expect!(
        t,
        [want],
        C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n)
    );
    expect!(t, [want], C_GetSlotInfo(slot, &mut sinfo));
    expect!(t, [want], C_GetTokenInfo(slot, &mut tinfo));
    n = 4;
    let mut mechs = [0 as CK_MECHANISM_TYPE; 4];
    expect!(
        t,
        [want],
        C_GetMechanismList(slot, mechs.as_mut_ptr(), &mut n)
    );
    expect!(t, [want], C_GetMechanismInfo(slot, CKM_ECDSA, &mut minfo));
    expect!(t, [want], C_InitToken(slot, pin, pl, label.as_mut_ptr()));
    expect!(t, [want], C_InitPIN(s, pin, pl));
    expect!(t, [want], C_SetPIN(s, pin, pl, pin, pl));
    expect!(
        t,
        [want],
        C_OpenSession(slot, CKF_SERIAL_SESSION, null(), None, &mut h)
    );
    expect!(t, [want], C_CloseSession(s));
    expect!(t, [want], C_CloseAllSessions(slot));
    expect!(t, [want], C_GetSessionInfo(s, &mut session_info));
    n = 64;
    expect!(t, [want], C_GetOperationState(s, b, &mut n));
    expect!(t, [want], C_SetOperationState(s, b, 8, 0, 0));
    expect!(t, [want], C_Login(s, CKU_USER, pin, pl));
    expect!(t, [want], C_Logout(s));
    expect!(t, [want], C_CreateObject(s, tpl, 0, &mut h));
    expect!(t, [want], C_CopyObject(s, o, tpl, 0, &mut h));
    expect!(t, [want], C_DestroyObject(s, o));
    expect!(t, [want], C_GetObjectSize(s, o, &mut n));
    expect!(t, [want], C_GetAttributeValue(s, o, tpl, 0));
    expect!(t, [want], C_SetAttributeValue(s, o, tpl, 0));
    expect!(t, [want], C_FindObjectsInit(s, tpl, 0));
    expect!(t, [want], C_FindObjects(s, &mut h, 1, &mut n));
    expect!(t, [want], C_FindObjectsFinal(s));
    n = 64;
    expect!(t, [want], C_EncryptInit(s, &mut m, o));
    expect!(t, [want], C_Encrypt(s, b, 8, b, &mut n));
    expect!(t, [want], C_EncryptUpdate(s, b, 8, b, &mut n));
    expect!(t, [want], C_EncryptFinal(s, b, &mut n));
    expect!(t, [want], C_DecryptInit(s, &mut m, o));
    expect!(t, [want], C_Decrypt(s, b, 8, b, &mut n));
    expect!(t, [want], C_DecryptUpdate(s, b, 8, b, &mut n));
    expect!(t, [want], C_DecryptFinal(s, b, &mut n));
    expect!(t, [want], C_DigestInit(s, &mut m));
    expect!(t, [want], C_Digest(s, b, 8, b, &mut n));
    expect!(t, [want], C_DigestUpdate(s, b, 8));
    expect!(t, [want], C_DigestKey(s, o));
    expect!(t, [want], C_DigestFinal(s, b, &mut n));
    expect!(t, [want], C_SignInit(s, &mut m, o));
    expect!(t, [want], C_Sign(s, b, 8, b, &mut n));
    expect!(t, [want], C_SignUpdate(s, b, 8));
    expect!(t, [want], C_SignFinal(s, b, &mut n));
    expect!(t, [want], C_SignRecoverInit(s, &mut m, o));
    expect!(t, [want], C_SignRecover(s, b, 8, b, &mut n));
    expect!(t, [want], C_VerifyInit(s, &mut m, o));
    expect!(t, [want], C_Verify(s, b, 8, b, 8));
    expect!(t, [want], C_VerifyUpdate(s, b, 8));
    expect!(t, [want], C_VerifyFinal(s, b, 8));
    expect!(t, [want], C_VerifyRecoverInit(s, &mut m, o));
    expect!(t, [want], C_VerifyRecover(s, b, 8, b, &mut n));
    expect!(t, [want], C_DigestEncryptUpdate(s, b, 8, b, &mut n));
    expect!(t, [want], C_DecryptDigestUpdate(s, b, 8, b, &mut n));
    expect!(t, [want], C_SignEncryptUpdate(s, b, 8, b, &mut n));
    expect!(t, [want], C_DecryptVerifyUpdate(s, b, 8, b, &mut n));
    expect!(t, [want], C_GenerateKey(s, &mut m, tpl, 0, &mut h));
    expect!(
        t,
        [want],
        C_GenerateKeyPair(s, &mut m, tpl, 0, tpl, 0, &mut h, &mut h2)
    );
    expect!(t, [want], C_WrapKey(s, &mut m, o, o, b, &mut n));
    expect!(t, [want], C_UnwrapKey(s, &mut m, o, b, 8, tpl, 0, &mut h));
    expect!(t, [want], C_DeriveKey(s, &mut m, o, tpl, 0, &mut h));
    expect!(t, [want], C_SeedRandom(s, b, 8));
    expect!(t, [want], C_GenerateRandom(s, b, 8));
    expect!(t, [want], C_GetFunctionStatus(s));
    expect!(t, [want], C_CancelFunction(s));
    let mut event_slot = 0;
    expect!(
        t,
        [want],
        C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut event_slot, null())
    );
}

pub(crate) fn every_function_with_bad_session(t: &mut Tally, s: CK_SESSION_HANDLE) {
    // Only the session functions: the slot ones are valid here and are tested elsewhere.
    let mut sub = Tally::default();
    every_function(&mut sub, CKR_SESSION_HANDLE_INVALID, BAD_SLOT, s);
    t.calls += sub.calls;
    let session_free = [
        "C_GetInfo",
        "C_GetSlotList", // takes no slot: answers CKR_OK
        "C_GetSlotInfo",
        "C_GetTokenInfo",
        "C_GetMechanismList",
        "C_GetMechanismInfo",
        "C_InitToken",
        "C_OpenSession",
        "C_CloseAllSessions",
        "C_WaitForSlotEvent",
    ];
    // C_GetFunctionStatus/C_CancelFunction are legacy: CKR_FUNCTION_NOT_PARALLEL is allowed.
    let legacy = ["C_GetFunctionStatus", "C_CancelFunction"];
    for w in sub.wrong {
        let name = w.split('(').next().unwrap_or("");
        if session_free.contains(&name) {
            let slotless = ["C_GetInfo", "C_GetSlotList", "C_WaitForSlotEvent"];
            if !w.contains("got 0x3,") && !slotless.contains(&name) {
                t.wrong.push(format!("bad slot: {w}"));
            }
            continue;
        }
        if legacy.contains(&name) && w.contains("got 0x51,") {
            continue;
        }
        // 2.40 allows CKR_FUNCTION_NOT_SUPPORTED from a function the module does not offer,
        // whatever its arguments.
        if w.contains("got 0x54,") {
            continue;
        }
        t.wrong.push(format!("session {s:#x}: {w}"));
    }
}
