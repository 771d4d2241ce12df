//! Helpers of the crypto-operation tests (`mod token_ops_common;`, beside `mod token_support;`):
//! key generation through the API, signing/decrypting with size handling, the simulator's APDU
//! counter and a peek into the simulated key store for independent checks.
#![allow(dead_code)]

use std::path::Path;

use cryptoki_sys::*;
use schsm_pkcs11::card::curves::Curve;
use schsm_pkcs11::token::api::{self, Attribute, Mechanism, MechanismParam, Operation, Output};

use super::token_support::{attr, boolean, get, ulong};

pub fn mech(kind: CK_MECHANISM_TYPE) -> Mechanism {
    Mechanism {
        kind,
        param: MechanismParam::None,
    }
}

pub fn mech_with(kind: CK_MECHANISM_TYPE, param: MechanismParam) -> Mechanism {
    Mechanism { kind, param }
}

/// APDUs the simulated device in `dir` has processed so far.
pub fn apdus(dir: &Path) -> u64 {
    schsm_sim::state::Store::apdu_count(dir)
}

/// An EC key pair on `curve` (e.g. "secp256r1"), with extra private-template attributes.
pub fn ec_pair(
    s: CK_SESSION_HANDLE,
    curve: &str,
    extra_private: &[Attribute],
) -> api::Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
    let c = Curve::by_name(curve).expect("known curve");
    let public = [
        attr(CKA_EC_PARAMS, c.ec_params_der()),
        boolean(CKA_TOKEN, true),
    ];
    let mut private = extra_private.to_vec();
    private.push(boolean(CKA_TOKEN, true));
    if !extra_private.iter().any(|a| a.kind == CKA_SIGN) {
        private.push(boolean(CKA_SIGN, true));
    }
    api::generate_key_pair(s, &mech(CKM_EC_KEY_PAIR_GEN), &public, &private)
}

/// An RSA key pair of `bits`, signing and decrypting.
pub fn rsa_pair(
    s: CK_SESSION_HANDLE,
    bits: CK_ULONG,
    extra_private: &[Attribute],
) -> api::Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
    let public = [
        attr(CKA_MODULUS_BITS, ulong(bits)),
        boolean(CKA_TOKEN, true),
        boolean(CKA_ENCRYPT, true),
    ];
    let mut private = extra_private.to_vec();
    private.push(boolean(CKA_TOKEN, true));
    for usage in [CKA_SIGN, CKA_DECRYPT] {
        if !extra_private.iter().any(|a| a.kind == usage) {
            private.push(boolean(usage, true));
        }
    }
    api::generate_key_pair(s, &mech(CKM_RSA_PKCS_KEY_PAIR_GEN), &public, &private)
}

/// The uncompressed point of an EC public key (CKA_EC_POINT is a DER OCTET STRING).
pub fn ec_point(s: CK_SESSION_HANDLE, public: CK_OBJECT_HANDLE) -> Vec<u8> {
    let der = get(s, public, CKA_EC_POINT);
    assert_eq!(der[0], 0x04, "OCTET STRING");
    let (len, skip) = match der[1] {
        n if n < 0x80 => (usize::from(n), 2),
        0x81 => (usize::from(der[2]), 3),
        _ => panic!("unexpected length form"),
    };
    assert_eq!(der.len(), skip + len);
    der[skip..].to_vec()
}

/// Runs a whole single-part operation with a buffer of the right size.
pub fn single(
    s: CK_SESSION_HANDLE,
    op: Operation,
    m: &Mechanism,
    key: Option<CK_OBJECT_HANDLE>,
    data: &[u8],
) -> api::Result<Vec<u8>> {
    api::operation_init(s, op, m, key)?;
    let need = match api::operation_single(s, op, data, None)? {
        Output::Len(n) => n,
        Output::Data(d) => panic!("size query returned data {d:?}"),
    };
    match api::operation_single(s, op, data, Some(need))? {
        Output::Data(d) => Ok(d),
        Output::Len(n) => panic!("buffer of {need} reported too small ({n})"),
    }
}

pub fn sign(
    s: CK_SESSION_HANDLE,
    m: &Mechanism,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
) -> api::Result<Vec<u8>> {
    single(s, Operation::Sign, m, Some(key), data)
}

pub fn verify(
    s: CK_SESSION_HANDLE,
    m: &Mechanism,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    signature: &[u8],
) -> api::Result<()> {
    api::operation_init(s, Operation::Verify, m, Some(key))?;
    api::verify(s, data, signature)
}

/// Feeds `parts` through C_*Update and returns the concatenated updates and the final.
pub fn multi(
    s: CK_SESSION_HANDLE,
    op: Operation,
    m: &Mechanism,
    key: Option<CK_OBJECT_HANDLE>,
    parts: &[&[u8]],
) -> api::Result<Vec<u8>> {
    api::operation_init(s, op, m, key)?;
    let mut out = Vec::new();
    for p in parts {
        match api::operation_update(s, op, p, Some(p.len() + 64))? {
            Output::Data(d) => out.extend(d),
            Output::Len(n) => panic!("update wants {n}"),
        }
    }
    match api::operation_final(s, op, Some(1024))? {
        Output::Data(d) => out.extend(d),
        Output::Len(n) => panic!("final wants {n}"),
    }
    Ok(out)
}

/// The secret material of key `id` as the simulator stores it (tests only: an independent
/// implementation needs the key to compare with).
pub fn sim_key(dir: &Path, id: u8) -> schsm_sim::keys::Key {
    let store = schsm_sim::state::Store::open(dir).unwrap();
    store
        .load()
        .unwrap()
        .keys
        .get(&id)
        .cloned()
        .expect("key on the device")
}

/// The ids of the keys on the simulated device.
pub fn sim_key_ids(dir: &Path) -> Vec<u8> {
    let store = schsm_sim::state::Store::open(dir).unwrap();
    store.load().unwrap().keys.keys().copied().collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
