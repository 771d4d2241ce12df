//! The SmartCard-HSM: APDUs, status words, the command set, files, PKCS#15 descriptions, CV requests,
//! the DKEK key blob and share files, and the firmware profile.
