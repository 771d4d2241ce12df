//! RSA through the token API over simulated devices: key pair generation, every signature
//! mechanism checked by the rsa crate, C_Verify, decryption (PKCS#1 v1.5, OAEP, raw) of
//! ciphertexts made by the rsa crate, bad padding, the card asked once when the plaintext does
//! not fit, software encryption with the public key, PSS parameter rules.

mod token_ops_common;
mod token_support;

use cryptoki_sys::*;
use rsa::pss::Pss;
use rsa::{BoxedUint, Oaep, Pkcs1v15Encrypt, Pkcs1v15Sign};
use schsm_pkcs11::token::api::{self, Error, MechanismParam, Operation, Output};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use token_ops_common::*;
use token_support::*;

const MESSAGE: &[u8] = b"RSA on a SmartCard-HSM, host-padded";

fn public_key(s: CK_SESSION_HANDLE, public: CK_OBJECT_HANDLE) -> rsa::PublicKey {
    let n = get(s, public, CKA_MODULUS);
    let e = get(s, public, CKA_PUBLIC_EXPONENT);
    rsa::PublicKey::new(
        BoxedUint::from_be_slice(&n, (n.len() * 8) as u32).unwrap(),
        BoxedUint::from_be_slice(&e, 64).unwrap(),
    )
    .unwrap()
}

fn pss(
    kind: CK_MECHANISM_TYPE,
    hash: CK_MECHANISM_TYPE,
    mgf: CK_ULONG,
    salt: CK_ULONG,
) -> api::Mechanism {
    mech_with(
        kind,
        MechanismParam::Pss {
            hash,
            mgf,
            salt_len: salt,
        },
    )
}

fn oaep(hash: CK_MECHANISM_TYPE, mgf: CK_ULONG, label: &[u8]) -> api::Mechanism {
    mech_with(
        CKM_RSA_PKCS_OAEP,
        MechanismParam::Oaep {
            hash,
            mgf,
            source: CKZ_DATA_SPECIFIED,
            source_data: label.to_vec(),
        },
    )
}

/// Checks `sig` with the rsa crate as mechanism `m` over MESSAGE.
fn independent_check(pk: &rsa::PublicKey, m: CK_MECHANISM_TYPE, sig: &[u8]) {
    let r = match m {
        CKM_SHA1_RSA_PKCS => pk.verify(Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(MESSAGE), sig),
        CKM_SHA224_RSA_PKCS => {
            pk.verify(Pkcs1v15Sign::new::<Sha224>(), &Sha224::digest(MESSAGE), sig)
        }
        CKM_SHA256_RSA_PKCS | CKM_RSA_PKCS => {
            pk.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(MESSAGE), sig)
        }
        CKM_SHA384_RSA_PKCS => {
            pk.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(MESSAGE), sig)
        }
        CKM_SHA512_RSA_PKCS => {
            pk.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(MESSAGE), sig)
        }
        CKM_SHA1_RSA_PKCS_PSS => pk.verify(Pss::<Sha1>::new(), &Sha1::digest(MESSAGE), sig),
        CKM_SHA224_RSA_PKCS_PSS => pk.verify(Pss::<Sha224>::new(), &Sha224::digest(MESSAGE), sig),
        CKM_SHA256_RSA_PKCS_PSS | CKM_RSA_PKCS_PSS => {
            pk.verify(Pss::<Sha256>::new(), &Sha256::digest(MESSAGE), sig)
        }
        CKM_SHA384_RSA_PKCS_PSS => pk.verify(Pss::<Sha384>::new(), &Sha384::digest(MESSAGE), sig),
        CKM_SHA512_RSA_PKCS_PSS => pk.verify(Pss::<Sha512>::new(), &Sha512::digest(MESSAGE), sig),
        other => panic!("{other:#x}"),
    };
    r.unwrap_or_else(|e| panic!("mechanism {m:#x}: {e}"));
}

/// The mechanism and the data C_Sign gets for it.
fn sign_cases() -> Vec<(api::Mechanism, Vec<u8>)> {
    let digest_info = [
        &[
            0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ][..],
        &Sha256::digest(MESSAGE),
    ]
    .concat();
    let mut cases = vec![
        (mech(CKM_RSA_PKCS), digest_info),
        (
            pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32),
            Sha256::digest(MESSAGE).to_vec(),
        ),
    ];
    for m in [
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
    ] {
        cases.push((mech(m), MESSAGE.to_vec()));
    }
    for (m, h, mgf, len) in [
        (CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, 20),
        (CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224, CKG_MGF1_SHA224, 28),
        (CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32),
        (CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48),
        (CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64),
    ] {
        cases.push((pss(m, h, mgf, len), MESSAGE.to_vec()));
    }
    cases
}

#[test]
fn rsa_1024_every_signature_mechanism() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let (public, private) = rsa_pair(s, 1024, &[]).unwrap();
    let pk = public_key(s, public);
    let modulus = get(s, public, CKA_MODULUS);
    assert_eq!(modulus.len(), 128);
    assert_eq!(
        get(s, private, CKA_ID),
        Sha1::digest(&modulus).to_vec(),
        "OpenSC's CKA_ID"
    );
    assert_eq!(get_ulong(s, private, CKA_MODULUS_BITS), 1024);

    for (m, data) in sign_cases() {
        if m.kind == CKM_SHA512_RSA_PKCS_PSS {
            // 2·64 + 2 bytes of PSS encoding do not fit a 128-byte modulus.
            assert_eq!(
                api::operation_init(s, Operation::Sign, &m, Some(private)),
                Err(Error::KeySizeRange)
            );
            continue;
        }
        let sig = sign(s, &m, private, &data).unwrap();
        assert_eq!(sig.len(), 128);
        independent_check(&pk, m.kind, &sig);
        verify(s, &m, public, &data, &sig).unwrap();
        verify(s, &m, private, &data, &sig).unwrap();
        let mut bad = sig.clone();
        bad[77] ^= 0x80;
        assert_eq!(
            verify(s, &m, public, &data, &bad),
            Err(Error::SignatureInvalid),
            "{:#x}",
            m.kind
        );
        assert_eq!(
            verify(s, &m, public, &data, &sig[..127]),
            Err(Error::SignatureLenRange)
        );
    }

    // Raw RSA: sign a block, recover it with the public key (here: C_Verify and C_Encrypt).
    let mut block = vec![0u8; 128];
    block[1..].copy_from_slice(&[0x5A; 127]);
    let sig = sign(s, &mech(CKM_RSA_X_509), private, &block).unwrap();
    verify(s, &mech(CKM_RSA_X_509), public, &block, &sig).unwrap();
    let recovered = single(
        s,
        Operation::Encrypt,
        &mech(CKM_RSA_X_509),
        Some(public),
        &sig,
    )
    .unwrap();
    assert_eq!(recovered, block);
    // ... and the raw decryption of that signature is the block again.
    let back = single(
        s,
        Operation::Decrypt,
        &mech(CKM_RSA_X_509),
        Some(private),
        &recovered,
    );
    assert_eq!(back.unwrap(), sig);
}

#[test]
fn pss_parameters_must_match_the_card() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let (_, private) = rsa_pair(s, 1024, &[]).unwrap();
    for m in [
        pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA1, 32),
        pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 0),
        pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48),
        mech(CKM_RSA_PKCS_PSS),
    ] {
        assert_eq!(
            api::operation_init(s, Operation::Sign, &m, Some(private)),
            Err(Error::MechanismParamInvalid),
            "{m:?}"
        );
    }
    // A hash of the wrong length for raw PSS.
    let m = pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32);
    api::operation_init(s, Operation::Sign, &m, Some(private)).unwrap();
    assert_eq!(
        api::operation_single(s, Operation::Sign, &[1; 20], Some(128)),
        Err(Error::DataLenRange)
    );
    // Errors end the operation.
    assert_eq!(
        api::operation_single(s, Operation::Sign, &[1; 32], Some(128)),
        Err(Error::OperationNotInitialized)
    );
    // CKM_RSA_PKCS data longer than k - 11.
    api::operation_init(s, Operation::Sign, &mech(CKM_RSA_PKCS), Some(private)).unwrap();
    assert_eq!(
        api::operation_single(s, Operation::Sign, &[1; 118], Some(128)),
        Err(Error::DataLenRange)
    );
}

#[test]
fn decryption_of_rsa_crate_ciphertexts() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let (public, private) = rsa_pair(s, 1024, &[]).unwrap();
    let pk = public_key(s, public);
    let mut rng = getrandom::SysRng;
    let secret = b"sixteen byte key";

    let c = pk.encrypt(&mut rng, Pkcs1v15Encrypt, secret).unwrap();
    let p = single(
        s,
        Operation::Decrypt,
        &mech(CKM_RSA_PKCS),
        Some(private),
        &c,
    )
    .unwrap();
    assert_eq!(p, secret);

    let c = pk
        .encrypt(
            &mut rng,
            Oaep::<Sha256>::new_with_label(&b"label"[..]),
            secret,
        )
        .unwrap();
    let m = oaep(CKM_SHA256, CKG_MGF1_SHA256, b"label");
    assert_eq!(
        single(s, Operation::Decrypt, &m, Some(private), &c).unwrap(),
        secret
    );
    // Another label, or PKCS#1 unpadding of an OAEP block: the same answer, no detail.
    let wrong = oaep(CKM_SHA256, CKG_MGF1_SHA256, b"other");
    assert_eq!(
        single(s, Operation::Decrypt, &wrong, Some(private), &c),
        Err(Error::EncryptedDataInvalid)
    );
    assert_eq!(
        single(
            s,
            Operation::Decrypt,
            &mech(CKM_RSA_PKCS),
            Some(private),
            &c
        ),
        Err(Error::EncryptedDataInvalid)
    );

    let c = pk
        .encrypt(&mut rng, Oaep::<Sha1, Sha1>::new_with_mgf_hash(), secret)
        .unwrap();
    let m = oaep(CKM_SHA_1, CKG_MGF1_SHA1, b"");
    assert_eq!(
        single(s, Operation::Decrypt, &m, Some(private), &c).unwrap(),
        secret
    );
    let c = pk
        .encrypt(&mut rng, Oaep::<Sha256, Sha1>::new_with_mgf_hash(), secret)
        .unwrap();
    let m = oaep(CKM_SHA256, CKG_MGF1_SHA1, b"");
    assert_eq!(
        single(s, Operation::Decrypt, &m, Some(private), &c).unwrap(),
        secret
    );

    // A ciphertext of the wrong length.
    assert_eq!(
        single(
            s,
            Operation::Decrypt,
            &mech(CKM_RSA_PKCS),
            Some(private),
            &c[1..]
        ),
        Err(Error::EncryptedDataLenRange)
    );
    // Software encryption with the public key, decrypted by the card.
    for m in [mech(CKM_RSA_PKCS), oaep(CKM_SHA384, CKG_MGF1_SHA256, b"L")] {
        let c = single(s, Operation::Encrypt, &m, Some(public), secret).unwrap();
        assert_eq!(c.len(), 128);
        assert_eq!(
            single(s, Operation::Decrypt, &m, Some(private), &c).unwrap(),
            secret
        );
    }
    // The private key has no CKA_ENCRYPT; the public key cannot decrypt.
    assert_eq!(
        api::operation_init(s, Operation::Encrypt, &mech(CKM_RSA_PKCS), Some(private)),
        Err(Error::KeyFunctionNotPermitted)
    );
    assert_eq!(
        api::operation_init(s, Operation::Decrypt, &mech(CKM_RSA_PKCS), Some(public)),
        Err(Error::KeyFunctionNotPermitted)
    );
}

#[test]
fn a_plaintext_that_does_not_fit_is_kept_and_the_card_asked_once() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let (public, private) = rsa_pair(s, 1024, &[]).unwrap();
    let pk = public_key(s, public);
    let c = pk
        .encrypt(&mut getrandom::SysRng, Pkcs1v15Encrypt, b"0123456789")
        .unwrap();
    let dir = &env.dirs[0];

    api::operation_init(s, Operation::Decrypt, &mech(CKM_RSA_PKCS), Some(private)).unwrap();
    let start = apdus(dir);
    // A size query answers the upper bound without the card.
    assert_eq!(
        api::operation_single(s, Operation::Decrypt, &c, None),
        Ok(Output::Len(128 - 11))
    );
    assert_eq!(apdus(dir), start);
    // Too small: the card decrypts, the exact length comes back, the result is kept.
    assert_eq!(
        api::operation_single(s, Operation::Decrypt, &c, Some(4)),
        Ok(Output::Len(10))
    );
    assert_eq!(apdus(dir), start + 1);
    assert_eq!(
        api::operation_single(s, Operation::Decrypt, &c, None),
        Ok(Output::Len(10))
    );
    assert_eq!(
        api::operation_single(s, Operation::Decrypt, &c, Some(10)),
        Ok(Output::Data(b"0123456789".to_vec()))
    );
    assert_eq!(
        apdus(dir),
        start + 1,
        "the kept plaintext, no second DECIPHER"
    );
    assert_eq!(
        api::operation_single(s, Operation::Decrypt, &c, Some(10)),
        Err(Error::OperationNotInitialized)
    );
}

#[test]
fn rsa_2048_once() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let (public, private) = rsa_pair(s, 2048, &[attr(CKA_LABEL, "big")]).unwrap();
    let pk = public_key(s, public);
    let sig = sign(s, &mech(CKM_SHA256_RSA_PKCS), private, MESSAGE).unwrap();
    assert_eq!(sig.len(), 256);
    independent_check(&pk, CKM_SHA256_RSA_PKCS, &sig);
    let m = pss(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64);
    let sig = sign(s, &m, private, MESSAGE).unwrap();
    independent_check(&pk, CKM_SHA512_RSA_PKCS_PSS, &sig);
    verify(s, &m, public, MESSAGE, &sig).unwrap();
    let c = pk
        .encrypt(&mut getrandom::SysRng, Oaep::<Sha256>::new(), b"x")
        .unwrap();
    let m = oaep(CKM_SHA256, CKG_MGF1_SHA256, b"");
    assert_eq!(
        single(s, Operation::Decrypt, &m, Some(private), &c).unwrap(),
        b"x"
    );
    // RSA sizes the device cannot make.
    assert_eq!(rsa_pair(s, 1000, &[]).unwrap_err(), Error::KeySizeRange);
    assert_eq!(rsa_pair(s, 8192, &[]).unwrap_err(), Error::KeySizeRange);
}
