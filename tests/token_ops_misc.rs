//! Mechanism list and info per device profile, digests (single and multi-part, sizes, operation
//! state rules), random numbers, login requirements, and the wrap stubs.

mod token_ops_common;
mod token_support;

use cryptoki_sys::*;
use schsm_pkcs11::token::api::{self, Error, Operation, Output};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use token_ops_common::*;
use token_support::*;

#[test]
fn mechanisms_per_profile() {
    let env = Env::new(&[
        HSM,
        Dev {
            firmware: "2.6",
            ..HSM
        },
    ]);
    let slots = env.slots();
    let (hsm2, hsm1) = (slots[0], slots[1]);
    let list2 = api::mechanism_list(hsm2).unwrap();
    let list1 = api::mechanism_list(hsm1).unwrap();
    for m in [CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_CMAC, CKM_AES_KEY_GEN] {
        assert!(list2.contains(&m) && !list1.contains(&m), "{m:#x}");
        assert_eq!(
            api::mechanism_info(hsm1, m).unwrap_err(),
            Error::MechanismInvalid
        );
    }
    for m in [
        CKM_ECDSA,
        CKM_ECDSA_SHA512,
        CKM_ECDH1_DERIVE,
        CKM_RSA_PKCS_OAEP,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA_1,
        CKM_EC_KEY_PAIR_GEN,
    ] {
        assert!(list1.contains(&m) && list2.contains(&m), "{m:#x}");
    }
    let ec1 = api::mechanism_info(hsm1, CKM_EC_KEY_PAIR_GEN).unwrap();
    let ec2 = api::mechanism_info(hsm2, CKM_EC_KEY_PAIR_GEN).unwrap();
    assert_eq!(
        (ec1.min_key_size, ec1.max_key_size),
        (192, 320),
        "no P-384 on HSM 1"
    );
    assert_eq!((ec2.min_key_size, ec2.max_key_size), (192, 521));
    let ec_flags = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
    assert_eq!(ec2.flags, CKF_HW | CKF_GENERATE_KEY_PAIR | ec_flags);
    let ecdh = api::mechanism_info(hsm2, CKM_ECDH1_DERIVE).unwrap();
    assert_eq!(ecdh.flags, CKF_HW | CKF_DERIVE | ec_flags);
    let rsa1 = api::mechanism_info(hsm1, CKM_RSA_PKCS).unwrap();
    let rsa2 = api::mechanism_info(hsm2, CKM_RSA_PKCS).unwrap();
    assert_eq!((rsa1.min_key_size, rsa1.max_key_size), (1024, 2048));
    assert_eq!((rsa2.min_key_size, rsa2.max_key_size), (1024, 4096));
    assert_eq!(
        rsa2.flags,
        CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT
    );
    let oaep = api::mechanism_info(hsm2, CKM_RSA_PKCS_OAEP).unwrap();
    assert_eq!(oaep.flags, CKF_HW | CKF_ENCRYPT | CKF_DECRYPT);
    let aes = api::mechanism_info(hsm2, CKM_AES_CBC_PAD).unwrap();
    assert_eq!((aes.min_key_size, aes.max_key_size), (16, 32));
    assert_eq!(aes.flags, CKF_HW | CKF_ENCRYPT | CKF_DECRYPT);
    assert_eq!(
        api::mechanism_info(hsm2, CKM_AES_KEY_GEN).unwrap().flags,
        CKF_HW | CKF_GENERATE
    );
    let sha = api::mechanism_info(hsm2, CKM_SHA384).unwrap();
    assert_eq!(
        (sha.flags, sha.min_key_size, sha.max_key_size),
        (CKF_DIGEST, 0, 0)
    );
    assert_eq!(
        api::mechanism_info(hsm2, CKM_MD5).unwrap_err(),
        Error::MechanismInvalid
    );
    assert_eq!(api::mechanism_list(9999).unwrap_err(), Error::SlotIdInvalid);
}

#[test]
fn digests_single_and_multi_part() {
    let env = Env::new(&[HSM]);
    let s = env.session(env.slots()[0], false);
    let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let cases: [(CK_MECHANISM_TYPE, Vec<u8>); 5] = [
        (CKM_SHA_1, Sha1::digest(&data).to_vec()),
        (CKM_SHA224, Sha224::digest(&data).to_vec()),
        (CKM_SHA256, Sha256::digest(&data).to_vec()),
        (CKM_SHA384, Sha384::digest(&data).to_vec()),
        (CKM_SHA512, Sha512::digest(&data).to_vec()),
    ];
    let before = apdus(&env.dirs[0]);
    for (m, want) in cases {
        assert_eq!(
            single(s, Operation::Digest, &mech(m), None, &data).unwrap(),
            want
        );
        let parts: [&[u8]; 4] = [&data[..1], &data[1..500], &[], &data[500..]];
        assert_eq!(
            multi(s, Operation::Digest, &mech(m), None, &parts).unwrap(),
            want
        );
    }
    assert_eq!(apdus(&env.dirs[0]), before, "digests never touch the card");

    // Short buffer keeps the operation; C_Digest after an update is refused; final ends it.
    api::operation_init(s, Operation::Digest, &mech(CKM_SHA256), None).unwrap();
    assert_eq!(
        api::operation_single(s, Operation::Digest, b"x", Some(31)),
        Ok(Output::Len(32))
    );
    api::operation_update(s, Operation::Digest, b"x", None).unwrap();
    assert_eq!(
        api::operation_single(s, Operation::Digest, b"x", Some(32)),
        Err(Error::OperationActive)
    );
    assert_eq!(
        api::operation_final(s, Operation::Digest, None),
        Ok(Output::Len(32))
    );
    assert_eq!(
        api::operation_final(s, Operation::Digest, Some(32)),
        Ok(Output::Data(Sha256::digest(b"x").to_vec()))
    );
    assert_eq!(
        api::operation_final(s, Operation::Digest, Some(32)),
        Err(Error::OperationNotInitialized)
    );
    assert_eq!(
        api::operation_update(s, Operation::Sign, b"x", None),
        Err(Error::OperationNotInitialized)
    );
    assert_eq!(
        api::operation_init(s, Operation::Digest, &mech(CKM_MD5), None),
        Err(Error::MechanismInvalid)
    );
    assert_eq!(
        api::operation_init(s, Operation::Digest, &mech(CKM_ECDSA), None),
        Err(Error::MechanismInvalid)
    );
}

#[test]
fn random_numbers_come_from_the_card_in_chunks() {
    let env = Env::new(&[HSM]);
    let s = env.session(env.slots()[0], false);
    let dir = &env.dirs[0];
    let before = apdus(dir);
    assert!(api::generate_random(s, 0).unwrap().is_empty());
    assert_eq!(apdus(dir), before);
    let r = api::generate_random(s, 2000).unwrap();
    assert_eq!(r.len(), 2000);
    assert_eq!(apdus(dir), before + 2, "1024 + 976 bytes");
    assert_ne!(r[..32], r[1000..1032]);
    assert_ne!(
        api::generate_random(s, 32).unwrap(),
        api::generate_random(s, 32).unwrap()
    );
    assert_eq!(
        api::seed_random(s, b"seed"),
        Err(Error::RandomSeedNotSupported)
    );
    assert_eq!(
        api::generate_random(0xBAD, 8),
        Err(Error::SessionHandleInvalid)
    );
}

#[test]
fn card_operations_need_the_user_and_foreign_wrap_mechanisms_are_refused() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let (public, private) = ec_pair(s, "secp256r1", &[]).unwrap();
    let sig = sign(s, &mech(CKM_ECDSA_SHA256), private, b"m").unwrap();
    api::logout(s).unwrap();
    assert_eq!(
        api::operation_init(s, Operation::Sign, &mech(CKM_ECDSA_SHA256), Some(private)),
        Err(Error::UserNotLoggedIn)
    );
    // Verification with the public key needs no PIN.
    verify(s, &mech(CKM_ECDSA_SHA256), public, b"m", &sig).unwrap();
    assert_eq!(
        ec_pair(s, "secp256r1", &[]).unwrap_err(),
        Error::UserNotLoggedIn
    );
    assert_eq!(
        api::wrap_key(s, &mech(CKM_AES_KEY_WRAP), public, private, None),
        Err(Error::MechanismInvalid)
    );
    assert_eq!(
        api::unwrap_key(s, &mech(CKM_AES_KEY_WRAP), public, &[0; 40], &[]),
        Err(Error::MechanismInvalid)
    );
}
