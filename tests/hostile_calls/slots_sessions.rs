//! Slot, token and mechanism queries; sessions and login states.

use super::*;

pub(crate) fn slot_queries(t: &mut Tally) -> CK_SLOT_ID {
    let mut slots = [0 as CK_SLOT_ID; 4];
    let mut n: CK_ULONG = 0;
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_GetSlotList(CK_TRUE, null(), null())
    );
    expect!(t, [CKR_OK], C_GetSlotList(CK_FALSE, null(), &mut n));
    assert!(n >= 1);
    n = 0;
    expect!(
        t,
        [CKR_BUFFER_TOO_SMALL],
        C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n)
    );
    assert_eq!(n, 1, "the count needed is told");
    n = 4;
    expect!(
        t,
        [CKR_OK],
        C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n)
    );
    let slot = slots[0];
    expect!(t, [CKR_ARGUMENTS_BAD], C_GetInfo(null()));
    let mut sinfo = CK_SLOT_INFO::default();
    expect!(
        t,
        [CKR_SLOT_ID_INVALID],
        C_GetSlotInfo(BAD_SLOT, &mut sinfo)
    );
    expect!(t, [CKR_ARGUMENTS_BAD], C_GetSlotInfo(slot, null()));
    let mut tinfo = CK_TOKEN_INFO::default();
    expect!(
        t,
        [CKR_SLOT_ID_INVALID],
        C_GetTokenInfo(BAD_SLOT, &mut tinfo)
    );
    expect!(t, [CKR_ARGUMENTS_BAD], C_GetTokenInfo(slot, null()));
    expect!(
        t,
        [CKR_SLOT_ID_INVALID],
        C_GetMechanismList(BAD_SLOT, null(), &mut n)
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_GetMechanismList(slot, null(), null())
    );
    let mut one = [0 as CK_MECHANISM_TYPE; 1];
    n = 1;
    expect!(
        t,
        [CKR_BUFFER_TOO_SMALL],
        C_GetMechanismList(slot, one.as_mut_ptr(), &mut n)
    );
    assert!(n > 1, "the count needed is told");
    let mut minfo = CK_MECHANISM_INFO::default();
    expect!(
        t,
        [CKR_MECHANISM_INVALID],
        C_GetMechanismInfo(slot, BAD_MECHANISM, &mut minfo)
    );
    expect!(
        t,
        [CKR_SLOT_ID_INVALID],
        C_GetMechanismInfo(BAD_SLOT, CKM_ECDSA, &mut minfo)
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_GetMechanismInfo(slot, CKM_ECDSA, null())
    );
    let mut event_slot = 0;
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_WaitForSlotEvent(CKF_DONT_BLOCK, null(), null())
    );
    let reserved = 1u8;
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_WaitForSlotEvent(
            CKF_DONT_BLOCK,
            &mut event_slot,
            (&reserved as *const u8).cast_mut().cast()
        )
    );
    expect!(
        t,
        [CKR_NO_EVENT, CKR_OK],
        C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut event_slot, null())
    );
    let mut label = [b' '; 32];
    expect!(
        t,
        [CKR_SLOT_ID_INVALID],
        C_InitToken(BAD_SLOT, SO_PIN.as_ptr().cast_mut(), 8, label.as_mut_ptr())
    );
    slot
}

/// Session and login handling; answers (read-only session, read-write session), the latter
/// logged in as the user.
pub(crate) fn sessions(t: &mut Tally, slot: CK_SLOT_ID) -> (CK_SESSION_HANDLE, CK_SESSION_HANDLE) {
    let mut ro = 0;
    let mut rw = 0;
    expect!(
        t,
        [CKR_SESSION_PARALLEL_NOT_SUPPORTED],
        C_OpenSession(slot, 0, null(), None, &mut ro)
    );
    expect!(
        t,
        [CKR_SLOT_ID_INVALID],
        C_OpenSession(BAD_SLOT, CKF_SERIAL_SESSION, null(), None, &mut ro)
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD],
        C_OpenSession(slot, CKF_SERIAL_SESSION, null(), None, null())
    );
    // Bad session handles, while no session is open (the slot given is invalid, so that the
    // slot functions of `every_function` touch nothing).
    for bad in [0, BAD_SESSION, CK_INVALID_HANDLE, CK_ULONG::MAX] {
        every_function_with_bad_session(t, bad);
    }
    expect!(
        t,
        [CKR_OK],
        C_OpenSession(slot, CKF_SERIAL_SESSION, null(), None, &mut ro)
    );
    expect!(
        t,
        [CKR_OK],
        C_OpenSession(
            slot,
            CKF_SERIAL_SESSION | CKF_RW_SESSION,
            null(),
            None,
            &mut rw
        )
    );
    expect!(t, [CKR_SLOT_ID_INVALID], C_CloseAllSessions(BAD_SLOT));
    expect!(t, [CKR_ARGUMENTS_BAD], C_GetSessionInfo(ro, null()));
    let mut buf = [0u8; 16];
    let mut n: CK_ULONG = 16;
    expect!(
        t,
        [CKR_FUNCTION_NOT_SUPPORTED],
        C_GetOperationState(ro, buf.as_mut_ptr(), &mut n)
    );
    expect!(
        t,
        [CKR_FUNCTION_NOT_SUPPORTED, CKR_SAVED_STATE_INVALID],
        C_SetOperationState(ro, buf.as_mut_ptr(), 16, 0, 0)
    );
    expect!(t, [CKR_FUNCTION_NOT_PARALLEL], C_GetFunctionStatus(ro));
    expect!(t, [CKR_FUNCTION_NOT_PARALLEL], C_CancelFunction(ro));

    let pin = PIN.as_ptr().cast_mut();
    let pl = PIN.len() as CK_ULONG;
    expect!(t, [CKR_USER_NOT_LOGGED_IN], C_Logout(ro));
    expect!(t, [CKR_USER_TYPE_INVALID], C_Login(ro, 7, pin, pl));
    expect!(t, [CKR_ARGUMENTS_BAD], C_Login(ro, CKU_USER, null(), 6));
    expect!(
        t,
        [CKR_OPERATION_NOT_INITIALIZED, CKR_USER_NOT_LOGGED_IN],
        C_Login(ro, CKU_CONTEXT_SPECIFIC, pin, pl)
    );
    expect!(
        t,
        [CKR_SESSION_READ_ONLY_EXISTS],
        C_Login(rw, CKU_SO, SO_PIN.as_ptr().cast_mut(), 8)
    );
    expect!(t, [CKR_USER_NOT_LOGGED_IN], C_InitPIN(rw, pin, pl));
    expect!(t, [CKR_SESSION_READ_ONLY], C_SetPIN(ro, pin, pl, pin, pl));
    let mut label = [b' '; 32];
    expect!(
        t,
        [CKR_SESSION_EXISTS],
        C_InitToken(slot, SO_PIN.as_ptr().cast_mut(), 8, label.as_mut_ptr())
    );
    expect!(
        t,
        [CKR_ARGUMENTS_BAD, CKR_SESSION_EXISTS],
        C_InitToken(slot, SO_PIN.as_ptr().cast_mut(), 8, null())
    );
    // Too long and too short PINs are refused before the card is asked.
    let long = [b'1'; 40];
    expect!(
        t,
        [CKR_PIN_LEN_RANGE, CKR_PIN_INCORRECT],
        C_Login(ro, CKU_USER, long.as_ptr().cast_mut(), 40)
    );
    expect!(t, [CKR_OK], C_Login(ro, CKU_USER, pin, pl));
    expect!(
        t,
        [CKR_USER_ALREADY_LOGGED_IN],
        C_Login(rw, CKU_USER, pin, pl)
    );
    expect!(
        t,
        [CKR_USER_ANOTHER_ALREADY_LOGGED_IN],
        C_Login(rw, CKU_SO, SO_PIN.as_ptr().cast_mut(), 8)
    );
    let mut info = CK_SESSION_INFO::default();
    expect!(t, [CKR_OK], C_GetSessionInfo(rw, &mut info));
    t.check("state after login", info.state, &[CKS_RW_USER_FUNCTIONS]);
    (ro, rw)
}
