//! EC through the token API over simulated devices: key pair generation on every curve family,
//! every ECDSA mechanism checked by an independent RustCrypto verifier, C_Verify, sizes and the
//! card asked once, multi-part, restrictions (CKA_ALLOWED_MECHANISMS, usage, key type, #168),
//! ECDH against p256's own ECDH, template label/ID.

mod token_ops_common;
mod token_support;

use cryptoki_sys::*;
use schsm_pkcs11::card::curves::Curve;
use schsm_pkcs11::token::api::{self, Error, MechanismParam, Operation, Output};
use schsm_pkcs11::token::keygen::derive;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use token_ops_common::*;
use token_support::*;

const MESSAGE: &[u8] = b"The quick brown fox jumps over the lazy dog";

/// The hash a mechanism signs, computed independently.
fn hash_for(m: CK_MECHANISM_TYPE, msg: &[u8]) -> Vec<u8> {
    match m {
        CKM_ECDSA_SHA1 => Sha1::digest(msg).to_vec(),
        CKM_ECDSA_SHA224 => Sha224::digest(msg).to_vec(),
        CKM_ECDSA_SHA384 => Sha384::digest(msg).to_vec(),
        CKM_ECDSA_SHA512 => Sha512::digest(msg).to_vec(),
        _ => Sha256::digest(msg).to_vec(),
    }
}

/// Independent ECDSA verification with the curve's own crate.
fn independent_verify(curve: &str, point: &[u8], hash: &[u8], sig: &[u8]) -> bool {
    use ecdsa::signature::hazmat::PrehashVerifier;
    macro_rules! on {
        ($C:ty) => {{
            let vk = ecdsa::VerifyingKey::<$C>::from_sec1_bytes(point).unwrap();
            let sig = ecdsa::Signature::<$C>::from_slice(sig).unwrap();
            // secp256k1's crate insists on low s; the card does not normalise.
            vk.verify_prehash(hash, &sig.normalize_s()).is_ok()
        }};
    }
    match curve {
        "secp256r1" => on!(p256::NistP256),
        "secp384r1" => on!(p384::NistP384),
        "secp521r1" => on!(p521::NistP521),
        "secp256k1" => on!(k256::Secp256k1),
        "brainpoolP256r1" => on!(bp256::BrainpoolP256r1),
        other => panic!("no independent verifier for {other}"),
    }
}

const ECDSA_MECHS: [CK_MECHANISM_TYPE; 6] = [
    CKM_ECDSA,
    CKM_ECDSA_SHA1,
    CKM_ECDSA_SHA224,
    CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA512,
];

#[test]
fn every_curve_and_every_ecdsa_mechanism() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    for curve in [
        "secp256r1",
        "secp384r1",
        "secp521r1",
        "secp256k1",
        "brainpoolP256r1",
    ] {
        let (public, private) = ec_pair(s, curve, &[]).unwrap();
        let point = ec_point(s, public);
        let c = Curve::by_name(curve).unwrap();
        assert_eq!(point.len(), c.point_len(), "{curve}");
        assert_eq!(get(s, public, CKA_EC_PARAMS), c.ec_params_der());
        // OpenSC's default CKA_ID: SHA-1 of X, on both objects.
        let x = &point[1..1 + c.field_bytes];
        assert_eq!(get(s, private, CKA_ID), Sha1::digest(x).to_vec(), "{curve}");
        assert_eq!(get(s, public, CKA_ID), get(s, private, CKA_ID));

        for m in ECDSA_MECHS {
            let data = if m == CKM_ECDSA {
                hash_for(m, MESSAGE)
            } else {
                MESSAGE.to_vec()
            };
            let sig = sign(s, &mech(m), private, &data).unwrap();
            assert_eq!(sig.len(), 2 * c.field_bytes, "{curve} {m:#x}");
            let hash = hash_for(m, MESSAGE);
            assert!(
                independent_verify(curve, &point, &hash, &sig),
                "{curve} mechanism {m:#x}"
            );
            verify(s, &mech(m), public, &data, &sig).unwrap();
            let mut flipped = sig.clone();
            flipped[sig.len() / 3] ^= 0x01;
            assert_eq!(
                verify(s, &mech(m), public, &data, &flipped),
                Err(Error::SignatureInvalid),
                "{curve} {m:#x}"
            );
        }
        // The private key verifies with its public part too; a short signature is a length error.
        let sig = sign(s, &mech(CKM_ECDSA_SHA256), private, MESSAGE).unwrap();
        verify(s, &mech(CKM_ECDSA_SHA256), private, MESSAGE, &sig).unwrap();
        assert_eq!(
            verify(s, &mech(CKM_ECDSA_SHA256), public, MESSAGE, &sig[1..]),
            Err(Error::SignatureLenRange)
        );
    }
}

#[test]
fn size_queries_and_short_buffers_do_not_touch_the_card() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let (public, private) = ec_pair(s, "secp256r1", &[]).unwrap();
    let dir = &env.dirs[0];

    api::operation_init(s, Operation::Sign, &mech(CKM_ECDSA_SHA256), Some(private)).unwrap();
    let before = apdus(dir);
    assert_eq!(
        api::operation_single(s, Operation::Sign, MESSAGE, None),
        Ok(Output::Len(64))
    );
    assert_eq!(
        api::operation_single(s, Operation::Sign, MESSAGE, Some(63)),
        Ok(Output::Len(64))
    );
    assert_eq!(apdus(dir), before, "no APDU for size answers");
    let Ok(Output::Data(sig)) = api::operation_single(s, Operation::Sign, MESSAGE, Some(200))
    else {
        panic!("no signature")
    };
    assert_eq!(apdus(dir), before + 1, "one SIGN");
    assert_eq!(sig.len(), 64);
    // Delivered: the operation is over.
    assert_eq!(
        api::operation_single(s, Operation::Sign, MESSAGE, Some(64)),
        Err(Error::OperationNotInitialized)
    );
    verify(s, &mech(CKM_ECDSA_SHA256), public, MESSAGE, &sig).unwrap();

    // One operation per kind: a second init is refused, the first one stays usable.
    api::operation_init(s, Operation::Sign, &mech(CKM_ECDSA), Some(private)).unwrap();
    assert_eq!(
        api::operation_init(s, Operation::Sign, &mech(CKM_ECDSA), Some(private)),
        Err(Error::OperationActive)
    );
    let hash = Sha256::digest(MESSAGE).to_vec();
    assert!(matches!(
        api::operation_single(s, Operation::Sign, &hash, Some(64)),
        Ok(Output::Data(_))
    ));
}

#[test]
fn multi_part_sign_and_verify() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let (public, private) = ec_pair(s, "secp384r1", &[]).unwrap();
    let parts: [&[u8]; 3] = [&MESSAGE[..10], &MESSAGE[10..11], &MESSAGE[11..]];
    let sig = multi(
        s,
        Operation::Sign,
        &mech(CKM_ECDSA_SHA384),
        Some(private),
        &parts,
    )
    .unwrap();
    assert_eq!(sig.len(), 96);
    verify(s, &mech(CKM_ECDSA_SHA384), public, MESSAGE, &sig).unwrap();
    api::operation_init(s, Operation::Verify, &mech(CKM_ECDSA_SHA384), Some(public)).unwrap();
    for p in parts {
        api::operation_update(s, Operation::Verify, p, None).unwrap();
    }
    api::verify_final(s, &sig).unwrap();

    // After an update the single-part call is refused and the operation goes on.
    api::operation_init(s, Operation::Sign, &mech(CKM_ECDSA_SHA384), Some(private)).unwrap();
    api::operation_update(s, Operation::Sign, MESSAGE, None).unwrap();
    assert_eq!(
        api::operation_single(s, Operation::Sign, MESSAGE, Some(96)),
        Err(Error::OperationActive)
    );
    let Ok(Output::Data(sig)) = api::operation_final(s, Operation::Sign, Some(96)) else {
        panic!("final")
    };
    verify(s, &mech(CKM_ECDSA_SHA384), public, MESSAGE, &sig).unwrap();
    // A failed verification ends the operation too.
    api::operation_init(s, Operation::Verify, &mech(CKM_ECDSA_SHA384), Some(public)).unwrap();
    assert_eq!(api::verify(s, b"other", &sig), Err(Error::SignatureInvalid));
    assert_eq!(
        api::verify(s, MESSAGE, &sig),
        Err(Error::OperationNotInitialized)
    );
}

#[test]
fn restrictions_are_checked_at_init() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let only_sha256 = attr(CKA_ALLOWED_MECHANISMS, mechs(&[CKM_ECDSA_SHA256]));
    let (_, restricted) = ec_pair(
        s,
        "secp256r1",
        &[only_sha256.clone(), boolean(CKA_EXTRACTABLE, false)],
    )
    .unwrap();
    sign(s, &mech(CKM_ECDSA_SHA256), restricted, MESSAGE).unwrap();
    assert_eq!(
        api::operation_init(s, Operation::Sign, &mech(CKM_ECDSA), Some(restricted)),
        Err(Error::MechanismInvalid)
    );
    assert_eq!(
        api::get_attributes(s, restricted, &[CKA_ALLOWED_MECHANISMS]).unwrap()[0],
        api::AttributeValue::Value(mechs(&[CKM_ECDSA_SHA256]))
    );
    // The card got the list of card algorithms: ECDSA with SHA-256 on the card (73) only, so
    // the module sent the whole message with P2 73.
    let ids = sim_key_ids(&env.dirs[0]);
    assert_eq!(sim_key(&env.dirs[0], ids[0]).algorithms, vec![0x73]);
    // Extractable adds WRAP (92); unrestricted keys get no list.
    ec_pair(
        s,
        "secp256r1",
        &[only_sha256, boolean(CKA_EXTRACTABLE, true)],
    )
    .unwrap();
    let (_, free) = ec_pair(s, "secp256r1", &[boolean(CKA_EXTRACTABLE, true)]).unwrap();
    let ids = sim_key_ids(&env.dirs[0]);
    assert_eq!(sim_key(&env.dirs[0], ids[1]).algorithms, vec![0x73, 0x92]);
    assert!(sim_key(&env.dirs[0], ids[2]).algorithms.is_empty());

    // A key that may not sign, a mechanism of the other family, a missing key.
    let (_, no_sign) = ec_pair(s, "secp256r1", &[boolean(CKA_SIGN, false)]).unwrap();
    assert_eq!(
        api::operation_init(s, Operation::Sign, &mech(CKM_ECDSA), Some(no_sign)),
        Err(Error::KeyFunctionNotPermitted)
    );
    assert_eq!(
        api::operation_init(s, Operation::Sign, &mech(CKM_SHA256_RSA_PKCS), Some(free)),
        Err(Error::KeyTypeInconsistent)
    );
    assert_eq!(
        api::operation_init(s, Operation::Sign, &mech(CKM_ECDSA), Some(0xDEAD)),
        Err(Error::KeyHandleInvalid)
    );
    assert_eq!(
        api::operation_init(s, Operation::Sign, &mech(CKM_MD5), Some(free)),
        Err(Error::MechanismInvalid)
    );
    // Decrypting with an EC mechanism-less key: no such mechanism for decryption.
    assert_eq!(
        api::operation_init(s, Operation::Decrypt, &mech(CKM_ECDSA), Some(free)),
        Err(Error::MechanismInvalid)
    );
}

fn mechs(list: &[CK_MECHANISM_TYPE]) -> Vec<u8> {
    list.iter().flat_map(|m| m.to_ne_bytes()).collect()
}

#[test]
fn firmware_3_1_keeps_the_restriction_of_extractable_keys_on_the_host() {
    let env = Env::new(&[Dev {
        firmware: "3.1",
        ..HSM
    }]);
    let s = env.user_session();
    let only = attr(CKA_ALLOWED_MECHANISMS, mechs(&[CKM_ECDSA_SHA256]));
    let (_, exportable) = ec_pair(
        s,
        "secp256r1",
        &[only.clone(), boolean(CKA_EXTRACTABLE, true)],
    )
    .unwrap();
    ec_pair(s, "secp256r1", &[only, boolean(CKA_EXTRACTABLE, false)]).unwrap();
    let exportable_id = get(s, exportable, CKA_ID);
    let ids = sim_key_ids(&env.dirs[0]);
    // Bug #168: no list for the exportable key (its blob must unwrap on 3.1); the other has one.
    assert!(sim_key(&env.dirs[0], ids[0]).algorithms.is_empty());
    assert_eq!(sim_key(&env.dirs[0], ids[1]).algorithms, vec![0x73]);
    // The module enforces it, also after a restart (kept beside the key).
    env.reinitialize();
    let s = env.user_session();
    let exportable_again = find(s, &[class(CKO_PRIVATE_KEY), attr(CKA_ID, exportable_id)]);
    assert_eq!(exportable_again.len(), 1);
    assert_eq!(
        api::operation_init(
            s,
            Operation::Sign,
            &mech(CKM_ECDSA),
            Some(exportable_again[0])
        ),
        Err(Error::MechanismInvalid)
    );
    sign(s, &mech(CKM_ECDSA_SHA256), exportable_again[0], MESSAGE).unwrap();
}

#[test]
fn hsm1_has_no_p384() {
    let env = Env::new(&[Dev {
        firmware: "2.6",
        ..HSM
    }]);
    let s = env.user_session();
    assert_eq!(
        ec_pair(s, "secp384r1", &[]).unwrap_err(),
        Error::CurveNotSupported
    );
    let (public, private) = ec_pair(s, "brainpoolP256r1", &[]).unwrap();
    let sig = sign(s, &mech(CKM_ECDSA_SHA512), private, MESSAGE).unwrap();
    verify(s, &mech(CKM_ECDSA_SHA512), public, MESSAGE, &sig).unwrap();
}

#[test]
fn template_label_and_id_are_findable_and_settable() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let extra = [attr(CKA_LABEL, "signer"), attr(CKA_ID, vec![1, 2, 3])];
    let (public, private) = ec_pair(s, "secp256r1", &extra).unwrap();
    assert_eq!(get(s, private, CKA_LABEL), b"signer");
    let found = find(s, &[attr(CKA_ID, vec![1, 2, 3])]);
    assert!(
        found.contains(&private) && found.contains(&public),
        "{found:?}"
    );
    assert_eq!(
        find(s, &[attr(CKA_LABEL, "signer"), class(CKO_PRIVATE_KEY)]),
        vec![private]
    );
    // NSS renames keys after generation.
    api::set_attributes(
        s,
        private,
        &[attr(CKA_ID, vec![9]), attr(CKA_LABEL, "renamed")],
    )
    .unwrap();
    api::set_attributes(s, public, &[attr(CKA_ID, vec![9])]).unwrap();
    assert_eq!(
        find(s, &[attr(CKA_ID, vec![9]), class(CKO_PRIVATE_KEY)]),
        vec![private]
    );
    assert_eq!(get(s, private, CKA_LABEL), b"renamed");
    // Without a label the key gets OpenSC's default.
    let (_, unnamed) = ec_pair(s, "secp256r1", &[]).unwrap();
    assert_eq!(get(s, unnamed, CKA_LABEL), b"Private Key");
    // Generation needs the user and a read-write session.
    let ro = env.session(env.slots()[0], false);
    assert_eq!(
        ec_pair(ro, "secp256r1", &[]).unwrap_err(),
        Error::SessionReadOnly
    );
}

/// The value C_DeriveKey gives the new key (through the derivation without the object store).
fn derived_value(
    s: CK_SESSION_HANDLE,
    m: &api::Mechanism,
    base: CK_OBJECT_HANDLE,
    template: &[api::Attribute],
) -> api::Result<Vec<u8>> {
    let sr = schsm_pkcs11::token::session::session_ref(s)?;
    let attrs = derive::derived_key_template(&sr, m, base, template)?;
    // Attribute wipes its value on drop, so the value is copied out, not moved.
    Ok(attrs
        .iter()
        .find(|a| a.kind == CKA_VALUE)
        .expect("CKA_VALUE")
        .value
        .clone())
}

fn ecdh(kdf: CK_ULONG, shared: &[u8], public_data: Vec<u8>) -> api::Mechanism {
    mech_with(
        CKM_ECDH1_DERIVE,
        MechanismParam::Ecdh {
            kdf,
            shared_data: shared.to_vec(),
            public_data,
        },
    )
}

/// A P-256 key on the card that may derive, its point, a peer point and Z computed by p256.
fn ecdh_setup(s: CK_SESSION_HANDLE) -> (CK_OBJECT_HANDLE, Vec<u8>, Vec<u8>) {
    let (public, private) = ec_pair(s, "secp256r1", &[boolean(CKA_DERIVE, true)]).unwrap();
    let card_point = ec_point(s, public);
    let peer = p256::SecretKey::from_slice(&[0x17; 32]).unwrap();
    let peer_point = {
        use p256::elliptic_curve::sec1::ToSec1Point;
        peer.public_key().to_sec1_point(false).as_bytes().to_vec()
    };
    let card_public = p256::PublicKey::from_sec1_bytes(&card_point).unwrap();
    let expected = p256::ecdh::diffie_hellman(peer.to_nonzero_scalar(), card_public.as_affine());
    (private, peer_point, expected.raw_secret_bytes().to_vec())
}

#[test]
fn ecdh_agrees_with_p256() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let (private, peer_point, z) = ecdh_setup(s);
    let secret = [
        class(CKO_SECRET_KEY),
        attr(CKA_KEY_TYPE, ulong(CKK_GENERIC_SECRET)),
    ];
    let value = derived_value(
        s,
        &ecdh(CKD_NULL, &[], peer_point.clone()),
        private,
        &secret,
    );
    assert_eq!(value.unwrap(), z);

    // CKA_EC_POINT form (DER OCTET STRING), truncated to CKA_VALUE_LEN; cofactor variant.
    let der = [vec![0x04, 65], peer_point.clone()].concat();
    let mut t = secret.to_vec();
    t.push(attr(CKA_VALUE_LEN, ulong(16)));
    let mut m = ecdh(CKD_NULL, &[], der);
    m.kind = CKM_ECDH1_COFACTOR_DERIVE;
    assert_eq!(derived_value(s, &m, private, &t).unwrap(), z[..16].to_vec());

    // X9.63 with SHA-256 and shared data, to an AES key.
    let aes = [
        class(CKO_SECRET_KEY),
        attr(CKA_KEY_TYPE, ulong(CKK_AES)),
        attr(CKA_VALUE_LEN, ulong(32)),
    ];
    let m = ecdh(CKD_SHA256_KDF, b"info", peer_point.clone());
    let want = Sha256::digest([z.as_slice(), &[0, 0, 0, 1], b"info"].concat()).to_vec();
    assert_eq!(derived_value(s, &m, private, &aes).unwrap(), want);
    // More than Z with CKD_NULL, an AES key of 20 bytes, a token object: refused.
    let mut long = secret.to_vec();
    long.push(attr(CKA_VALUE_LEN, ulong(33)));
    let null = ecdh(CKD_NULL, &[], peer_point.clone());
    assert_eq!(
        api::derive_key(s, &null, private, &long),
        Err(Error::AttributeValueInvalid)
    );
    let bad_aes = [
        attr(CKA_KEY_TYPE, ulong(CKK_AES)),
        attr(CKA_VALUE_LEN, ulong(20)),
    ];
    assert_eq!(
        api::derive_key(s, &null, private, &bad_aes),
        Err(Error::AttributeValueInvalid)
    );
    let token = [boolean(CKA_TOKEN, true)];
    assert_eq!(
        api::derive_key(s, &null, private, &token),
        Err(Error::TemplateInconsistent)
    );

    // Bad parameters: no point, unknown KDF, shared data with CKD_NULL.
    let bad = |m: api::Mechanism| api::derive_key(s, &m, private, &secret);
    assert_eq!(
        bad(ecdh(CKD_NULL, &[], vec![4, 1, 2])),
        Err(Error::MechanismParamInvalid)
    );
    assert_eq!(
        bad(ecdh(0x999, &[], peer_point.clone())),
        Err(Error::MechanismParamInvalid)
    );
    assert_eq!(
        bad(ecdh(CKD_NULL, b"x", peer_point.clone())),
        Err(Error::MechanismParamInvalid)
    );
    // A key without CKA_DERIVE may not.
    let (_, no_derive) = ec_pair(s, "secp256r1", &[]).unwrap();
    assert_eq!(
        api::derive_key(s, &null, no_derive, &secret),
        Err(Error::KeyFunctionNotPermitted)
    );
}

#[test]
fn ecdh_derive_key_makes_a_readable_session_key() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let (private, peer_point, z) = ecdh_setup(s);
    let secret = [
        class(CKO_SECRET_KEY),
        attr(CKA_KEY_TYPE, ulong(CKK_GENERIC_SECRET)),
    ];
    let k = api::derive_key(s, &ecdh(CKD_NULL, &[], peer_point), private, &secret).unwrap();
    assert_eq!(get(s, k, CKA_VALUE), z);
    assert_eq!(get_ulong(s, k, CKA_VALUE_LEN), 32);
    assert!(!get_bool(s, k, CKA_TOKEN));
}

#[test]
fn ecdh_sensitive_session_key_hides_its_value_and_dies_with_its_session() {
    use schsm_pkcs11::token::api::AttributeValue;
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let other = env.session(env.slots()[0], false);
    let (private, peer_point, z) = ecdh_setup(s);
    let template = [
        class(CKO_SECRET_KEY),
        attr(CKA_KEY_TYPE, ulong(CKK_AES)),
        attr(CKA_VALUE_LEN, ulong(16)),
        attr(CKA_LABEL, "ecdh aes"),
        boolean(CKA_SENSITIVE, true),
        boolean(CKA_ENCRYPT, true),
    ];
    let k = api::derive_key(s, &ecdh(CKD_NULL, &[], peer_point), private, &template).unwrap();
    assert_eq!(
        api::get_attributes(s, k, &[CKA_VALUE]).unwrap(),
        [AttributeValue::Sensitive]
    );
    assert!(get_bool(s, k, CKA_SENSITIVE));
    assert!(get_bool(s, k, CKA_EXTRACTABLE));
    assert!(get_bool(s, k, CKA_PRIVATE));
    assert!(get_bool(s, k, CKA_ENCRYPT));
    assert!(!get_bool(s, k, CKA_DECRYPT));
    assert!(!get_bool(s, k, CKA_LOCAL));
    assert_eq!(get_ulong(s, k, CKA_KEY_GEN_MECHANISM), CKM_ECDH1_DERIVE);
    assert_eq!(get_ulong(s, k, CKA_VALUE_LEN), 16);
    // CKA_CHECK_VALUE: AES-128 of a zero block under the first 16 bytes of Z (CKD_NULL).
    let kcv = {
        use aes::cipher::{BlockCipherEncrypt, KeyInit};
        let mut block = aes::Block::default();
        aes::Aes128::new_from_slice(&z[..16])
            .unwrap()
            .encrypt_block(&mut block);
        block[..3].to_vec()
    };
    assert_eq!(get(s, k, CKA_CHECK_VALUE), kcv);

    // Not a card key: the card's AES mechanisms refuse it cleanly, ECDSA sees the wrong type.
    let iv = mech_with(CKM_AES_CBC, MechanismParam::Iv(vec![0; 16]));
    assert_eq!(
        api::operation_init(s, Operation::Encrypt, &iv, Some(k)),
        Err(Error::KeyFunctionNotPermitted)
    );
    assert_eq!(
        api::operation_init(s, Operation::Sign, &mech(CKM_ECDSA), Some(k)),
        Err(Error::KeyTypeInconsistent)
    );

    // The label can change in memory; another session of the token sees the key.
    api::set_attributes(s, k, &[attr(CKA_LABEL, "renamed")]).unwrap();
    assert_eq!(
        find(other, &[class(CKO_SECRET_KEY), attr(CKA_LABEL, "renamed")]),
        [k]
    );
    api::close_session(s).unwrap();
    assert!(find(other, &[attr(CKA_LABEL, "renamed")]).is_empty());
    assert_eq!(
        api::get_attributes(other, k, &[CKA_LABEL]),
        Err(Error::ObjectHandleInvalid)
    );
}
