//! The C ABI: every C_* entry point, pointer and length checks, the panic guard, Result -> CK_RV.
//! Filled in by the PKCS#11 module work; nothing here yet.
