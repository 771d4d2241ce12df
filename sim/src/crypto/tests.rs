//! Tests of the operations in mod.rs, checked with independent RustCrypto verifiers.

use super::*;
use ecdsa::signature::hazmat::PrehashVerifier;

/// Verify a DER ECDSA signature and a raw r‖s one over `hash` with the ecdsa crate.
macro_rules! verify_ecdsa {
    ($C:ty, $q:expr, $hash:expr, $der:expr, $raw:expr) => {{
        let vk = ecdsa::VerifyingKey::<$C>::from_sec1_bytes($q).unwrap();
        let der = ecdsa::der::Signature::<$C>::try_from($der).unwrap();
        vk.verify_prehash($hash, &der).unwrap();
        let raw = ecdsa::Signature::<$C>::from_slice($raw).unwrap();
        vk.verify_prehash($hash, &raw).unwrap();
    }};
}

fn ec_key(name: &str) -> (KeyMaterial, Vec<u8>) {
    let key = generate_ec(curves::by_name(name).unwrap());
    let KeyMaterial::Ec { q, .. } = &key else {
        unreachable!()
    };
    let q = q.clone();
    (key, q)
}

#[test]
fn ecdsa_signatures_verify_on_every_curve() {
    for curve in curves::supported() {
        let (key, q) = ec_key(curve.name);
        // Hashes shorter than, equal to and longer than the order.
        for hash in [
            HashAlg::Sha1.digest(b"m"),
            HashAlg::Sha256.digest(b"m"),
            HashAlg::Sha512.digest(b"m"),
        ] {
            let der = ecdsa_sign_hash(&key, &hash).unwrap();
            let raw = ecdsa_sign_hash_raw(&key, &hash).unwrap();
            assert_eq!(der[0], 0x30);
            assert_eq!(raw.len(), 2 * curve.field_len(), "{}", curve.name);
            match curve.name {
                "secp192r1" => verify_ecdsa!(p192::NistP192, &q, &hash, &der[..], &raw),
                "secp224r1" => verify_ecdsa!(p224::NistP224, &q, &hash, &der[..], &raw),
                "secp256r1" => verify_ecdsa!(p256::NistP256, &q, &hash, &der[..], &raw),
                "secp384r1" => verify_ecdsa!(p384::NistP384, &q, &hash, &der[..], &raw),
                "secp521r1" => verify_ecdsa!(p521::NistP521, &q, &hash, &der[..], &raw),
                "secp256k1" => verify_ecdsa!(k256::Secp256k1, &q, &hash, &der[..], &raw),
                "brainpoolP256r1" => {
                    verify_ecdsa!(bp256::BrainpoolP256r1, &q, &hash, &der[..], &raw)
                }
                "brainpoolP256t1" => {
                    verify_ecdsa!(bp256::BrainpoolP256t1, &q, &hash, &der[..], &raw)
                }
                "brainpoolP384r1" => {
                    verify_ecdsa!(bp384::BrainpoolP384r1, &q, &hash, &der[..], &raw)
                }
                "brainpoolP384t1" => {
                    verify_ecdsa!(bp384::BrainpoolP384t1, &q, &hash, &der[..], &raw)
                }
                other => panic!("no verifier for {other}"),
            }
        }
    }
}

#[test]
fn p256_der_signature_with_the_p256_verifier() {
    use p256::ecdsa::{DerSignature, VerifyingKey};
    let (key, q) = ec_key("secp256r1");
    let hash = HashAlg::Sha256.digest(b"hello");
    let der = ecdsa_sign_hash(&key, &hash).unwrap();
    let vk = VerifyingKey::from_sec1_bytes(&q).unwrap();
    vk.verify_prehash(&hash, &DerSignature::try_from(&der[..]).unwrap())
        .unwrap();
    // Random nonces: signing twice gives different signatures.
    assert_ne!(ecdsa_sign_hash(&key, &hash).unwrap(), der);
}

#[test]
fn ecdsa_refuses_non_ec_keys() {
    let aes = generate_aes(16).unwrap();
    assert_eq!(
        ecdsa_sign_hash(&aes, &[0; 32]),
        Err(CryptoError::InvalidInput)
    );
    let unknown = KeyMaterial::Ec {
        curve: "brainpoolP512r1".into(),
        d: vec![1; 64],
        q: vec![4; 129],
    };
    assert_eq!(
        ecdsa_sign_hash(&unknown, &[0; 32]),
        Err(CryptoError::Unsupported)
    );
}

#[test]
fn ecdh_agrees_between_two_keys() {
    for curve in curves::supported() {
        let (a, qa) = ec_key(curve.name);
        let (b, qb) = ec_key(curve.name);
        let ab = ecdh(&a, &qb).unwrap();
        assert_eq!(ab, ecdh(&b, &qa).unwrap(), "{}", curve.name);
        assert_eq!((ab.len(), ab[0]), (2 * curve.field_len() + 1, 0x04));
        // X‖Y without the 04 is accepted too.
        assert_eq!(ecdh(&a, &qb[1..]).unwrap(), ab);
        // Points off the curve and bad lengths are refused.
        let mut off = qb.clone();
        *off.last_mut().unwrap() ^= 1;
        assert_eq!(
            ecdh(&a, &off),
            Err(CryptoError::InvalidInput),
            "{}",
            curve.name
        );
        assert_eq!(
            ecdh(&a, &qb[..qb.len() - 1]),
            Err(CryptoError::InvalidInput)
        );
    }
}

#[test]
fn ecdh_x_matches_p256_crate() {
    let (a, _) = ec_key("secp256r1");
    let KeyMaterial::Ec { d, .. } = &a else {
        unreachable!()
    };
    let peer =
        <p256::SecretKey as ecdsa::elliptic_curve::Generate>::generate_from_rng(&mut rand::rng());
    let peer_q = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(
        peer.public_key().as_affine(),
        false,
    );
    let ours = ecdh(&a, peer_q.as_bytes()).unwrap();
    let theirs = p256::ecdh::diffie_hellman(
        p256::NonZeroScalar::try_from(&d[..]).unwrap(),
        p256::PublicKey::from_sec1_bytes(peer_q.as_bytes())
            .unwrap()
            .as_affine(),
    );
    assert_eq!(&ours[1..33], &theirs.raw_secret_bytes()[..]);
}

fn rsa_public(key: &KeyMaterial) -> rsa::PublicKey {
    let KeyMaterial::Rsa { n, e, .. } = key else {
        panic!("not RSA")
    };
    rsa::PublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(n),
        rsa::BoxedUint::from_be_slice_vartime(e),
    )
    .unwrap()
}

#[test]
fn rsa_pkcs1_pss_and_raw() {
    let key = generate_rsa(1024, &[1, 0, 1]).unwrap();
    assert_eq!(key_bits(&key), 1024);
    let public = rsa_public(&key);

    // Card-side PKCS#1 v1.5 over our DigestInfo = the rsa crate's own prefixed signature.
    macro_rules! pkcs1 {
        ($alg:expr, $D:ty) => {{
            let hash = $alg.digest(b"data");
            let sig = rsa_pkcs1_sign(&key, &digest_info($alg, &hash)).unwrap();
            assert_eq!(sig.len(), 128);
            public
                .verify(rsa::Pkcs1v15Sign::new::<$D>(), &hash, &sig)
                .unwrap();
        }};
    }
    pkcs1!(HashAlg::Sha1, sha1::Sha1);
    pkcs1!(HashAlg::Sha224, sha2::Sha224);
    pkcs1!(HashAlg::Sha256, sha2::Sha256);
    pkcs1!(HashAlg::Sha384, sha2::Sha384);
    pkcs1!(HashAlg::Sha512, sha2::Sha512);
    assert_eq!(
        rsa_pkcs1_sign(&key, &[0; 118]),
        Err(CryptoError::InvalidInput),
        "more than k − 11 bytes"
    );

    macro_rules! pss {
        ($alg:expr, $D:ty) => {{
            let hash = $alg.digest(b"data");
            let sig = rsa_pss_sign(&key, $alg, &hash).unwrap();
            public.verify(rsa::Pss::<$D>::new(), &hash, &sig).unwrap();
        }};
    }
    pss!(HashAlg::Sha1, sha1::Sha1);
    pss!(HashAlg::Sha224, sha2::Sha224);
    pss!(HashAlg::Sha256, sha2::Sha256);
    pss!(HashAlg::Sha384, sha2::Sha384);
    // SHA-512 with a 64-byte salt does not fit a 1024-bit modulus.
    let h512 = HashAlg::Sha512.digest(b"data");
    assert_eq!(
        rsa_pss_sign(&key, HashAlg::Sha512, &h512),
        Err(CryptoError::InvalidInput)
    );
    assert_eq!(
        rsa_pss_sign(&key, HashAlg::Sha256, &[0; 20]),
        Err(CryptoError::InvalidInput)
    );

    // Raw: (m^d)^e = m.
    let mut block = vec![0u8; 128];
    block[1..].copy_from_slice(&random_bytes(127));
    let out = rsa_raw(&key, &block).unwrap();
    assert_eq!(out.len(), 128);
    let c = rsa::BoxedUint::from_be_slice(&out, public.n_bits_precision()).unwrap();
    let back = rsa::hazmat::rsa_encrypt(&public, &c).unwrap();
    assert_eq!(ec::fit(&back.to_be_bytes(), 128).unwrap(), block);
    assert_eq!(rsa_raw(&key, &block[1..]), Err(CryptoError::InvalidInput));
    assert_eq!(
        rsa_raw(&key, &[0xFF; 128]),
        Err(CryptoError::InvalidInput),
        "not below n"
    );
    assert_eq!(
        rsa_raw(&generate_aes(16).unwrap(), &block),
        Err(CryptoError::InvalidInput)
    );
}

use rsa::traits::PublicKeyParts;

#[test]
fn rsa_generation_rules() {
    assert_eq!(
        generate_rsa(1000, &[1, 0, 1]).unwrap_err(),
        CryptoError::Unsupported
    );
    assert_eq!(
        generate_rsa(8192, &[1, 0, 1]).unwrap_err(),
        CryptoError::Unsupported
    );
    assert_eq!(
        generate_rsa(1024, &[1, 0, 0]).unwrap_err(),
        CryptoError::InvalidInput
    );
    assert_eq!(
        generate_rsa(1024, &[1]).unwrap_err(),
        CryptoError::InvalidInput
    );
    assert_eq!(
        generate_rsa(1024, &[]).unwrap_err(),
        CryptoError::InvalidInput
    );
    let key = generate_rsa(1032, &[0, 1, 0, 1]).unwrap();
    let KeyMaterial::Rsa { bits, n, e, d, .. } = &key else {
        panic!()
    };
    assert_eq!(
        (*bits, n.len(), e.as_slice(), d.len()),
        (1032, 129, &[1, 0, 1][..], 129)
    );
}

#[test]
fn aes_key_generation_and_operations() {
    for len in [16, 24, 32] {
        let key = generate_aes(len).unwrap();
        assert_eq!(key_bits(&key), len * 8);
        let data = random_bytes(64);
        let ct = aes_cbc_encrypt(&key, &data).unwrap();
        assert_eq!(aes_cbc_decrypt(&key, &ct).unwrap(), data);
        assert_eq!(aes_cmac(&key, b"x").unwrap().len(), 16);
    }
    assert_eq!(generate_aes(20).unwrap_err(), CryptoError::Unsupported);
    let (ec, _) = ec_key("secp256r1");
    assert_eq!(aes_cmac(&ec, b"x"), Err(CryptoError::InvalidInput));
}

#[test]
fn hashes_and_key_bits() {
    for alg in [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ] {
        let h = alg.digest(b"abc");
        assert_eq!(h.len(), alg.output_len());
        assert_eq!(HashAlg::from_len(h.len()), Some(alg));
        assert_eq!(
            digest_info(alg, &h).len(),
            alg.digest_info_prefix().len() + h.len()
        );
    }
    assert_eq!(HashAlg::from_len(16), None);
    assert_eq!(
        hex::encode(HashAlg::Sha256.digest(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let (p521, _) = ec_key("secp521r1");
    assert_eq!(key_bits(&p521), 521);
    let (k1, _) = ec_key("secp256k1");
    assert_eq!(key_bits(&k1), 256);
    assert_eq!(random_bytes(33).len(), 33);
}
