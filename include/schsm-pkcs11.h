/*
 * schsm-pkcs11: vendor-defined PKCS#11 constants of the SmartCard-HSM / Nitrokey HSM module.
 * Generated from and checked against src/vendor.rs at build time (build.rs fails the build
 * when they disagree). Include after pkcs11.h / pkcs11t.h.
 */
#ifndef SCHSM_PKCS11_H
#define SCHSM_PKCS11_H

/* C_WrapKey / C_UnwrapKey under the DKEK; wrapped form = sc-hsm-tool envelope. No parameter. */
#define CKM_SCHSM_DKEK_WRAP 0xD3480001UL
/* C_UnwrapKey of an unencrypted PKCS#8 PrivateKeyInfo with the DKEK object (module holds the DKEK). */
#define CKM_SCHSM_PKCS8_IMPORT 0xD3480002UL

/* The card's key reference (CCxx) of a key object, one byte, read-only. */
#define CKA_SCHSM_KEY_ID 0xD3480001UL
/* The card algorithm ids (P2 values, e.g. 73 92) kept in the key's PRKD algReference. */
#define CKA_SCHSM_ALGORITHM_LIST 0xD3480002UL
/* Key domain (fw >= 3.0), one byte: of a DKEK object; in a key generation template, the
 * domain the new key goes into (GENERATE tag 92). */
#define CKA_SCHSM_KEY_DOMAIN 0xD3480003UL

#endif /* SCHSM_PKCS11_H */
