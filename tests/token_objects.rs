//! Objects: keys (made through the crypto helper's contract and by "another process"),
//! find, attributes, set, certificates, data objects, destroy.

mod token_support;

use cryptoki_sys::*;
use schsm_pkcs11::card::curves::Curve;
use schsm_pkcs11::card::keys::{KeyGenParams, KeySpec};
use schsm_pkcs11::card::pkcs15::KeyUsage;
use schsm_pkcs11::card::prkd::{KeyDescription, KeyKind};
use schsm_pkcs11::card::{Device, Fid};
use schsm_pkcs11::token::api::{self, AttributeValue, Error};
use schsm_pkcs11::token::card_error::CardOp;
use schsm_pkcs11::token::objects::{write_key_files, KeyHandles, KeyMeta, NewKey};
use schsm_pkcs11::token::session::session_ref;
use token_support::*;

const EC_ID: &[u8] = &[0xEC, 0x01];

/// An EC P-256 key made the way the crypto helper does it (the CONTRACT in token/mod.rs).
fn ec_key_through_contract(s: CK_SESSION_HANDLE, label: &str) -> KeyHandles {
    let sr = session_ref(s).unwrap();
    let serial = sr.serial().unwrap();
    assert_eq!(serial, SERIAL);
    let curve = Curve::by_name("secp256r1").unwrap();
    let (id, gen) = sr
        .with_card(CardOp::KeyGen, |dev| {
            let id = dev.free_key_id()?;
            let g = dev.generate_key_pair(id, &KeyGenParams::new(KeySpec::Ec(curve), &serial))?;
            Ok((id, g))
        })
        .unwrap();
    let key = NewKey {
        key_id: id,
        description: KeyDescription::opensc(
            KeyKind::Ec,
            label,
            EC_ID,
            KeyUsage::SIGN | KeyUsage::DERIVE,
            id,
            256,
        ),
        meta: KeyMeta::default(),
        public_file: Some(gen.request.raw.clone()),
    };
    sr.with_card(CardOp::Write, |dev| write_key_files(dev, &key))
        .unwrap();
    sr.add_card_key(key).unwrap()
}

/// An RSA-1024 key made by another process, with an OpenSC-style description.
fn rsa_key_elsewhere(dev: &mut Device, label: &str, id: &[u8]) -> u8 {
    dev.verify_pin(PIN).unwrap();
    let key_id = dev.free_key_id().unwrap();
    let spec = KeySpec::Rsa {
        bits: 1024,
        public_exponent: vec![1, 0, 1],
    };
    dev.generate_key_pair(key_id, &KeyGenParams::new(spec, SERIAL))
        .unwrap();
    let usage = KeyUsage::SIGN | KeyUsage::DECRYPT | KeyUsage::UNWRAP;
    let desc = KeyDescription::opensc(KeyKind::Rsa, label, id, usage, key_id, 1024);
    dev.write_file(Fid::prkd(key_id), &desc.encode()).unwrap();
    dev.logout().unwrap();
    key_id
}

#[test]
fn keys_found_by_class_label_and_id_with_their_attributes() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let h = ec_key_through_contract(s, "ec key");
    let public = h.public.unwrap();
    assert_eq!(find(s, &[class(CKO_PRIVATE_KEY)]), [h.private]);
    assert_eq!(find(s, &[class(CKO_PUBLIC_KEY)]), [public]);
    assert_eq!(find(s, &[attr(CKA_LABEL, "ec key")]), [h.private, public]);
    assert_eq!(
        find(s, &[attr(CKA_ID, EC_ID), class(CKO_PUBLIC_KEY)]),
        [public]
    );
    assert!(find(s, &[attr(CKA_LABEL, "other")]).is_empty());
    assert!(find(s, &[class(CKO_CERTIFICATE)]).is_empty());
    assert_eq!(find(s, &[boolean(CKA_SIGN, true)]), [h.private]);
    assert_eq!(find(s, &[boolean(CKA_VERIFY, true)]), [public]);

    let curve = Curve::by_name("secp256r1").unwrap();
    assert_eq!(get(s, h.private, CKA_EC_PARAMS), curve.ec_params_der());
    assert_eq!(get(s, public, CKA_EC_PARAMS), curve.ec_params_der());
    let point = get(s, public, CKA_EC_POINT);
    assert_eq!(
        &point[..3],
        &[0x04, 0x41, 0x04],
        "DER OCTET STRING of 04||X||Y"
    );
    assert_eq!(point.len(), 67);
    assert_eq!(get_ulong(s, h.private, CKA_KEY_TYPE), CKK_EC);
    assert_eq!(
        get_ulong(s, h.private, CKA_KEY_GEN_MECHANISM),
        CKM_EC_KEY_PAIR_GEN
    );
    assert!(get_bool(s, h.private, CKA_SENSITIVE) && get_bool(s, h.private, CKA_PRIVATE));
    // Unrestricted keys are exportable under the DKEK (the device default, issue 4).
    assert!(get_bool(s, h.private, CKA_EXTRACTABLE) && !get_bool(s, h.private, CKA_DECRYPT));
    assert!(!get_bool(s, h.private, CKA_ALWAYS_AUTHENTICATE));
    assert!(get_bool(s, h.private, CKA_DERIVE) && get_bool(s, h.private, CKA_LOCAL));
    assert!(!get_bool(s, public, CKA_PRIVATE) && get_bool(s, public, CKA_TOKEN));
    assert!(get(s, h.private, CKA_SUBJECT).is_empty());
    assert!(get(s, h.private, CKA_START_DATE).is_empty());
    let answers = api::get_attributes(
        s,
        h.private,
        &[CKA_VALUE, CKA_ALLOWED_MECHANISMS, CKA_LABEL, 0x7777],
    )
    .unwrap();
    assert_eq!(
        answers,
        [
            AttributeValue::Sensitive,
            AttributeValue::Invalid,
            AttributeValue::Value(b"ec key".to_vec()),
            AttributeValue::Invalid
        ]
    );
    assert_eq!(
        api::get_attributes(s, 0xDEAD, &[CKA_CLASS]).err(),
        Some(Error::ObjectHandleInvalid)
    );
    // The key interface for the crypto helper.
    let info = session_ref(s).unwrap().key(h.private).unwrap();
    assert_eq!(
        (info.key_type, info.bits, info.curve),
        (CKK_EC, 256, Some(curve))
    );
    assert!(info.permits(CKA_SIGN) && !info.permits(CKA_DECRYPT));
    assert!(info.public.is_some() && info.key_id.is_some());
    assert_eq!(
        session_ref(s).unwrap().key(0xDEAD).err(),
        Some(Error::KeyHandleInvalid)
    );
    // Private keys are out of reach until the user logs in (PKCS#11 2.40 §4.4; OpenSC too).
    api::logout(s).unwrap();
    assert!(find(s, &[class(CKO_PRIVATE_KEY)]).is_empty());
    assert_eq!(
        api::get_attributes(s, h.private, &[CKA_LABEL]).err(),
        Some(Error::ObjectHandleInvalid)
    );
    assert_eq!(find(s, &[class(CKO_PUBLIC_KEY)]), [public]);
}

#[test]
fn another_process_key_is_seen_by_a_new_session() {
    let env = Env::new(&[HSM]);
    let slot = env.slots()[0];
    let s1 = env.session(slot, false);
    api::login(s1, CKU_USER, Some(PIN)).unwrap();
    assert!(find(s1, &[class(CKO_PRIVATE_KEY)]).is_empty());
    let mut other = env.device(0);
    rsa_key_elsewhere(&mut other, "rsa key", &[0x52]);
    // The same session keeps its view; a new session re-enumerates.
    assert!(find(s1, &[class(CKO_PRIVATE_KEY)]).is_empty());
    let s2 = env.session(slot, false);
    let keys = find(s2, &[class(CKO_PRIVATE_KEY)]);
    assert_eq!(keys.len(), 1);
    let k = keys[0];
    assert_eq!(get(s2, k, CKA_LABEL), b"rsa key");
    assert_eq!(get_ulong(s2, k, CKA_MODULUS_BITS), 1024);
    assert_eq!(get(s2, k, CKA_MODULUS).len(), 128);
    assert_eq!(get(s2, k, CKA_PUBLIC_EXPONENT), [1, 0, 1]);
    let pubs = find(s2, &[class(CKO_PUBLIC_KEY), attr(CKA_ID, vec![0x52])]);
    assert_eq!(pubs.len(), 1);
    assert_eq!(get(s2, pubs[0], CKA_MODULUS), get(s2, k, CKA_MODULUS));
    assert!(get_bool(s2, pubs[0], CKA_ENCRYPT) && get_bool(s2, pubs[0], CKA_WRAP));
}

#[test]
fn sensitive_parts_are_refused() {
    let env = Env::new(&[HSM]);
    let mut other = env.device(0);
    rsa_key_elsewhere(&mut other, "rsa", &[1]);
    let s = env.session(env.slots()[0], false);
    api::login(s, CKU_USER, Some(PIN)).unwrap();
    let k = find(s, &[class(CKO_PRIVATE_KEY)])[0];
    let a = api::get_attributes(s, k, &[CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_MODULUS]).unwrap();
    assert_eq!(a[0], AttributeValue::Sensitive);
    assert_eq!(a[1], AttributeValue::Sensitive);
    assert!(matches!(a[2], AttributeValue::Value(_)));
}

#[test]
fn set_label_and_id_rewrite_the_description() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let h = ec_key_through_contract(s, "before");
    let ro = env.session(env.slots()[0], false);
    assert_eq!(
        api::set_attributes(ro, h.private, &[attr(CKA_LABEL, "x")]).err(),
        Some(Error::SessionReadOnly)
    );
    assert_eq!(
        api::set_attributes(s, h.private, &[boolean(CKA_SIGN, false)]).err(),
        Some(Error::AttributeReadOnly)
    );
    assert_eq!(
        api::set_attributes(s, h.private, &[attr(CKA_TOKEN, vec![1, 1])]).err(),
        Some(Error::AttributeValueInvalid)
    );
    // Setting what is already there is harmless.
    api::set_attributes(s, h.private, &[boolean(CKA_TOKEN, true)]).unwrap();
    // NSS's rename after key generation: ID on the private key, then on the public key.
    api::set_attributes(
        s,
        h.private,
        &[attr(CKA_ID, vec![1, 2, 3]), attr(CKA_LABEL, "after")],
    )
    .unwrap();
    api::set_attributes(s, h.public.unwrap(), &[attr(CKA_ID, vec![1, 2, 3])]).unwrap();
    assert_eq!(get(s, h.public.unwrap(), CKA_LABEL), b"after");
    env.reinitialize();
    let s = env.session(env.slots()[0], false);
    api::login(s, CKU_USER, Some(PIN)).unwrap();
    let found = find(s, &[attr(CKA_LABEL, "after"), class(CKO_PRIVATE_KEY)]);
    assert_eq!(found.len(), 1);
    assert_eq!(get(s, found[0], CKA_ID), [1, 2, 3]);
    // OpenSC reads the same description.
    let mut dev = env.device(0);
    let id = dev.key_ids().unwrap()[0];
    let d = KeyDescription::decode(&dev.read_file(Fid::prkd(id)).unwrap()).unwrap();
    assert_eq!(
        (d.common.label.as_str(), d.id.as_slice()),
        ("after", &[1u8, 2, 3][..])
    );
}

#[test]
fn certificates_for_keys_and_ca_certificates() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let h = ec_key_through_contract(s, "signer");
    let ee = data_file("token_ee_cert.der");
    let ca = data_file("token_ca_cert.der");
    let cert_template = |value: &[u8], id: &[u8], label: &str| {
        vec![
            class(CKO_CERTIFICATE),
            attr(CKA_CERTIFICATE_TYPE, ulong(CKC_X_509)),
            boolean(CKA_TOKEN, true),
            attr(CKA_VALUE, value.to_vec()),
            attr(CKA_ID, id.to_vec()),
            attr(CKA_LABEL, label),
        ]
    };
    assert_eq!(
        api::create_object(s, &cert_template(b"not a certificate", EC_ID, "x")).err(),
        Some(Error::AttributeValueInvalid)
    );
    let c = api::create_object(s, &cert_template(&ee, EC_ID, "ignored")).unwrap();
    assert_eq!(get(s, c, CKA_VALUE), ee);
    assert_eq!(get(s, c, CKA_ID), EC_ID);
    assert_eq!(
        get(s, c, CKA_LABEL),
        b"signer",
        "an end-entity certificate shows its key's label"
    );
    assert_eq!(get_ulong(s, c, CKA_CERTIFICATE_TYPE), CKC_X_509);
    assert_eq!(get(s, c, CKA_CHECK_VALUE).len(), 3);
    let subject = get(s, c, CKA_SUBJECT);
    assert_eq!(subject[0], 0x30);
    assert_eq!(get(s, c, CKA_SERIAL_NUMBER)[0], 0x02);
    assert!(!get(s, c, CKA_ISSUER).is_empty());
    assert_eq!(get(s, h.private, CKA_SUBJECT), subject);
    // The card's CE file now holds the certificate.
    let mut dev = env.device(0);
    let id = dev.key_ids().unwrap()[0];
    assert_eq!(dev.read_file(Fid::ee_certificate(id)).unwrap(), ee);

    let a = api::create_object(s, &cert_template(&ca, &[0xCA], "my ca")).unwrap();
    assert_eq!(find(s, &[class(CKO_CERTIFICATE)]), [c, a]);
    assert_eq!(get(s, a, CKA_LABEL), b"my ca");
    api::set_attributes(s, a, &[attr(CKA_LABEL, "renamed ca")]).unwrap();

    env.reinitialize();
    let s = env.user_session();
    let certs = find(s, &[class(CKO_CERTIFICATE)]);
    assert_eq!(certs.len(), 2);
    let ca_h = find(s, &[class(CKO_CERTIFICATE), attr(CKA_ID, vec![0xCA])])[0];
    assert_eq!(get(s, ca_h, CKA_LABEL), b"renamed ca");
    assert_eq!(get(s, ca_h, CKA_VALUE), ca);
    let pub_h = find(s, &[class(CKO_PUBLIC_KEY)])[0];
    // The public key object now comes from the certificate.
    assert_eq!(get(s, pub_h, CKA_PUBLIC_KEY_INFO)[0], 0x30);
    api::destroy_object(s, ca_h).unwrap();
    let ee_h = find(s, &[class(CKO_CERTIFICATE)])[0];
    assert_eq!(
        api::destroy_object(s, pub_h).err(),
        Some(Error::ActionProhibited)
    );
    api::destroy_object(s, ee_h).unwrap();
    assert!(find(s, &[class(CKO_CERTIFICATE)]).is_empty());
    assert!(
        find(s, &[class(CKO_PUBLIC_KEY)]).is_empty(),
        "it was the certificate's key"
    );
    assert_eq!(find(s, &[class(CKO_PRIVATE_KEY)]).len(), 1);
    env.reinitialize();
    let s = env.session(env.slots()[0], false);
    assert!(find(s, &[class(CKO_CERTIFICATE)]).is_empty());
}

#[test]
fn data_objects_public_and_private() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let oid_der = vec![0x06, 0x03, 0x2A, 0x03, 0x04];
    let data = |private: bool, label: &str, value: &[u8]| {
        vec![
            class(CKO_DATA),
            boolean(CKA_TOKEN, true),
            boolean(CKA_PRIVATE, private),
            attr(CKA_LABEL, label),
            attr(CKA_APPLICATION, "schsm tests"),
            attr(CKA_OBJECT_ID, oid_der.clone()),
            attr(CKA_VALUE, value.to_vec()),
        ]
    };
    let public = api::create_object(s, &data(false, "public data", b"hello")).unwrap();
    let private = api::create_object(s, &data(true, "secret data", b"psst")).unwrap();
    assert_eq!(get(s, private, CKA_VALUE), b"psst");
    api::set_attributes(s, public, &[attr(CKA_LABEL, "public renamed")]).unwrap();

    env.reinitialize();
    let slot = env.slots()[0];
    let ro = env.session(slot, false);
    let visible = find(ro, &[class(CKO_DATA)]);
    assert_eq!(visible.len(), 1, "private data needs login");
    assert_eq!(get(ro, visible[0], CKA_LABEL), b"public renamed");
    assert_eq!(get(ro, visible[0], CKA_VALUE), b"hello");
    assert_eq!(get(ro, visible[0], CKA_APPLICATION), b"schsm tests");
    assert_eq!(get(ro, visible[0], CKA_OBJECT_ID), oid_der);
    api::login(ro, CKU_USER, Some(PIN)).unwrap();
    let secret = find(ro, &[class(CKO_DATA), attr(CKA_LABEL, "secret data")]);
    assert_eq!(secret.len(), 1);
    assert_eq!(get(ro, secret[0], CKA_VALUE), b"psst");
    assert!(get_bool(ro, secret[0], CKA_PRIVATE));
    assert_eq!(find(ro, &[attr(CKA_VALUE, b"psst".to_vec())]), secret);
    assert_eq!(
        api::destroy_object(ro, secret[0]).err(),
        Some(Error::SessionReadOnly)
    );
    let rw = env.session(slot, true);
    api::destroy_object(rw, secret[0]).unwrap();
    api::logout(rw).unwrap();
    assert_eq!(
        api::destroy_object(rw, visible[0]).err(),
        Some(Error::UserNotLoggedIn)
    );
    // Token objects need a logged-in user and a read-write session.
    assert_eq!(
        api::create_object(rw, &data(false, "x", b"x")).err(),
        Some(Error::UserNotLoggedIn)
    );
}

#[test]
fn session_objects_live_with_their_session() {
    let env = Env::new(&[HSM]);
    let slot = env.slots()[0];
    let a = env.session(slot, false);
    let b = env.session(slot, false);
    let d = api::create_object(a, &[class(CKO_DATA), attr(CKA_VALUE, b"tmp".to_vec())]).unwrap();
    assert_eq!(find(b, &[class(CKO_DATA)]), [d]);
    assert!(!get_bool(b, d, CKA_TOKEN));
    api::set_attributes(b, d, &[attr(CKA_LABEL, "named")]).unwrap();
    assert_eq!(get(a, d, CKA_LABEL), b"named");
    let curve = Curve::by_name("secp256r1").unwrap();
    let mut point = vec![0x04, 0x41, 0x04];
    point.extend([1u8; 64]);
    let pk = api::create_object(
        a,
        &[
            class(CKO_PUBLIC_KEY),
            attr(CKA_KEY_TYPE, ulong(CKK_EC)),
            attr(CKA_EC_PARAMS, curve.ec_params_der()),
            attr(CKA_EC_POINT, point.clone()),
        ],
    )
    .unwrap();
    assert_eq!(get(a, pk, CKA_EC_POINT), point);
    assert_eq!(
        api::create_object(
            a,
            &[class(CKO_SECRET_KEY), attr(CKA_KEY_TYPE, ulong(CKK_AES))]
        )
        .err(),
        Some(Error::TemplateInconsistent)
    );
    assert_eq!(
        api::create_object(a, &[attr(CKA_LABEL, "no class")]).err(),
        Some(Error::TemplateIncomplete)
    );
    api::close_session(a).unwrap();
    assert!(find(b, &[class(CKO_DATA)]).is_empty());
    assert_eq!(
        api::get_attributes(b, pk, &[CKA_CLASS]).err(),
        Some(Error::ObjectHandleInvalid)
    );
}

#[test]
fn destroying_a_key_deletes_its_files() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let h = ec_key_through_contract(s, "doomed");
    let mut dev = env.device(0);
    let id = dev.key_ids().unwrap()[0];
    api::destroy_object(s, h.private).unwrap();
    // The public key is an object of its own: it stays until destroyed (pkcs11-tool --test-ec
    // destroys the private key first, then the public key).
    let public = h.public.unwrap();
    assert_eq!(find(s, &[]), [public]);
    let fids = dev.enumerate().unwrap();
    for f in [Fid::key(id), Fid::prkd(id)] {
        assert!(!fids.contains(&f), "{f} still there");
    }
    assert_eq!(
        api::destroy_object(s, h.private).err(),
        Some(Error::ObjectHandleInvalid)
    );
    api::destroy_object(s, public).unwrap();
    assert!(find(s, &[]).is_empty());
    assert!(!dev.enumerate().unwrap().contains(&Fid::ee_certificate(id)));
    // A new key may reuse the key id, never the handle.
    let again = ec_key_through_contract(s, "new");
    assert!(again.private > h.public.unwrap());
}

/// A C_UnwrapKey cut before the card imported the key leaves the description it wrote first
/// (C4xx) at a reference without key: not a key for us, deleted at the next listing by the
/// logged-in user; a certificate at such a reference (a destroyed key's) stays.
#[test]
fn descriptions_without_key_are_cleared() {
    let env = Env::new(&[HSM]);
    let mut dev = env.device(0);
    dev.verify_pin(PIN).unwrap();
    let desc = KeyDescription::opensc(KeyKind::Ec, "ghost", &[0x66], KeyUsage::SIGN, 7, 256);
    dev.write_file(Fid::prkd(7), &desc.encode()).unwrap();
    let cert = data_file("token_ee_cert.der");
    dev.write_file(Fid::ee_certificate(9), &cert).unwrap();
    dev.logout().unwrap();

    // Without login nothing is written (and private keys are not listed).
    let slot = env.slots()[0];
    let s = env.session(slot, true);
    assert!(find(s, &[class(CKO_PRIVATE_KEY)]).is_empty());
    assert!(dev.enumerate().unwrap().contains(&Fid::prkd(7)));

    api::login(s, CKU_USER, Some(PIN)).unwrap();
    assert!(find(s, &[class(CKO_PRIVATE_KEY)]).is_empty());
    let fids = dev.enumerate().unwrap();
    assert!(
        !fids.contains(&Fid::prkd(7)),
        "the ghost description is still there"
    );
    assert!(
        fids.contains(&Fid::ee_certificate(9)),
        "a lone certificate was deleted"
    );
}
