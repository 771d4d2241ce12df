//! Tests against data exported from a real Nitrokey HSM 2 (`shared/vectors/`, see its README).
//! The files sit next to the clone in CI; when they are absent the tests say so and pass.

use k256::elliptic_curve::sec1::ToSec1Point;

use super::blob::{key_type, BlobKey, KeyBlob};
use super::cvc::PublicKey;
use super::dkek::Dkek;
use super::prkd::KeyKind;
use super::share_file;
use super::wrapped_file::WrappedKeyFile;

const SHARE: &str = "2848cb6e994f5a00c365c3c255ed130512ce1eb06bf08d348eeb8b2f866e3e50";

fn vector(name: &str) -> Option<Vec<u8>> {
    let path = format!("{}/../shared/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("SKIP: real-device vector {path} not available ({e})");
            None
        }
    }
}

fn real_dkek() -> Dkek {
    Dkek::from_bytes(hex::decode(SHARE).unwrap().try_into().unwrap())
}

#[test]
fn share_file_decrypts_with_the_password() {
    let Some(file) = vector("nitrokey-hsm2-dkek-share.pbe") else {
        return;
    };
    let share =
        share_file::decrypt_share_file(&file, b"passwordpassword", share_file::DEFAULT_ITERATIONS)
            .expect("share file decrypts");
    assert_eq!(hex::encode(share.expose()), SHARE);
    assert_eq!(hex::encode(share.kcv()), "97e303855dc1c54d");
}

#[test]
fn wrapped_key_file_decodes_verifies_and_matches_its_request() {
    let Some(file) = vector("nitrokey-hsm2-secp256k1.wky") else {
        return;
    };
    let w = WrappedKeyFile::decode(&file).unwrap();
    assert_eq!(w.encode(), file, "re-encoding the file is byte-exact");

    // The key description: OpenSC's EC PRKD of §7.1.
    let prkd = w.key_description().unwrap().unwrap();
    assert_eq!(
        (prkd.kind, prkd.common.label.as_str()),
        (KeyKind::Ec, "btc-test")
    );
    assert_eq!(prkd.encode(), w.prkd.clone().unwrap());

    // The CV request of §6.2.
    let req = w.cv_request().unwrap().unwrap();
    assert_eq!(req.inner.body.car.as_deref(), Some("UTCA00001"));
    assert_eq!(req.chr(), "DENK010570200001");
    assert_eq!(req.outer_car.as_deref(), Some("DENK010570200000"));
    let PublicKey::Ec { curve, point } = req.public_key() else {
        panic!("not EC")
    };
    assert_eq!(curve.unwrap().name, "secp256k1");

    // The blob: clear header, CMAC, decryption.
    let blob = KeyBlob::parse(&w.blob).unwrap();
    assert_eq!(w.blob.len(), 363);
    assert_eq!(hex::encode(blob.header.kcv), "97e303855dc1c54d");
    assert_eq!(blob.header.key_type, key_type::EC);
    assert!(blob.header.algorithms.is_empty());
    let dkek = real_dkek();
    blob.verify(&dkek).expect("CMAC verifies");
    let key = blob.decrypt(&dkek).unwrap();
    let BlobKey::Ec {
        bits,
        ref a,
        ref d,
        ref q,
        ..
    } = key
    else {
        panic!("not EC")
    };
    assert_eq!(bits, 256);
    assert_eq!(a, &vec![0u8; 32], "the card writes A at full width");
    assert_eq!(key.curve().unwrap().name, "secp256k1");
    assert_eq!(q, point, "blob Q equals the request's public point");

    // d·G = Q with independent arithmetic.
    let sk = k256::SecretKey::from_slice(d.expose()).unwrap();
    let computed = sk.public_key().to_sec1_point(false);
    assert_eq!(computed.as_bytes(), point.as_slice());

    // A foreign DKEK is refused by KCV; a tampered blob by MAC.
    assert!(matches!(
        blob.decrypt(&Dkek::zero()),
        Err(super::Error::KcvMismatch { .. })
    ));
    let mut bad = w.blob.clone();
    bad[100] ^= 0x80;
    assert_eq!(
        KeyBlob::parse(&bad).unwrap().decrypt(&dkek),
        Err(super::Error::BlobMacMismatch)
    );
}
