//! Moving APDU bytes: the `Transport` trait, PC/SC readers and in-process simulated devices.
