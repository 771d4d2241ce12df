//! More of the card layer against the in-process simulator: AES, ECDH, RSA decipher, old
//! firmware, PIN management and initialization.

mod card_support;

use p256::elliptic_curve::sec1::ToSec1Point;

use card_support::*;
use schsm_pkcs11::card::blob::{BlobKey, KeyBlob};
use schsm_pkcs11::card::curves::Curve;
use schsm_pkcs11::card::keys::{KeyGenParams, KeySpec};
use schsm_pkcs11::card::{Dkek, Error, Fid, PinStatus, SignAlgorithm};

#[test]
fn aes_ecdh_and_rsa_decipher_on_firmware_3_5() {
    use cbc::cipher::block_padding::NoPadding;
    use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
    use schsm_pkcs11::card::keys::{AesKeySize, SymKeyParams};
    use schsm_pkcs11::card::CipherAlgorithm;

    let tmp = TempDevice::new("3.5", Some(1));
    let mut dev = tmp.open();
    dev.verify_pin(PIN).unwrap();
    dev.import_dkek_share(&share()).unwrap();
    let dkek = Dkek::from_shares(&[share()]);

    // AES-256: the card's CBC encryption equals the host's with the key from the blob.
    dev.generate_aes_key(1, AesKeySize::Aes256, &SymKeyParams::default())
        .unwrap();
    let plain = [0x42u8; 32];
    let card_ct = dev
        .cipher(1, CipherAlgorithm::AesCbcEncrypt, &plain)
        .unwrap();
    let back = dev
        .cipher(1, CipherAlgorithm::AesCbcDecrypt, card_ct.expose())
        .unwrap();
    assert_eq!(back.expose(), &plain);
    let blob = dev.wrap_key(1).unwrap();
    let BlobKey::Aes { key } = KeyBlob::parse(&blob).unwrap().decrypt(&dkek).unwrap() else {
        panic!("not an AES blob")
    };
    let key: [u8; 32] = key.expose().try_into().unwrap();
    let mut buf = plain;
    let host_ct = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &[0u8; 16].into())
        .encrypt_padded::<NoPadding>(&mut buf, 32)
        .unwrap()
        .to_vec();
    assert_eq!(card_ct.expose(), host_ct.as_slice());

    // ECDH: the card's X equals the host's.
    let params = KeyGenParams::new(KeySpec::Ec(Curve::by_name("secp256r1").unwrap()), SERIAL);
    dev.generate_key_pair(2, &params).unwrap();
    let card_point = ec_point(&mut dev, 2);
    let peer = p256::SecretKey::from_slice(&[0x11; 32]).unwrap();
    let peer_point = peer.public_key().to_sec1_point(false);
    let answer = dev.ecdh(2, peer_point.as_bytes()).unwrap();
    let x = schsm_pkcs11::card::crypto_ops::ecdh_shared_x(answer.expose(), 32).unwrap();
    let card_pub = p256::PublicKey::from_sec1_bytes(&card_point).unwrap();
    let shared = (card_pub.to_projective() * *peer.to_nonzero_scalar()).to_affine();
    let shared = shared.to_sec1_point(false);
    assert_eq!(x.expose(), &shared.as_bytes()[1..33]);

    // RSA raw decipher is the same private-key operation as raw signing.
    let params = KeyGenParams::new(
        KeySpec::Rsa {
            bits: 1024,
            public_exponent: vec![1, 0, 1],
        },
        SERIAL,
    );
    dev.generate_key_pair(3, &params).unwrap();
    let mut block = vec![0u8; 128];
    block[1] = 0x02;
    block[2..]
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i as u8) | 1);
    block[100] = 0;
    let plain = dev.decipher_rsa_raw(3, &block).unwrap();
    let signed = dev.sign(3, SignAlgorithm::RsaRaw, &block).unwrap();
    assert_eq!(plain.expose(), signed.as_slice());
    assert_eq!(plain.len(), 128);

    // GET CHALLENGE gives fresh bytes.
    let a = dev.get_challenge(40).unwrap();
    let b = dev.get_challenge(40).unwrap();
    assert_eq!(a.len(), 40);
    assert_ne!(a, b);
}

#[test]
fn old_firmware_quirks() {
    // 1.2: two-byte tag 85, GAKP needs a CAR (the encoder adds one), no AES.
    let tmp = TempDevice::new("1.2", None);
    let mut dev = tmp.open();
    assert_eq!(dev.profile().version.to_string(), "1.2");
    assert_eq!(dev.profile().options, None);
    assert!(dev.profile().key_generation_requires_car);
    dev.verify_pin(PIN).unwrap();
    let mut params = KeyGenParams::new(KeySpec::Ec(Curve::by_name("secp256r1").unwrap()), SERIAL);
    params.car = None;
    let gen = dev.generate_key_pair(1, &params).unwrap();
    assert_eq!(gen.request.inner.body.car.as_deref(), Some("UTDUMMY00000"));
    assert!(matches!(
        dev.generate_aes_key(
            2,
            schsm_pkcs11::card::keys::AesKeySize::Aes128,
            &Default::default()
        ),
        Err(Error::Unsupported(_))
    ));

    // 2.6 (HSM 1): five-byte tag 85, no P-384.
    let tmp = TempDevice::new("2.6", None);
    let mut dev = tmp.open();
    assert_eq!(dev.profile().options, Some(0x0001));
    assert_eq!(dev.max_apdu_len(), 1462);
    dev.verify_pin(PIN).unwrap();
    let params = KeyGenParams::new(KeySpec::Ec(Curve::by_name("secp384r1").unwrap()), SERIAL);
    assert!(matches!(
        dev.generate_key_pair(1, &params),
        Err(Error::Unsupported(_))
    ));
}

#[test]
fn pin_management_initialize_and_token_info() {
    use schsm_pkcs11::card::pkcs15::TokenInfo;
    use schsm_pkcs11::card::prkd::{KeyDescription, KeyKind};
    use schsm_pkcs11::card::{InitParams, SoPin};

    let tmp = TempDevice::new("3.5", None);
    let mut dev = tmp.open();
    let so = SoPin::new(SO_PIN);

    // Change the PIN, block it, unblock it with the SO-PIN.
    dev.change_pin(PIN, b"12345678").unwrap();
    dev.verify_pin(b"12345678").unwrap();
    dev.logout().unwrap();
    for left in [2, 1] {
        assert_eq!(
            dev.verify_pin(b"00000000"),
            Err(Error::PinIncorrect { tries_left: left })
        );
    }
    let third = dev.verify_pin(b"00000000");
    assert!(
        matches!(
            third,
            Err(Error::PinIncorrect { tries_left: 0 }) | Err(Error::AuthenticationBlocked)
        ),
        "{third:?}"
    );
    assert_eq!(dev.pin_status().unwrap(), PinStatus::Blocked);
    dev.reset_retry_counter(&so, Some(b"87654321")).unwrap();
    dev.verify_pin(b"87654321").unwrap();

    // TokenInfo and a key description written by the host read back identically.
    let ti = TokenInfo::with_label("card layer test");
    dev.write_file(Fid::TOKEN_INFO, &ti.encode()).unwrap();
    assert_eq!(
        TokenInfo::decode(&dev.read_file(Fid::TOKEN_INFO).unwrap()).unwrap(),
        ti
    );
    let prkd = KeyDescription::opensc(KeyKind::Ec, "k1", &[1; 20], 0x104, 1, 256);
    dev.write_file(Fid::prkd(1), &prkd.encode()).unwrap();
    assert_eq!(
        KeyDescription::decode(&dev.read_file(Fid::prkd(1)).unwrap()).unwrap(),
        prkd
    );

    // Re-initialize with two DKEK shares: files are gone, the PIN is the new one.
    let mut p = InitParams::new(so.clone(), PIN);
    p.dkek_shares = Some(2);
    dev.initialize(&p).unwrap();
    assert_eq!(dev.read_file_if_exists(Fid::TOKEN_INFO).unwrap(), None);
    assert_eq!(
        dev.pin_status().unwrap(),
        PinStatus::NotVerified { tries_left: 3 }
    );
    let st = dev.dkek_status().unwrap();
    assert_eq!((st.total_shares, st.outstanding_shares), (2, 2));
    dev.verify_pin(PIN).unwrap();

    // A wrong SO-PIN is refused.
    let wrong = SoPin::from_hex("0000000000000000").unwrap();
    assert!(dev.initialize(&InitParams::new(wrong, PIN)).is_err());
    assert!(matches!(
        dev.so_pin_status().unwrap(),
        PinStatus::NotVerified { .. } | PinStatus::Verified
    ));
}
