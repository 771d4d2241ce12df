//! C_WrapKey / C_UnwrapKey under the DKEK (issue 4), through the token API over in-process
//! simulated devices: the bug #168 shim (2.6 → 3.1 with and without DKEK shares configured,
//! 3.1 → 3.1, 3.2), the real Nitrokey vector, RSA 2048/4096 / AES / P-521 round trips, refused
//! blobs that change nothing on the card. Signatures are checked with RustCrypto, not the module.

mod token_ops_common;
mod token_support;
mod wrap_common;

use std::path::Path;

use cryptoki_sys::*;
use schsm_pkcs11::token::api::{self, Error, Operation, Output};
use schsm_pkcs11::vendor::CKM_SCHSM_DKEK_WRAP;
use sha2::{Digest, Sha256};
use token_ops_common::*;
use token_support::*;
use wrap_common::*;

#[test]
fn hsm1_to_31_through_the_shim_with_shares() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let conf = conf_with_share(SHARE);
    let env = setup(&[dev("2.6"), dev("3.1")], &[SHARE, SHARE], Some(&conf));
    let (s1, s2) = (user_session(&env, 0), user_session(&env, 1));
    let (public, private) = restricted_ec(s1);
    // On 2.6 the list goes to the card.
    let src_id = sim_key_ids(&env.dirs[0])[0];
    assert_eq!(sim_key(&env.dirs[0], src_id).algorithms, vec![0x73, 0x92]);
    let point = ec_point(s1, public);

    let d1 = dkek_handle(s1);
    assert_eq!(get(s1, d1, CKA_CHECK_VALUE).len(), 8);
    assert_eq!(get(s1, d1, CKA_ID), get(s1, d1, CKA_CHECK_VALUE));
    assert!(get_bool(s1, d1, CKA_WRAP) && get_bool(s1, d1, CKA_UNWRAP));
    // The size query asks the card (WRAP KEY, C4xx, CExx); the call with the buffer does not.
    let m = mech(CKM_SCHSM_DKEK_WRAP);
    let before = apdus(&env.dirs[0]);
    let Output::Len(n) = api::wrap_key(s1, &m, d1, private, None).unwrap() else {
        panic!("size query")
    };
    let after_query = apdus(&env.dirs[0]);
    assert!(after_query > before);
    // Too small a buffer: the length again, still no card traffic.
    assert_eq!(
        api::wrap_key(s1, &m, d1, private, Some(n - 1)).unwrap(),
        Output::Len(n)
    );
    let Output::Data(envelope) = api::wrap_key(s1, &m, d1, private, Some(n)).unwrap() else {
        panic!("envelope")
    };
    assert_eq!(apdus(&env.dirs[0]), after_query, "wrapped once");
    assert_eq!(envelope.len(), n);

    let d2 = dkek_handle(s2);
    let key = unwrap(s2, d2, &envelope, &[]).unwrap();
    // No list reached the 3.1 card; the restriction lives in the description.
    let ids = sim_key_ids(&env.dirs[1]);
    assert_eq!(ids.len(), 1);
    assert!(sim_key(&env.dirs[1], ids[0]).algorithms.is_empty());
    assert_eq!(get(s2, key, CKA_LABEL), b"restricted");
    assert_eq!(
        get(s2, key, schsm_pkcs11::vendor::CKA_SCHSM_KEY_ID),
        vec![ids[0]]
    );
    assert_eq!(get(s2, key, CKA_ID), vec![0xAB, 0xCD]);
    assert_eq!(
        get(s2, key, CKA_ALLOWED_MECHANISMS),
        mechs(&[CKM_ECDSA_SHA256])
    );
    assert_eq!(
        get(s2, key, schsm_pkcs11::vendor::CKA_SCHSM_ALGORITHM_LIST),
        vec![0x73, 0x92]
    );
    let sig = sign(s2, &mech(CKM_ECDSA_SHA256), key, MESSAGE).unwrap();
    assert!(p256_verifies(&point, MESSAGE, &sig));
    assert_eq!(
        api::operation_init(s2, Operation::Sign, &mech(CKM_ECDSA), Some(key)),
        Err(Error::MechanismInvalid)
    );
    // Another process sees the same key with the same restriction.
    env.reinitialize();
    let s2 = user_session(&env, 1);
    let found = find(
        s2,
        &[class(CKO_PRIVATE_KEY), attr(CKA_ID, vec![0xAB, 0xCD])],
    );
    assert_eq!(found.len(), 1);
    assert_eq!(
        api::operation_init(s2, Operation::Sign, &mech(CKM_ECDSA), Some(found[0])),
        Err(Error::MechanismInvalid)
    );
    let sig = sign(s2, &mech(CKM_ECDSA_SHA256), found[0], MESSAGE).unwrap();
    assert!(p256_verifies(&point, MESSAGE, &sig));
}

#[test]
fn hsm1_to_31_without_shares_fails_and_changes_nothing() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("2.6"), dev("3.1")], &[SHARE, SHARE], None);
    let (s1, s2) = (user_session(&env, 0), user_session(&env, 1));
    let (_, private) = restricted_ec(s1);
    let envelope = wrap(s1, dkek_handle(s1), private).unwrap();
    let d2 = dkek_handle(s2);
    let (before, apdus_before) = (files(&env.dirs[1]), apdus(&env.dirs[1]));
    assert_eq!(unwrap(s2, d2, &envelope, &[]), Err(Error::FunctionFailed));
    assert!(sim_key_ids(&env.dirs[1]).is_empty());
    assert_eq!(files(&env.dirs[1]), before);
    assert_eq!(
        apdus(&env.dirs[1]),
        apdus_before,
        "nothing sent to the card"
    );
}

#[test]
fn v31_to_v31_needs_no_shares_and_keeps_the_restriction() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.1"), dev("3.1")], &[SHARE, SHARE], None);
    let (s1, s2) = (user_session(&env, 0), user_session(&env, 1));
    let (public, private) = restricted_ec(s1);
    let point = ec_point(s1, public);
    let src = sim_key_ids(&env.dirs[0])[0];
    assert!(
        sim_key(&env.dirs[0], src).algorithms.is_empty(),
        "no list on 3.1"
    );
    let envelope = wrap(s1, dkek_handle(s1), private).unwrap();
    let key = unwrap(s2, dkek_handle(s2), &envelope, &[]).unwrap();
    let dst = sim_key_ids(&env.dirs[1])[0];
    assert!(sim_key(&env.dirs[1], dst).algorithms.is_empty());
    assert_eq!(
        api::operation_init(s2, Operation::Sign, &mech(CKM_ECDSA), Some(key)),
        Err(Error::MechanismInvalid)
    );
    let sig = sign(s2, &mech(CKM_ECDSA_SHA256), key, MESSAGE).unwrap();
    assert!(p256_verifies(&point, MESSAGE, &sig));
}

#[test]
fn v32_keeps_the_list_on_the_card() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.2"), dev("3.2")], &[SHARE, SHARE], None);
    let (s1, s2) = (user_session(&env, 0), user_session(&env, 1));
    let (public, private) = restricted_ec(s1);
    let point = ec_point(s1, public);
    let envelope = wrap(s1, dkek_handle(s1), private).unwrap();
    let key = unwrap(s2, dkek_handle(s2), &envelope, &[]).unwrap();
    let dst = sim_key_ids(&env.dirs[1])[0];
    assert_eq!(sim_key(&env.dirs[1], dst).algorithms, vec![0x73, 0x92]);
    let sig = sign(s2, &mech(CKM_ECDSA_SHA256), key, MESSAGE).unwrap();
    assert!(p256_verifies(&point, MESSAGE, &sig));
}

#[test]
fn refused_blobs_change_nothing() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(
        &[dev("3.5"), dev("3.5"), dev("3.5")],
        &[SHARE, SHARE, OTHER_SHARE],
        None,
    );
    let (s1, s2, s3) = (
        user_session(&env, 0),
        user_session(&env, 1),
        user_session(&env, 2),
    );
    let (_, private) = ec_pair(s1, "secp256r1", &[boolean(CKA_EXTRACTABLE, true)]).unwrap();
    let envelope = wrap(s1, dkek_handle(s1), private).unwrap();

    // Another DKEK: refused on the host, before any APDU.
    let d3 = dkek_handle(s3);
    let (before, n) = (files(&env.dirs[2]), apdus(&env.dirs[2]));
    assert_eq!(
        unwrap(s3, d3, &envelope, &[]),
        Err(Error::WrappedKeyInvalid)
    );
    assert_eq!((files(&env.dirs[2]), apdus(&env.dirs[2])), (before, n));

    let d2 = dkek_handle(s2);
    let before = files(&env.dirs[1]);
    // Truncated envelope, truncated blob, tampered blob (MAC: the card refuses).
    assert!(matches!(
        unwrap(s2, d2, &envelope[..envelope.len() / 2], &[]),
        Err(Error::WrappedKeyInvalid | Error::WrappedKeyLenRange)
    ));
    let file = schsm_pkcs11::card::wrapped_file::WrappedKeyFile::decode(&envelope).unwrap();
    assert!(matches!(
        unwrap(s2, d2, &file.blob[..40], &[]),
        Err(Error::WrappedKeyInvalid | Error::WrappedKeyLenRange)
    ));
    let mut tampered = file.blob.clone();
    let last = tampered.len() - 20;
    tampered[last] ^= 1;
    assert_eq!(
        unwrap(s2, d2, &tampered, &[]),
        Err(Error::WrappedKeyInvalid)
    );
    // Template for another key type.
    assert_eq!(
        unwrap(s2, d2, &envelope, &[attr(CKA_KEY_TYPE, ulong(CKK_RSA))]),
        Err(Error::TemplateInconsistent)
    );
    assert_eq!(files(&env.dirs[1]), before);
    assert!(sim_key_ids(&env.dirs[1]).is_empty());

    // The genuine envelope still works, with label and ID from the template.
    let key = unwrap(
        s2,
        d2,
        &envelope,
        &[attr(CKA_LABEL, b"renamed".to_vec()), attr(CKA_ID, vec![7])],
    )
    .unwrap();
    assert_eq!(get(s2, key, CKA_LABEL), b"renamed");
    assert_eq!(get(s2, key, CKA_ID), vec![7]);
    // A bare blob lands with defaults.
    let bare = unwrap(s2, d2, &file.blob, &[]).unwrap();
    assert_eq!(get_ulong(s2, bare, CKA_KEY_TYPE), CKK_EC);
    sign(s2, &mech(CKM_ECDSA_SHA256), bare, MESSAGE).unwrap();
}

#[test]
fn non_extractable_and_wrong_handles() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.5")], &[SHARE], None);
    let s = user_session(&env, 0);
    let d = dkek_handle(s);
    let (public, locked) = ec_pair(
        s,
        "secp256r1",
        &[
            attr(CKA_ALLOWED_MECHANISMS, mechs(&[CKM_ECDSA])),
            boolean(CKA_EXTRACTABLE, false),
        ],
    )
    .unwrap();
    let (_, unrestricted_locked) =
        ec_pair(s, "secp256r1", &[boolean(CKA_EXTRACTABLE, false)]).unwrap();
    assert!(!get_bool(s, unrestricted_locked, CKA_EXTRACTABLE));
    assert_eq!(
        api::wrap_key(s, &mech(CKM_SCHSM_DKEK_WRAP), d, unrestricted_locked, None),
        Err(Error::KeyUnextractable)
    );
    let m = mech(CKM_SCHSM_DKEK_WRAP);
    let slot = env.slots()[0];
    assert!(api::mechanism_list(slot)
        .unwrap()
        .contains(&CKM_SCHSM_DKEK_WRAP));
    let info = api::mechanism_info(slot, CKM_SCHSM_DKEK_WRAP).unwrap();
    assert_eq!(info.flags & (CKF_WRAP | CKF_UNWRAP), CKF_WRAP | CKF_UNWRAP);
    assert_eq!(
        api::wrap_key(s, &m, d, locked, None),
        Err(Error::KeyUnextractable)
    );
    assert_eq!(
        api::wrap_key(s, &m, locked, locked, None),
        Err(Error::WrappingKeyTypeInconsistent)
    );
    assert_eq!(
        api::wrap_key(s, &m, d, public, None),
        Err(Error::KeyNotWrappable)
    );
    assert_eq!(
        api::wrap_key(s, &mech(CKM_AES_KEY_WRAP), d, locked, None),
        Err(Error::MechanismInvalid)
    );
}

#[test]
fn rsa_and_aes_round_trip() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.5"), dev("3.5")], &[SHARE, SHARE], None);
    let (s1, s2) = (user_session(&env, 0), user_session(&env, 1));
    let (d1, d2) = (dkek_handle(s1), dkek_handle(s2));

    let (rsa_pub, rsa) = rsa_pair(s1, 2048, &[boolean(CKA_EXTRACTABLE, true)]).unwrap();
    let envelope = wrap(s1, d1, rsa).unwrap();
    let moved = unwrap(s2, d2, &envelope, &[]).unwrap();
    let sig = sign(s2, &mech(CKM_SHA256_RSA_PKCS), moved, MESSAGE).unwrap();
    verify(s1, &mech(CKM_SHA256_RSA_PKCS), rsa_pub, MESSAGE, &sig).unwrap();
    assert_eq!(get(s2, moved, CKA_MODULUS), get(s1, rsa_pub, CKA_MODULUS));

    let aes_template = [
        attr(CKA_VALUE_LEN, ulong(32)),
        boolean(CKA_TOKEN, true),
        boolean(CKA_ENCRYPT, true),
        boolean(CKA_DECRYPT, true),
        boolean(CKA_EXTRACTABLE, true),
    ];
    let aes = api::generate_key(s1, &mech(CKM_AES_KEY_GEN), &aes_template).unwrap();
    let envelope = wrap(s1, d1, aes).unwrap();
    let moved = unwrap(s2, d2, &envelope, &[]).unwrap();
    assert_eq!(get_ulong(s2, moved, CKA_KEY_TYPE), CKK_AES);
    let iv = schsm_pkcs11::token::api::MechanismParam::Iv(vec![3; 16]);
    let cbc = mech_with(CKM_AES_CBC_PAD, iv);
    let ct = single(s1, Operation::Encrypt, &cbc, Some(aes), MESSAGE).unwrap();
    let pt = single(s2, Operation::Decrypt, &cbc, Some(moved), &ct).unwrap();
    assert_eq!(pt, MESSAGE);
}

#[test]
fn p521_round_trip() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.5"), dev("3.5")], &[SHARE, SHARE], None);
    let (s1, s2) = (user_session(&env, 0), user_session(&env, 1));
    let (public, key) = ec_pair(s1, "secp521r1", &[boolean(CKA_EXTRACTABLE, true)]).unwrap();
    let envelope = wrap(s1, dkek_handle(s1), key).unwrap();
    let moved = unwrap(s2, dkek_handle(s2), &envelope, &[]).unwrap();
    let sig = sign(s2, &mech(CKM_ECDSA_SHA256), moved, MESSAGE).unwrap();
    verify(s1, &mech(CKM_ECDSA_SHA256), public, MESSAGE, &sig).unwrap();
}

#[test]
fn real_nitrokey_vector() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/nitrokey-hsm2-secp256k1.wky");
    let Ok(wky) = std::fs::read(&path) else {
        eprintln!("skipped: {} absent", path.display());
        return;
    };
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let share: [u8; 32] = hex_decode(VECTOR_SHARE).try_into().unwrap();
    let env = setup(&[dev("3.5")], &[share], None);
    let s = user_session(&env, 0);
    let key = unwrap(s, dkek_handle(s), &wky, &[]).unwrap();
    assert_eq!(get(s, key, CKA_LABEL), b"btc-test");
    assert_eq!(
        hex(&get(s, key, CKA_ID)),
        "4d8b45c6b9e00aee9c677b595e7b7b72572035ed"
    );
    // The public key of the file's CV request verifies what the unwrapped key signs.
    let file = schsm_pkcs11::card::wrapped_file::WrappedKeyFile::decode(&wky).unwrap();
    let request = file.cv_request().unwrap().unwrap();
    let point = match request.inner.body.public_key {
        schsm_pkcs11::card::cvc::PublicKey::Ec { point, .. } => point,
        _ => panic!("EC request"),
    };
    let sig = sign(s, &mech(CKM_ECDSA_SHA256), key, MESSAGE).unwrap();
    use ecdsa::signature::hazmat::PrehashVerifier;
    let vk = ecdsa::VerifyingKey::<k256::Secp256k1>::from_sec1_bytes(&point).unwrap();
    let sig = ecdsa::Signature::<k256::Secp256k1>::from_slice(&sig).unwrap();
    assert!(vk
        .verify_prehash(&Sha256::digest(MESSAGE), &sig.normalize_s())
        .is_ok());
}

#[test]
fn rsa_4096_round_trip() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.5"), dev("3.5")], &[SHARE, SHARE], None);
    let (s1, s2) = (user_session(&env, 0), user_session(&env, 1));
    let (public, key) = rsa_pair(s1, 4096, &[]).unwrap();
    let envelope = wrap(s1, dkek_handle(s1), key).unwrap();
    let file = schsm_pkcs11::card::wrapped_file::WrappedKeyFile::decode(&envelope).unwrap();
    // Private-exponent form (type 5) from the card: about 1100 bytes. Inline or staged in
    // EF 2F10 depending on the device's APDU limit (card::keys::unwrap_key decides).
    assert!(file.blob.len() > 1024, "{}", file.blob.len());
    let moved = unwrap(s2, dkek_handle(s2), &envelope, &[]).unwrap();
    let sig = sign(s2, &mech(CKM_SHA256_RSA_PKCS), moved, MESSAGE).unwrap();
    verify(s1, &mech(CKM_SHA256_RSA_PKCS), public, MESSAGE, &sig).unwrap();
    // No staging file is left behind either way.
    assert!(!files(&env.dirs[1]).contains(&0x2F10));
}
