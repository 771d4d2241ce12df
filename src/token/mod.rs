//! The PKCS#11 model, card-agnostic in shape: library state, slots, sessions, objects, mechanisms.
//! Filled in by the PKCS#11 module work; nothing here yet.
