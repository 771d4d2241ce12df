//! Tests of the key blob format against PROTOCOL §8 and the real Nitrokey HSM 2 vector.

use super::*;
use crate::crypto::{generate_aes, generate_ec, generate_rsa, tlv};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn key32(s: &str) -> [u8; 32] {
    unhex(s).try_into().unwrap()
}

const REAL_DKEK: &str = "2848cb6e994f5a00c365c3c255ed130512ce1eb06bf08d348eeb8b2f866e3e50";

/// The real wrapped-key file, from shared/ beside the repository (absent in some checkouts).
fn real_wky() -> Option<Vec<u8>> {
    let dir = env!("CARGO_MANIFEST_DIR");
    for rel in ["/../../shared/vectors", "/../shared/vectors"] {
        let path = format!("{dir}{rel}/nitrokey-hsm2-secp256k1.wky");
        if let Ok(bytes) = std::fs::read(&path) {
            return Some(bytes);
        }
    }
    eprintln!(
        "SKIPPED: shared/vectors/nitrokey-hsm2-secp256k1.wky not found beside the repository"
    );
    None
}

/// The 363-byte key blob: the OCTET STRING inside the outer SEQUENCE of the .wky file.
fn real_blob(wky: &[u8]) -> Vec<u8> {
    let (outer, _) = tlv::decode(wky).unwrap();
    assert_eq!(outer.tag, 0x30);
    let items = tlv::decode_all(outer.value).unwrap();
    let blob = tlv::find(&items, 0x04).unwrap().to_vec();
    assert_eq!(blob.len(), 363);
    blob
}

fn key_of(material: KeyMaterial, algorithms: &[u8]) -> Key {
    Key {
        material,
        algorithms: algorithms.to_vec(),
        domain: 0,
        use_counter: None,
        default_algorithm: Vec::new(),
    }
}

#[test]
fn kcv_and_derived_keys_match_protocol_vectors() {
    let zero = [0u8; 32];
    assert_eq!(kcv(&zero).to_vec(), unhex("66687AADF862BD77"));
    assert_eq!(
        k_enc(&zero).to_vec(),
        unhex("2158A8906D5E2C2BE001BAC943AB9CAB4063536E1C546B40221FDF8DB031A4BB")
    );
    assert_eq!(
        k_mac(&zero).to_vec(),
        unhex("E15F374423633701E04FE17C1D640B34F2E27B8F6AEC00E24F1DCF50AD0920B3")
    );

    // Two shares 00..1F and FF..FF XOR to FFFEFD..E0.
    let first: [u8; 32] = std::array::from_fn(|i| i as u8);
    assert_eq!(kcv(&first).to_vec(), unhex("630DCD2966C43366"));
    let both: [u8; 32] = std::array::from_fn(|i| first[i] ^ 0xFF);
    assert_eq!(both[0..2], [0xFF, 0xFE]);
    assert_eq!(kcv(&both).to_vec(), unhex("1865C00831E73F7E"));

    let real = key32(REAL_DKEK);
    assert_eq!(kcv(&real).to_vec(), unhex("97E303855DC1C54D"));
    assert_eq!(
        k_enc(&real).to_vec(),
        unhex("44F880EAF1498698BBE8121243143CDBF363079949BC1C7438D8B376E2A8AF63")
    );
    assert_eq!(
        k_mac(&real).to_vec(),
        unhex("00FB47A5D4272BAA794AF546BB3E0B84A259D3AF61F651C4CC4D6F9637F44244")
    );
}

#[test]
fn real_nitrokey_secp256k1_blob_unwraps() {
    let Some(wky) = real_wky() else { return };
    let blob = real_blob(&wky);
    assert_eq!(blob[..8], unhex("97e303855dc1c54d")[..]);
    let key = unwrap(&key32(REAL_DKEK), &blob).unwrap();
    assert!(key.algorithms.is_empty());
    assert_eq!(key.default_algorithm, OID_TA_ECDSA_SHA256);
    assert_eq!((key.domain, key.use_counter), (0, None));
    let KeyMaterial::Ec { curve, d, q } = &key.material else {
        panic!("not an EC key")
    };
    assert_eq!(curve, "secp256k1");
    // d·G = Q, checked independently with k256.
    let sk = k256::SecretKey::from_slice(d).unwrap();
    let pk = sk.public_key();
    assert_eq!(
        &k256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(pk.as_affine(), false)
            .as_bytes()
            .to_vec(),
        q
    );
    assert_eq!(q[..5], unhex("04A19764D6")[..]);

    // Q equals the public point (tag 86) of the CV request stored in the same file.
    let (outer, _) = tlv::decode(&wky).unwrap();
    let items = tlv::decode_all(outer.value).unwrap();
    let request = tlv::decode_all(tlv::find(&items, 0x67).unwrap()).unwrap();
    let cert = tlv::decode_all(tlv::find(&request, 0x7F21).unwrap()).unwrap();
    let body = tlv::decode_all(tlv::find(&cert, 0x7F4E).unwrap()).unwrap();
    let pubkey = tlv::decode_all(tlv::find(&body, 0x7F49).unwrap()).unwrap();
    assert_eq!(tlv::find(&pubkey, 0x86).unwrap(), &q[..]);

    // Re-wrapping gives the same layout as the card's: same header, same length.
    let again = wrap(&key32(REAL_DKEK), &key).unwrap();
    assert_eq!(again.len(), blob.len());
    assert_eq!(again[..27], blob[..27]);
}

#[test]
fn real_blob_errors() {
    let Some(wky) = real_wky() else { return };
    let blob = real_blob(&wky);
    let dkek = key32(REAL_DKEK);
    assert_eq!(
        unwrap(&[0u8; 32], &blob).unwrap_err(),
        CryptoError::KcvMismatch
    );
    for pos in [8usize, 30, 200, 362] {
        let mut bad = blob.clone();
        bad[pos] ^= 0x01;
        assert_eq!(
            unwrap(&dkek, &bad).unwrap_err(),
            CryptoError::MacMismatch,
            "byte {pos}"
        );
    }
    for len in [0usize, 5, 8, 20, 27, 40, 362] {
        assert_eq!(
            unwrap(&dkek, &blob[..len]).unwrap_err(),
            CryptoError::Malformed,
            "len {len}"
        );
    }
}

fn round_trip(material: KeyMaterial, algorithms: &[u8]) -> Vec<u8> {
    let dkek: [u8; 32] = random_bytes(32).try_into().unwrap();
    let key = key_of(material, algorithms);
    let blob = wrap(&dkek, &key).unwrap();
    let back = unwrap(&dkek, &blob).unwrap();
    assert_eq!(back.material, key.material);
    assert_eq!(back.algorithms, algorithms);
    // A fresh random prefix each time: two exports differ.
    assert_ne!(wrap(&dkek, &key).unwrap(), blob);
    // Other DKEK, tampering, truncation.
    let other: [u8; 32] = random_bytes(32).try_into().unwrap();
    assert_eq!(unwrap(&other, &blob).unwrap_err(), CryptoError::KcvMismatch);
    let mut bad = blob.clone();
    let mid = blob.len() / 2;
    bad[mid] ^= 0x80;
    assert_eq!(unwrap(&dkek, &bad).unwrap_err(), CryptoError::MacMismatch);
    assert_eq!(
        unwrap(&dkek, &blob[..blob.len() - 1]).unwrap_err(),
        CryptoError::Malformed
    );
    blob
}

#[test]
fn ec_round_trip_every_curve() {
    for curve in curves::supported() {
        let blob = round_trip(generate_ec(curve), &[0x73, 0x92]);
        assert_eq!(blob[8], TYPE_EC, "{}", curve.name);
        assert_eq!(
            blob[9..21],
            [&[0, 10][..], OID_TA_ECDSA_SHA256].concat()[..]
        );
        assert_eq!(blob[21..27], [0, 2, 0x73, 0x92, 0, 0]);
        // The key block holds A, B, P, N, D at full width: size known exactly.
        let w = curve.field_len();
        let plain_len = 8 + 2 + 5 * (2 + w) + 2 * (2 + 1 + 2 * w) + 1;
        assert_eq!(
            blob.len(),
            8 + 1 + 12 + 4 + 2 + 2 + plain_len.div_ceil(16) * 16 + 16
        );
    }
}

#[test]
fn p521_key_size_field_is_528() {
    let dkek = [7u8; 32];
    let key = key_of(generate_ec(curves::by_name("secp521r1").unwrap()), &[]);
    let blob = wrap(&dkek, &key).unwrap();
    let mut plain = blob[27..blob.len() - 16].to_vec();
    let dec = cbc::Decryptor::<Aes256>::new(&k_enc(&dkek).into(), &[0u8; 16].into());
    dec.decrypt_padded::<NoPadding>(&mut plain).unwrap();
    assert_eq!(plain[8..10], 528u16.to_be_bytes());
}

#[test]
fn rsa_round_trips_crt_and_private_exponent_forms() {
    let material = generate_rsa(1024, &[1, 0, 1]).unwrap();
    let blob = round_trip(material.clone(), &[0x20, 0x92]);
    assert_eq!(blob[8], TYPE_RSA_CRT);
    assert_eq!(
        blob[9..21],
        [&[0, 10][..], OID_TA_RSA_V15_SHA256].concat()[..]
    );

    // Type 5 (as emitted above 2048 bits) imports back to the same key (primes recovered).
    let dkek = [3u8; 32];
    let key = key_of(material, &[]);
    let blob5 = wrap_as(&dkek, &key, false).unwrap();
    assert_eq!(blob5[8], TYPE_RSA);
    let back = unwrap(&dkek, &blob5).unwrap();
    let (KeyMaterial::Rsa { n: n1, d: d1, .. }, KeyMaterial::Rsa { n: n2, d: d2, .. }) =
        (&back.material, &key.material)
    else {
        panic!()
    };
    assert_eq!((n1, d1), (n2, d2));
    assert_eq!(
        crate::crypto::rsa_raw(&back.material, &[0x11; 128]),
        crate::crypto::rsa_raw(&key.material, &[0x11; 128])
    );
}

#[test]
fn rsa_2048_round_trip() {
    let blob = round_trip(generate_rsa(2048, &[1, 0, 1]).unwrap(), &[0x20]);
    assert_eq!(blob[8], TYPE_RSA_CRT);
}

#[test]
fn aes_round_trips() {
    for len in [16usize, 24, 32] {
        let blob = round_trip(generate_aes(len).unwrap(), &[0x10, 0x11, 0x18, 0x92]);
        assert_eq!(blob[8], TYPE_AES);
        assert_eq!(blob[9..19], [&[0, 8][..], OID_AES].concat()[..]);
    }
}

#[test]
fn default_algorithm_of_the_key_is_kept() {
    let dkek = [9u8; 32];
    let mut key = key_of(generate_aes(16).unwrap(), &[]);
    key.default_algorithm = vec![0x2A, 0x03];
    let blob = wrap(&dkek, &key).unwrap();
    assert_eq!(
        unwrap(&dkek, &blob).unwrap().default_algorithm,
        vec![0x2A, 0x03]
    );
}

/// Build a blob from a chosen plaintext block (already padded or aligned), as another encoder
/// (pico, sc-hsm-tool users' scripts) might.
fn seal(dkek: &[u8; 32], key_type: u8, plain: &[u8]) -> Vec<u8> {
    assert_eq!(plain.len() % 16, 0);
    let mut blob = kcv(dkek).to_vec();
    blob.push(key_type);
    blob.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    let mut ct = plain.to_vec();
    let enc = cbc::Encryptor::<Aes256>::new(&k_enc(dkek).into(), &[0u8; 16].into());
    enc.encrypt_padded::<NoPadding>(&mut ct, plain.len())
        .unwrap();
    blob.extend_from_slice(&ct);
    let mac = cmac(dkek, &blob);
    blob.extend_from_slice(&mac);
    blob
}

fn field(out: &mut Vec<u8>, v: &[u8]) {
    out.extend_from_slice(&(v.len() as u16).to_be_bytes());
    out.extend_from_slice(v);
}

/// A pico-style secp256k1 block: minimal integers, no padding when aligned.
fn pico_ec_block(d: &[u8], q: &[u8]) -> Vec<u8> {
    let c = curves::by_name("secp256k1").unwrap();
    let minimal = |v: &'static [u8]| &v[v.iter().position(|&b| b != 0).unwrap_or(v.len())..];
    let mut plain = vec![0x55; 8];
    plain.extend_from_slice(&256u16.to_be_bytes());
    field(&mut plain, minimal(c.a)); // empty
    field(&mut plain, &[0, 0, 0, 0, 0, 7]); // b with extra zeros: non-minimal is tolerated too
    field(&mut plain, c.p);
    field(&mut plain, c.n);
    field(&mut plain, c.g);
    field(&mut plain, d);
    field(&mut plain, q);
    plain
}

#[test]
fn unpadded_minimal_ec_block_is_accepted() {
    let dkek = [5u8; 32];
    let KeyMaterial::Ec { d, q, .. } = generate_ec(curves::by_name("secp256k1").unwrap()) else {
        panic!()
    };
    let plain = pico_ec_block(&d, &q);
    assert_eq!(
        plain.len(),
        256,
        "the block is aligned, so no padding at all"
    );
    let key = unwrap(&dkek, &seal(&dkek, TYPE_EC, &plain)).unwrap();
    assert_eq!(
        key.material,
        KeyMaterial::Ec {
            curve: "secp256k1".into(),
            d,
            q
        }
    );
}

#[test]
fn ec_key_whose_point_does_not_match_d_is_refused() {
    let dkek = [5u8; 32];
    let curve = curves::by_name("secp256k1").unwrap();
    let KeyMaterial::Ec { d, .. } = generate_ec(curve) else {
        panic!()
    };
    let KeyMaterial::Ec { q: other_q, .. } = generate_ec(curve) else {
        panic!()
    };
    let blob = seal(&dkek, TYPE_EC, &pico_ec_block(&d, &other_q));
    assert_eq!(unwrap(&dkek, &blob).unwrap_err(), CryptoError::Malformed);
    // A point off the curve.
    let mut off = other_q.clone();
    off[64] ^= 1;
    let blob = seal(&dkek, TYPE_EC, &pico_ec_block(&d, &off));
    assert_eq!(unwrap(&dkek, &blob).unwrap_err(), CryptoError::Malformed);
}

#[test]
fn garbage_after_components_and_unknown_types_are_refused() {
    let dkek = [5u8; 32];
    let mut plain = vec![0u8; 8];
    plain.extend_from_slice(&16u16.to_be_bytes());
    plain.extend_from_slice(&[0xAA; 16]);
    plain.extend_from_slice(&[0x81, 0, 0, 0, 0, 0]); // bad padding byte
    assert_eq!(
        unwrap(&dkek, &seal(&dkek, TYPE_AES, &plain)).unwrap_err(),
        CryptoError::Malformed
    );
    plain[26] = 0x80;
    assert!(unwrap(&dkek, &seal(&dkek, TYPE_AES, &plain)).is_ok());
    assert_eq!(
        unwrap(&dkek, &seal(&dkek, 0x42, &plain)).unwrap_err(),
        CryptoError::Unsupported
    );
    // An AES size that is not 16/24/32.
    plain[9] = 20;
    assert_eq!(
        unwrap(&dkek, &seal(&dkek, TYPE_AES, &plain)).unwrap_err(),
        CryptoError::Malformed
    );
}
