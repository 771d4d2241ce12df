//! Host-side cryptography around the card's operations. The card does the private-key work (raw
//! RSA, ECDSA on a hash, ECDH, AES-CBC with a zero IV, CMAC); the host hashes, pads and unpads,
//! applies IVs and KDFs, and does everything a public key can do by itself (verify, encrypt).
//!
//! Primitives come from RustCrypto; what is written here are the padding schemes and
//! constructions around them (PKCS#1 v1.5, OAEP/MGF1, PKCS#7, X9.63), with the decoding of
//! anything that came out of a private-key operation done in constant time.

pub mod cbc;
pub mod ec_verify;
pub mod hash;
pub mod kdf;
pub mod oaep;
pub mod pkcs1;
pub mod rsa_public;
