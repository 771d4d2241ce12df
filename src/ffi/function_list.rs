//! The 2.40 function list and C_GetFunctionList. Every entry is filled: functions the card
//! cannot do answer CKR_FUNCTION_NOT_SUPPORTED themselves. There is no C_GetInterface: that
//! comes only with a complete 3.0 table.

use cryptoki_sys::*;

use super::general::CRYPTOKI_VERSION;
use super::marshal::{out, store};
use super::*;

/// Immutable: callers get a pointer to it and must not write through it.
static FUNCTION_LIST: CK_FUNCTION_LIST = CK_FUNCTION_LIST {
    version: CRYPTOKI_VERSION,
    C_Initialize: Some(C_Initialize),
    C_Finalize: Some(C_Finalize),
    C_GetInfo: Some(C_GetInfo),
    C_GetFunctionList: Some(C_GetFunctionList),
    C_GetSlotList: Some(C_GetSlotList),
    C_GetSlotInfo: Some(C_GetSlotInfo),
    C_GetTokenInfo: Some(C_GetTokenInfo),
    C_GetMechanismList: Some(C_GetMechanismList),
    C_GetMechanismInfo: Some(C_GetMechanismInfo),
    C_InitToken: Some(C_InitToken),
    C_InitPIN: Some(C_InitPIN),
    C_SetPIN: Some(C_SetPIN),
    C_OpenSession: Some(C_OpenSession),
    C_CloseSession: Some(C_CloseSession),
    C_CloseAllSessions: Some(C_CloseAllSessions),
    C_GetSessionInfo: Some(C_GetSessionInfo),
    C_GetOperationState: Some(C_GetOperationState),
    C_SetOperationState: Some(C_SetOperationState),
    C_Login: Some(C_Login),
    C_Logout: Some(C_Logout),
    C_CreateObject: Some(C_CreateObject),
    C_CopyObject: Some(C_CopyObject),
    C_DestroyObject: Some(C_DestroyObject),
    C_GetObjectSize: Some(C_GetObjectSize),
    C_GetAttributeValue: Some(C_GetAttributeValue),
    C_SetAttributeValue: Some(C_SetAttributeValue),
    C_FindObjectsInit: Some(C_FindObjectsInit),
    C_FindObjects: Some(C_FindObjects),
    C_FindObjectsFinal: Some(C_FindObjectsFinal),
    C_EncryptInit: Some(C_EncryptInit),
    C_Encrypt: Some(C_Encrypt),
    C_EncryptUpdate: Some(C_EncryptUpdate),
    C_EncryptFinal: Some(C_EncryptFinal),
    C_DecryptInit: Some(C_DecryptInit),
    C_Decrypt: Some(C_Decrypt),
    C_DecryptUpdate: Some(C_DecryptUpdate),
    C_DecryptFinal: Some(C_DecryptFinal),
    C_DigestInit: Some(C_DigestInit),
    C_Digest: Some(C_Digest),
    C_DigestUpdate: Some(C_DigestUpdate),
    C_DigestKey: Some(C_DigestKey),
    C_DigestFinal: Some(C_DigestFinal),
    C_SignInit: Some(C_SignInit),
    C_Sign: Some(C_Sign),
    C_SignUpdate: Some(C_SignUpdate),
    C_SignFinal: Some(C_SignFinal),
    C_SignRecoverInit: Some(C_SignRecoverInit),
    C_SignRecover: Some(C_SignRecover),
    C_VerifyInit: Some(C_VerifyInit),
    C_Verify: Some(C_Verify),
    C_VerifyUpdate: Some(C_VerifyUpdate),
    C_VerifyFinal: Some(C_VerifyFinal),
    C_VerifyRecoverInit: Some(C_VerifyRecoverInit),
    C_VerifyRecover: Some(C_VerifyRecover),
    C_DigestEncryptUpdate: Some(C_DigestEncryptUpdate),
    C_DecryptDigestUpdate: Some(C_DecryptDigestUpdate),
    C_SignEncryptUpdate: Some(C_SignEncryptUpdate),
    C_DecryptVerifyUpdate: Some(C_DecryptVerifyUpdate),
    C_GenerateKey: Some(C_GenerateKey),
    C_GenerateKeyPair: Some(C_GenerateKeyPair),
    C_WrapKey: Some(C_WrapKey),
    C_UnwrapKey: Some(C_UnwrapKey),
    C_DeriveKey: Some(C_DeriveKey),
    C_SeedRandom: Some(C_SeedRandom),
    C_GenerateRandom: Some(C_GenerateRandom),
    C_GetFunctionStatus: Some(C_GetFunctionStatus),
    C_CancelFunction: Some(C_CancelFunction),
    C_WaitForSlotEvent: Some(C_WaitForSlotEvent),
};

/// Works before C_Initialize (that is how callers find C_Initialize).
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(pp_function_list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard("C_GetFunctionList", || {
        let target = out(pp_function_list)?;
        // The C type is a mutable pointer for historical reasons; nobody writes through it.
        let list = (&FUNCTION_LIST as *const CK_FUNCTION_LIST).cast_mut();
        // SAFETY: checked out-pointer.
        unsafe { store(target, list) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;
    use std::ptr;

    const ENTRIES: usize = 68;

    #[test]
    fn function_list_is_complete_and_2_40() {
        let mut list: *mut CK_FUNCTION_LIST = ptr::null_mut();
        assert_eq!(unsafe { C_GetFunctionList(&mut list) }, CKR_OK);
        assert!(!list.is_null());
        let list = unsafe { &*list };
        assert_eq!((list.version.major, list.version.minor), (2, 40));

        // The struct is the version (padded to a pointer) followed by the 68 function pointers
        // (Option<fn> has the layout of a nullable pointer): none of them may be NULL.
        assert_eq!(
            size_of::<CK_FUNCTION_LIST>(),
            (ENTRIES + 1) * size_of::<usize>()
        );
        let words = unsafe {
            std::slice::from_raw_parts(
                (list as *const CK_FUNCTION_LIST).cast::<usize>(),
                ENTRIES + 1,
            )
        };
        for (i, &entry) in words[1..].iter().enumerate() {
            assert_ne!(entry, 0, "function list entry {i} is NULL");
        }
        assert!(list.C_WaitForSlotEvent.is_some() && list.C_Initialize.is_some());
    }

    #[test]
    fn get_function_list_null_is_arguments_bad() {
        assert_eq!(
            unsafe { C_GetFunctionList(ptr::null_mut()) },
            CKR_ARGUMENTS_BAD
        );
    }
}
