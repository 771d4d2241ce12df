//! Tests of CV requests and the device chain: structure per PROTOCOL §6 and signatures checked
//! with independent RustCrypto verifiers.

use super::*;
use crate::crypto::blob::OID_TA_RSA_V15_SHA256;
use crate::crypto::tlv::{decode, decode_all, find, Tlv};
use crate::crypto::{generate_ec, generate_rsa};
use ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256, Sha384};

fn ec_q(key: &KeyMaterial) -> &[u8] {
    match key {
        KeyMaterial::Ec { q, .. } => q,
        _ => panic!("not EC"),
    }
}

/// Verify a raw r‖s ECDSA signature over a prehash with the ecdsa crate's verifier.
fn ecdsa_ok<C>(q: &[u8], hash: &[u8], sig: &[u8]) -> bool
where
    C: ecdsa::EcdsaCurve + ecdsa::elliptic_curve::CurveArithmetic,
    ecdsa::VerifyingKey<C>: PrehashVerifier<ecdsa::Signature<C>>,
    ecdsa::elliptic_curve::FieldBytesSize<C>: ecdsa::elliptic_curve::sec1::ModulusSize,
    ecdsa::elliptic_curve::AffinePoint<C>:
        ecdsa::elliptic_curve::sec1::FromSec1Point<C> + ecdsa::elliptic_curve::sec1::ToSec1Point<C>,
{
    let vk = ecdsa::VerifyingKey::<C>::from_sec1_bytes(q).unwrap();
    let sig = ecdsa::Signature::<C>::from_slice(sig).unwrap();
    vk.verify_prehash(hash, &sig).is_ok()
}

struct Parsed<'a> {
    body: Tlv<'a>,
    body_items: Vec<Tlv<'a>>,
    inner: &'a [u8],
    signed: Vec<u8>,
    outer_car: &'a [u8],
    outer: &'a [u8],
}

fn parse(request: &[u8]) -> Parsed<'_> {
    let (top, rest) = decode(request).unwrap();
    assert!(rest.is_empty());
    assert_eq!(top.tag, 0x67);
    let items = decode_all(top.value).unwrap();
    assert_eq!(
        items.iter().map(|t| t.tag).collect::<Vec<_>>(),
        [0x7F21, 0x42, 0x5F37]
    );
    let cert = decode_all(items[0].value).unwrap();
    assert_eq!(
        cert.iter().map(|t| t.tag).collect::<Vec<_>>(),
        [0x7F4E, 0x5F37]
    );
    Parsed {
        body: cert[0],
        body_items: decode_all(cert[0].value).unwrap(),
        inner: cert[1].value,
        signed: [items[0].raw, items[1].raw].concat(),
        outer_car: items[1].value,
        outer: items[2].value,
    }
}

fn device() -> DeviceIdentity {
    new_device_identity("DENK0100001")
}

#[test]
fn ec_p256_request_verifies_inner_and_outer() {
    let dev = device();
    let curve = curves::by_name("secp256r1").unwrap();
    let key = generate_ec(curve);
    let req = authenticated_request(
        &key,
        OID_TA_ECDSA_SHA256,
        Some(b"UTCA00001"),
        b"DENK010000100001",
        &dev.device_key,
        dev.chr.as_bytes(),
    )
    .unwrap();
    let p = parse(&req);
    let tags: Vec<_> = p.body_items.iter().map(|t| t.tag).collect();
    assert_eq!(tags, [0x5F29, 0x42, 0x7F49, 0x5F20]);
    assert_eq!(find(&p.body_items, 0x5F29).unwrap(), [0]);
    assert_eq!(find(&p.body_items, 0x42).unwrap(), b"UTCA00001");
    assert_eq!(find(&p.body_items, 0x5F20).unwrap(), b"DENK010000100001");
    let pk = decode_all(find(&p.body_items, 0x7F49).unwrap()).unwrap();
    assert_eq!(
        pk.iter().map(|t| t.tag).collect::<Vec<_>>(),
        [0x06, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87]
    );
    assert_eq!(find(&pk, 0x06).unwrap(), OID_TA_ECDSA_SHA256);
    assert_eq!(find(&pk, 0x81).unwrap(), curve.p);
    assert_eq!(find(&pk, 0x82).unwrap(), curve.a);
    assert_eq!(find(&pk, 0x84).unwrap(), curve.g);
    assert_eq!(find(&pk, 0x86).unwrap(), ec_q(&key));
    assert_eq!(find(&pk, 0x87).unwrap(), [1]);

    assert_eq!(p.inner.len(), 64);
    assert!(ecdsa_ok::<p256::NistP256>(
        ec_q(&key),
        &Sha256::digest(p.body.raw),
        p.inner
    ));
    assert_eq!(p.outer_car, dev.chr.as_bytes());
    assert_eq!(p.outer.len(), 64);
    assert!(ecdsa_ok::<bp256::BrainpoolP256r1>(
        ec_q(&dev.device_key),
        &Sha256::digest(&p.signed),
        p.outer
    ));
    // Not over something else.
    assert!(!ecdsa_ok::<p256::NistP256>(
        ec_q(&key),
        &Sha256::digest(p.body.value),
        p.inner
    ));
}

#[test]
fn rsa_1024_request_verifies_inner_and_outer() {
    let dev = device();
    let key = generate_rsa(1024, &[1, 0, 1]).unwrap();
    let req = authenticated_request(
        &key,
        OID_TA_RSA_V15_SHA256,
        None,
        b"UTDUMMY00001",
        &dev.device_key,
        dev.chr.as_bytes(),
    )
    .unwrap();
    let p = parse(&req);
    let tags: Vec<_> = p.body_items.iter().map(|t| t.tag).collect();
    assert_eq!(tags, [0x5F29, 0x7F49, 0x5F20], "no CAR when none is given");
    let pk = decode_all(find(&p.body_items, 0x7F49).unwrap()).unwrap();
    assert_eq!(
        pk.iter().map(|t| t.tag).collect::<Vec<_>>(),
        [0x06, 0x81, 0x82]
    );
    let KeyMaterial::Rsa { n, e, .. } = &key else {
        panic!()
    };
    assert_eq!(find(&pk, 0x81).unwrap(), &n[..]);
    assert_eq!(find(&pk, 0x82).unwrap(), &e[..]);

    let public = rsa::PublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(n),
        rsa::BoxedUint::from_be_slice_vartime(e),
    )
    .unwrap();
    assert_eq!(p.inner.len(), 128);
    let hash = Sha256::digest(p.body.raw);
    public
        .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hash, p.inner)
        .unwrap();
    assert!(ecdsa_ok::<bp256::BrainpoolP256r1>(
        ec_q(&dev.device_key),
        &Sha256::digest(&p.signed),
        p.outer
    ));
}

#[test]
fn other_ta_oids_sign_with_their_algorithm() {
    let dev = device();
    let mut oid = OID_TA_ECDSA_SHA256.to_vec();
    oid[9] = 4; // id-TA-ECDSA-SHA-384
    let key = generate_ec(curves::by_name("secp384r1").unwrap());
    let req =
        authenticated_request(&key, &oid, None, b"X", &dev.device_key, dev.chr.as_bytes()).unwrap();
    let p = parse(&req);
    assert_eq!(p.inner.len(), 96);
    assert!(ecdsa_ok::<p384::NistP384>(
        ec_q(&key),
        &Sha384::digest(p.body.raw),
        p.inner
    ));

    let rsa_key = generate_rsa(1024, &[1, 0, 1]).unwrap();
    let mut pss = OID_TA_RSA_V15_SHA256.to_vec();
    pss[9] = 4; // id-TA-RSA-PSS-SHA-256
    let req = authenticated_request(
        &rsa_key,
        &pss,
        None,
        b"X",
        &dev.device_key,
        dev.chr.as_bytes(),
    )
    .unwrap();
    let p = parse(&req);
    let KeyMaterial::Rsa { n, e, .. } = &rsa_key else {
        panic!()
    };
    let public = rsa::PublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(n),
        rsa::BoxedUint::from_be_slice_vartime(e),
    )
    .unwrap();
    public
        .verify(
            rsa::Pss::<Sha256>::new(),
            &Sha256::digest(p.body.raw),
            p.inner,
        )
        .unwrap();

    // An OID of the other family, or an unknown one.
    let ec = generate_ec(curves::by_name("secp256r1").unwrap());
    let err = authenticated_request(
        &ec,
        OID_TA_RSA_V15_SHA256,
        None,
        b"X",
        &dev.device_key,
        b"D",
    );
    assert_eq!(err.unwrap_err(), CryptoError::InvalidInput);
    let err = authenticated_request(&ec, &[0x2A, 0x03], None, b"X", &dev.device_key, b"D");
    assert_eq!(err.unwrap_err(), CryptoError::Unsupported);
}

#[test]
fn device_chain_has_two_linked_certificates() {
    let dev = device();
    assert_eq!(dev.chr, "DENK010000100000");
    let certs = decode_all(&dev.chain).unwrap();
    assert_eq!(
        certs.iter().map(|t| t.tag).collect::<Vec<_>>(),
        [0x7F21, 0x7F21]
    );
    // The real HSM 2 file is 462 bytes; ours has the same shape.
    assert!(
        (420..=500).contains(&dev.chain.len()),
        "{}",
        dev.chain.len()
    );

    let parts = |cert: &Tlv<'_>| {
        let items = decode_all(cert.value).unwrap();
        let body = items[0];
        let fields = decode_all(body.value).unwrap();
        (
            body.raw.to_vec(),
            fields
                .iter()
                .map(|t| (t.tag, t.value.to_vec()))
                .collect::<Vec<_>>(),
            items[1].value.to_vec(),
        )
    };
    let (dev_body, dev_fields, dev_sig) = parts(&certs[0]);
    let (_, dica_fields, _) = parts(&certs[1]);
    let get =
        |fields: &[(u16, Vec<u8>)], tag| fields.iter().find(|(t, _)| *t == tag).unwrap().1.clone();
    assert_eq!(
        dev_fields.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        [0x5F29, 0x42, 0x7F49, 0x5F20, 0x7F4C, 0x5F25, 0x5F24]
    );
    assert_eq!(get(&dev_fields, 0x5F20), dev.chr.as_bytes());
    assert_eq!(get(&dev_fields, 0x42), DICA_CHR.as_bytes());
    assert_eq!(get(&dica_fields, 0x5F20), DICA_CHR.as_bytes());
    assert_eq!(get(&dica_fields, 0x42), SRCA_CHR.as_bytes());
    let dev_pk_value = get(&dev_fields, 0x7F49);
    let dev_pk = decode_all(&dev_pk_value).unwrap();
    assert_eq!(find(&dev_pk, 0x86).unwrap(), ec_q(&dev.device_key));
    // Dates are 6 unpacked BCD digits.
    assert!(get(&dev_fields, 0x5F25).iter().all(|&d| d <= 9));

    // The device certificate is signed by the DICA key.
    let dica_pk_value = get(&dica_fields, 0x7F49);
    let dica_pk = decode_all(&dica_pk_value).unwrap();
    let dica_q = find(&dica_pk, 0x86).unwrap();
    assert!(ecdsa_ok::<bp256::BrainpoolP256r1>(
        dica_q,
        &Sha256::digest(&dev_body),
        &dev_sig
    ));
}

#[test]
fn real_request_matches_our_layout_and_inner_signature_rule() {
    // The CV request of the real wrapped-key file (PROTOCOL §6.2): the inner signature covers
    // the whole 7F4E TLV, as we sign it.
    let dir = env!("CARGO_MANIFEST_DIR");
    let Some(wky) = ["/../../shared/vectors", "/../shared/vectors"]
        .iter()
        .find_map(|rel| std::fs::read(format!("{dir}{rel}/nitrokey-hsm2-secp256k1.wky")).ok())
    else {
        eprintln!(
            "SKIPPED: shared/vectors/nitrokey-hsm2-secp256k1.wky not found beside the repository"
        );
        return;
    };
    let (outer, _) = decode(&wky).unwrap();
    let items = decode_all(outer.value).unwrap();
    let request = items.iter().find(|t| t.tag == 0x67).unwrap().raw;
    let p = parse(request);
    assert_eq!(
        p.body_items.iter().map(|t| t.tag).collect::<Vec<_>>(),
        [0x5F29, 0x42, 0x7F49, 0x5F20]
    );
    let pk = decode_all(find(&p.body_items, 0x7F49).unwrap()).unwrap();
    assert_eq!(
        pk.iter().map(|t| t.tag).collect::<Vec<_>>(),
        [0x06, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87]
    );
    let q = find(&pk, 0x86).unwrap();
    assert!(ecdsa_ok::<k256::Secp256k1>(
        q,
        &Sha256::digest(p.body.raw),
        p.inner
    ));
    assert_eq!(p.outer_car, b"DENK010570200000");
}

#[test]
fn civil_dates() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
}
