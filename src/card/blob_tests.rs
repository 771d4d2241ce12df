//! Tests of the key blob codec (the real-device blob is tested in vector_tests.rs).

use super::*;
use crate::card::dkek::DkekShare;

fn dkek(byte: u8) -> Dkek {
    Dkek::from_shares(&[DkekShare::new([byte; 32])])
}

fn ec_key() -> BlobKey {
    let c = Curve::by_name("secp256r1").unwrap();
    BlobKey::ec(c, &[0x42; 32], &c.generator()).unwrap()
}

fn all_kinds() -> Vec<BlobKey> {
    vec![
        ec_key(),
        BlobKey::Rsa {
            bits: 1024,
            d: SecretBytes::from_slice(&[3; 128]),
            n: vec![0xC5; 128],
            e: vec![1, 0, 1],
        },
        BlobKey::RsaCrt {
            bits: 1024,
            dp: SecretBytes::from_slice(&[1; 64]),
            dq: SecretBytes::from_slice(&[2; 64]),
            p: SecretBytes::from_slice(&[3; 64]),
            qinv: SecretBytes::from_slice(&[4; 64]),
            q: SecretBytes::from_slice(&[5; 64]),
            n: vec![6; 128],
            e: vec![1, 0, 1],
        },
        BlobKey::Aes {
            key: SecretBytes::from_slice(&[9; 32]),
        },
    ]
}

#[test]
fn encode_decode_round_trip_for_every_key_type() {
    let d = dkek(0x5A);
    for key in all_kinds() {
        let header = BlobHeader::new(key.key_type(), vec![0x73, 0x92]).unwrap();
        let bytes = encode(&d, &header, &key, &[7; 8]).unwrap();
        let blob = KeyBlob::parse(&bytes).unwrap();
        assert_eq!(blob.header.kcv, d.kcv());
        assert_eq!(blob.header.algorithms, [0x73, 0x92]);
        assert_eq!(blob.as_bytes(), bytes.as_slice());
        assert_eq!(blob.decrypt(&d).unwrap(), key);
    }
    assert_eq!(ec_key().curve().unwrap().name, "secp256r1");
}

#[test]
fn header_layout_matches_8_3() {
    let d = dkek(1);
    let bytes = encode(
        &d,
        &BlobHeader::new(key_type::EC, vec![]).unwrap(),
        &ec_key(),
        &[0; 8],
    )
    .unwrap();
    assert_eq!(&bytes[..8], &d.kcv());
    assert_eq!(bytes[8], 0x0C);
    assert_eq!(&bytes[9..11], &[0, 10]);
    assert_eq!(&bytes[11..21], default_algorithm::EC);
    assert_eq!(&bytes[21..27], &[0; 6]);
    assert_eq!((bytes.len() - 27) % 16, 0);
}

#[test]
fn tampering_is_a_mac_error() {
    let d = dkek(2);
    let bytes = encode(
        &d,
        &BlobHeader::new(key_type::EC, vec![]).unwrap(),
        &ec_key(),
        &[0; 8],
    )
    .unwrap();
    for i in [8, 20, 30, bytes.len() - 17, bytes.len() - 1] {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        let blob = KeyBlob::parse(&t).unwrap();
        assert_eq!(blob.decrypt(&d), Err(Error::BlobMacMismatch), "byte {i}");
    }
}

#[test]
fn wrong_dkek_is_a_kcv_error() {
    let bytes = encode(
        &dkek(3),
        &BlobHeader::new(key_type::EC, vec![]).unwrap(),
        &ec_key(),
        &[0; 8],
    )
    .unwrap();
    let blob = KeyBlob::parse(&bytes).unwrap();
    match blob.decrypt(&dkek(4)) {
        Err(Error::KcvMismatch { expected, found }) => {
            assert_eq!(expected, dkek(4).kcv());
            assert_eq!(found, dkek(3).kcv());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reencode_drops_the_algorithm_list() {
    let d = dkek(5);
    let orig = encode(
        &d,
        &BlobHeader::new(key_type::EC, vec![0x73, 0x92]).unwrap(),
        &ec_key(),
        &[1; 8],
    )
    .unwrap();
    let blob = KeyBlob::parse(&orig).unwrap();
    let bare = KeyBlob::parse(&blob.reencode(&d, &[], &[2; 8]).unwrap()).unwrap();
    assert!(bare.header.algorithms.is_empty());
    assert_eq!(bare.decrypt(&d).unwrap(), ec_key());
}

#[test]
fn minimal_integers_and_missing_padding_are_accepted() {
    // pico-hsm style: a has length 0, no padding when the plaintext is block-aligned.
    let d = dkek(6);
    let c = Curve::by_name("secp256k1").unwrap();
    let mut plain = vec![0u8; 8];
    plain.extend_from_slice(&256u16.to_be_bytes());
    let g = c.generator();
    let comps: [&[u8]; 7] = [&[], &[7], &c.prime(), &c.order(), &g, &[1; 32], &g];
    for comp in comps {
        plain.extend_from_slice(&(comp.len() as u16).to_be_bytes());
        plain.extend_from_slice(comp);
    }
    // Pad by hand with zero-length-free filler so that it ends block-aligned without 80.
    while plain.len() % 16 != 0 {
        plain.push(0);
    }
    let mut out = Vec::new();
    BlobHeader::new(key_type::EC, vec![])
        .unwrap()
        .encode(&mut out)
        .unwrap();
    out[..8].copy_from_slice(&d.kcv());
    let mut ct =
        crypto::aes256_cbc_encrypt(d.enc_key().expose(), &[0; 16], &plain, Padding::Iso9797M2);
    ct.truncate(plain.len()); // drop the M2 block: what remains is the unpadded plaintext's encryption
    out.extend_from_slice(&ct);
    let mac = crypto::aes256_cmac(d.mac_key().expose(), &out);
    out.extend_from_slice(&mac);
    let key = KeyBlob::parse(&out).unwrap().decrypt(&d).unwrap();
    assert_eq!(key.curve().unwrap().name, "secp256k1");
}

#[test]
fn truncated_or_garbage_blobs_never_panic() {
    let d = dkek(7);
    let bytes = encode(
        &d,
        &BlobHeader::new(key_type::EC, vec![1, 2]).unwrap(),
        &ec_key(),
        &[0; 8],
    )
    .unwrap();
    for cut in 0..bytes.len() {
        if let Ok(b) = KeyBlob::parse(&bytes[..cut]) {
            assert!(b.decrypt(&d).is_err());
        }
    }
    // A well-formed, correctly MACed blob whose plaintext lies about its lengths.
    let lying = BlobKey::Aes {
        key: SecretBytes::from_slice(&[1; 16]),
    };
    let mut out = encode(
        &d,
        &BlobHeader::new(key_type::AES, vec![]).unwrap(),
        &lying,
        &[0; 8],
    )
    .unwrap();
    out[8] = key_type::EC; // header now claims EC; re-MAC so only the plaintext parse can fail
    let n = out.len() - 16;
    let mac = crypto::aes256_cmac(d.mac_key().expose(), &out[..n]);
    out[n..].copy_from_slice(&mac);
    assert!(KeyBlob::parse(&out).unwrap().decrypt(&d).is_err());
    assert!(encode(
        &d,
        &BlobHeader::new(key_type::RSA, vec![]).unwrap(),
        &ec_key(),
        &[0; 8]
    )
    .is_err());
}
