//! Key import with the DKEK held by the module (issue 4): PKCS#8 (CKM_SCHSM_PKCS8_IMPORT) and
//! C_CreateObject of EC and RSA private keys, signing verifiably; refused without the DKEK.
//! Also: a key without description is shown, and keys whose list demands card hashing sign.

mod token_ops_common;
mod token_support;
mod wrap_common;

use cryptoki_sys::*;
use schsm_pkcs11::token::api::{self, Error, Operation};
use sha2::{Digest, Sha256};
use token_ops_common::*;
use token_support::*;
use wrap_common::*;

fn pkcs8_ec_p256(d: &[u8; 32], q: &[u8]) -> Vec<u8> {
    let t = schsm_pkcs11::card::tlv::encode;
    let ec_oid = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    let p256_oid = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    let ec_key = t(
        0x30,
        &[
            t(0x02, &[1]),
            t(0x04, d),
            t(0xA1, &t(0x03, &[&[0u8][..], q].concat())),
        ]
        .concat(),
    );
    t(
        0x30,
        &[
            t(0x02, &[0]),
            t(0x30, &[t(0x06, &ec_oid), t(0x06, &p256_oid)].concat()),
            t(0x04, &ec_key),
        ]
        .concat(),
    )
}

#[test]
fn pkcs8_and_create_object_imports_sign_verifiably() {
    use p256::elliptic_curve::sec1::ToSec1Point;
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let conf = conf_with_share(SHARE);
    let env = setup(&[dev("3.5"), dev("3.1")], &[SHARE, SHARE], Some(&conf));
    let (s1, s2) = (user_session(&env, 0), user_session(&env, 1));
    let d2 = dkek_handle(s2);
    let import = schsm_pkcs11::vendor::CKM_SCHSM_PKCS8_IMPORT;

    // EC by PKCS#8, restricted to ECDSA-SHA256 on a 3.1 device (extractable: no card list).
    let d: [u8; 32] = Sha256::digest(b"imported key").into();
    let sk = p256::SecretKey::from_slice(&d).unwrap();
    let q = sk.public_key().to_sec1_point(false).as_bytes().to_vec();
    let key = api::unwrap_key(
        s2,
        &mech(import),
        d2,
        &pkcs8_ec_p256(&d, &q),
        &[
            attr(CKA_LABEL, b"pkcs8 ec".to_vec()),
            attr(CKA_ALLOWED_MECHANISMS, mechs(&[CKM_ECDSA_SHA256])),
        ],
    )
    .unwrap();
    assert_eq!(get(s2, key, CKA_LABEL), b"pkcs8 ec");
    assert_eq!(get(s2, key, CKA_ID), sha1_of(&q[1..33]));
    let sig = sign(s2, &mech(CKM_ECDSA_SHA256), key, MESSAGE).unwrap();
    assert!(p256_verifies(&q, MESSAGE, &sig));
    assert_eq!(
        api::operation_init(s2, Operation::Sign, &mech(CKM_ECDSA), Some(key)),
        Err(Error::MechanismInvalid)
    );
    let id = *sim_key_ids(&env.dirs[1]).last().unwrap();
    assert!(
        sim_key(&env.dirs[1], id).algorithms.is_empty(),
        "3.1: no list"
    );

    // EC by C_CreateObject, public point computed by the module.
    let d_b: [u8; 32] = Sha256::digest(b"created key").into();
    let q_b = p256::SecretKey::from_slice(&d_b)
        .unwrap()
        .public_key()
        .to_sec1_point(false)
        .as_bytes()
        .to_vec();
    let curve = schsm_pkcs11::card::curves::Curve::by_name("secp256r1").unwrap();
    let created = api::create_object(
        s2,
        &[
            class(CKO_PRIVATE_KEY),
            attr(CKA_KEY_TYPE, ulong(CKK_EC)),
            boolean(CKA_TOKEN, true),
            attr(CKA_EC_PARAMS, curve.ec_params_der()),
            attr(CKA_VALUE, d_b.to_vec()),
            boolean(CKA_SIGN, true),
        ],
    )
    .unwrap();
    let sig = sign(s2, &mech(CKM_ECDSA_SHA256), created, MESSAGE).unwrap();
    assert!(p256_verifies(&q_b, MESSAGE, &sig));

    // RSA: the material of a key made on device 1 (read from the simulator), by PKCS#8 (CRT)
    // and by C_CreateObject with n, e, d only (private-exponent blob).
    let (rsa_pub, _) = rsa_pair(s1, 2048, &[]).unwrap();
    let src = *sim_key_ids(&env.dirs[0]).last().unwrap();
    let schsm_sim::keys::KeyMaterial::Rsa { n, e, d, p, q, .. } =
        sim_key(&env.dirs[0], src).material
    else {
        panic!("RSA key");
    };
    let u = |v: &[u8]| rsa::BoxedUint::from_be_slice_vartime(v);
    let private =
        rsa::PrivateKey::from_components(u(&n), u(&e), u(&d), vec![u(&p), u(&q)]).unwrap();
    use rsa::pkcs8::EncodePrivateKey;
    let der = private.to_pkcs8_der().unwrap();
    let by_pkcs8 = api::unwrap_key(s2, &mech(import), d2, der.as_bytes(), &[]).unwrap();
    let sig = sign(s2, &mech(CKM_SHA256_RSA_PKCS), by_pkcs8, MESSAGE).unwrap();
    verify(s1, &mech(CKM_SHA256_RSA_PKCS), rsa_pub, MESSAGE, &sig).unwrap();
    assert_eq!(get(s2, by_pkcs8, CKA_ID), sha1_of(&n));
    let by_template = api::create_object(
        s2,
        &[
            class(CKO_PRIVATE_KEY),
            attr(CKA_KEY_TYPE, ulong(CKK_RSA)),
            boolean(CKA_TOKEN, true),
            attr(CKA_MODULUS, n.clone()),
            attr(CKA_PUBLIC_EXPONENT, e.clone()),
            attr(CKA_PRIVATE_EXPONENT, d.clone()),
            attr(CKA_ID, vec![0x77]),
        ],
    )
    .unwrap();
    let sig = sign(s2, &mech(CKM_SHA256_RSA_PKCS), by_template, MESSAGE).unwrap();
    verify(s1, &mech(CKM_SHA256_RSA_PKCS), rsa_pub, MESSAGE, &sig).unwrap();
}

#[test]
fn import_without_the_dkek_is_refused() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.5")], &[SHARE], None);
    let s = user_session(&env, 0);
    let curve = schsm_pkcs11::card::curves::Curve::by_name("secp256r1").unwrap();
    let n = apdus(&env.dirs[0]);
    assert_eq!(
        api::create_object(
            s,
            &[
                class(CKO_PRIVATE_KEY),
                attr(CKA_KEY_TYPE, ulong(CKK_EC)),
                boolean(CKA_TOKEN, true),
                attr(CKA_EC_PARAMS, curve.ec_params_der()),
                attr(CKA_VALUE, vec![1; 32]),
            ],
        ),
        Err(Error::FunctionFailed)
    );
    assert!(sim_key_ids(&env.dirs[0]).is_empty());
    assert!(
        apdus(&env.dirs[0]) - n <= 4,
        "at most the DKEK status was read"
    );
}

#[test]
fn a_key_without_description_is_shown() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.5")], &[SHARE], None);
    let s = user_session(&env, 0);
    let (public, _) = ec_pair(s, "secp256r1", &[]).unwrap();
    let point = ec_point(s, public);
    let id = sim_key_ids(&env.dirs[0])[0];
    let mut other = env.device(0);
    other.verify_pin(PIN).unwrap();
    other
        .delete_file(schsm_pkcs11::card::Fid::prkd(id))
        .unwrap();
    env.reinitialize();
    let s = user_session(&env, 0);
    let keys = find(s, &[class(CKO_PRIVATE_KEY)]);
    assert_eq!(keys.len(), 1);
    assert_eq!(get(s, keys[0], CKA_ID), sha1_of(&point[1..33]));
    let sig = sign(s, &mech(CKM_ECDSA_SHA256), keys[0], MESSAGE).unwrap();
    assert!(p256_verifies(&point, MESSAGE, &sig));
    // Finished at the next login: the description is on the card again.
    api::logout(s).unwrap();
    api::login(s, CKU_USER, Some(PIN)).unwrap();
    let mut again = env.device(0);
    assert!(again
        .file_exists(schsm_pkcs11::card::Fid::prkd(id))
        .unwrap());
}

#[test]
fn card_hashing_keys_sign_whole_messages_up_to_one_apdu() {
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    let env = setup(&[dev("3.5")], &[SHARE], None);
    let s = user_session(&env, 0);
    // A list like Smart Card Shell's (73, no 70): the module sends the message, P2 73.
    let (public, key) = ec_pair(
        s,
        "secp256r1",
        &[
            attr(CKA_ALLOWED_MECHANISMS, mechs(&[CKM_ECDSA_SHA256])),
            boolean(CKA_EXTRACTABLE, false),
        ],
    )
    .unwrap();
    let id = sim_key_ids(&env.dirs[0])[0];
    assert_eq!(sim_key(&env.dirs[0], id).algorithms, vec![0x73]);
    let point = ec_point(s, public);
    let sig = sign(s, &mech(CKM_ECDSA_SHA256), key, MESSAGE).unwrap();
    assert!(p256_verifies(&point, MESSAGE, &sig));
    let long = vec![0x61; 4000];
    assert_eq!(
        sign(s, &mech(CKM_ECDSA_SHA256), key, &long),
        Err(Error::DataLenRange)
    );
}

#[test]
fn password_share_split_gives_the_module_the_dkek() {
    use schsm_pkcs11::card::dkek::DkekShare;
    use schsm_pkcs11::card::shamir::split_secret;
    use schsm_pkcs11::card::share_file::encrypt_share_file;
    let _g = CONF.lock().unwrap_or_else(|p| p.into_inner());
    // sc-hsm-tool's n-of-m mode: an 8-byte password (top bit clear), 3 of 5 shares given.
    let dir = std::env::temp_dir().join(format!("schsm-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = 0x1A2B_3C4D_5E6F_7081u64;
    let prime = 0xFFFF_FFFF_FFFF_FFC5u64;
    let shares = split_secret(secret, prime, &[0x1234_5678, 0x9ABC_DEF0], 5).unwrap();
    let text: String = [&shares[0], &shares[2], &shares[4]]
        .iter()
        .map(|s| format!("{prime:X} {} {:X}\n", s.x, s.y))
        .collect();
    std::fs::write(dir.join("share.split"), text).unwrap();
    let pbe =
        encrypt_share_file(&DkekShare::new(SHARE), &secret.to_be_bytes(), &[3; 8], 1000).unwrap();
    std::fs::write(dir.join("share.pbe"), pbe).unwrap();
    let conf = dir.join("schsm.toml");
    std::fs::write(
        &conf,
        format!(
            "[dkek]\nshares = [\"{0}/share.pbe\"]\npassword_shares = [\"{0}/share.split\"]\niterations = 1000\n",
            dir.display()
        ),
    )
    .unwrap();
    let env = setup(&[dev("3.5")], &[SHARE], Some(&conf));
    let s = user_session(&env, 0);
    let curve = schsm_pkcs11::card::curves::Curve::by_name("secp256r1").unwrap();
    let key = api::create_object(
        s,
        &[
            class(CKO_PRIVATE_KEY),
            attr(CKA_KEY_TYPE, ulong(CKK_EC)),
            boolean(CKA_TOKEN, true),
            attr(CKA_EC_PARAMS, curve.ec_params_der()),
            attr(CKA_VALUE, Sha256::digest(b"split").to_vec()),
        ],
    )
    .unwrap();
    sign(s, &mech(CKM_ECDSA_SHA256), key, MESSAGE).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
