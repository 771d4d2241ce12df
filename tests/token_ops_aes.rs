//! AES through the token API over simulated devices: C_GenerateKey, CBC and CBC_PAD (single and
//! multi-part, with the host's IV chaining across APDU-sized chunks) and CMAC, all compared with
//! the aes/cbc/cmac crates using the key the simulator holds; padding errors, sizes, the card
//! asked once, restrictions, profiles without AES.

mod token_ops_common;
mod token_support;

use aes::cipher::block_padding::{NoPadding, Pkcs7};
use aes::cipher::{BlockModeEncrypt, KeyIvInit};
use cmac::{KeyInit, Mac};
use cryptoki_sys::*;
use schsm_pkcs11::token::api::{self, Error, MechanismParam, Operation, Output};
use token_ops_common::*;
use token_support::*;

const IV: [u8; 16] = [
    0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF,
];

fn aes_key(
    s: CK_SESSION_HANDLE,
    len: CK_ULONG,
    extra: &[api::Attribute],
) -> api::Result<CK_OBJECT_HANDLE> {
    let mut t = vec![
        class(CKO_SECRET_KEY),
        attr(CKA_KEY_TYPE, ulong(CKK_AES)),
        attr(CKA_VALUE_LEN, ulong(len)),
        boolean(CKA_TOKEN, true),
    ];
    t.extend_from_slice(extra);
    api::generate_key(s, &mech(CKM_AES_KEY_GEN), &t)
}

/// The key value the simulator holds for the key behind `handle` (CKA_ID defaults to the id).
fn key_value(env: &Env, s: CK_SESSION_HANDLE, handle: CK_OBJECT_HANDLE) -> Vec<u8> {
    let id = get(s, handle, CKA_ID);
    assert_eq!(id.len(), 1, "default CKA_ID is the key id");
    match sim_key(&env.dirs[0], id[0]).material {
        schsm_sim::keys::KeyMaterial::Aes { key } => key,
        other => panic!("not an AES key: {other:?}"),
    }
}

fn cbc(kind: CK_MECHANISM_TYPE, iv: &[u8]) -> api::Mechanism {
    mech_with(kind, MechanismParam::Iv(iv.to_vec()))
}

macro_rules! with_aes {
    ($key:expr, $C:ident => $body:expr) => {
        match $key.len() {
            16 => {
                type $C = aes::Aes128;
                $body
            }
            24 => {
                type $C = aes::Aes192;
                $body
            }
            _ => {
                type $C = aes::Aes256;
                $body
            }
        }
    };
}

fn reference_encrypt(key: &[u8], data: &[u8], pad: bool) -> Vec<u8> {
    with_aes!(key, C => {
        let e = cbc::Encryptor::<C>::new_from_slices(key, &IV).unwrap();
        let mut out = vec![0u8; data.len() + 16];
        let c = if pad {
            e.encrypt_padded_b2b::<Pkcs7>(data, &mut out)
        } else {
            e.encrypt_padded_b2b::<NoPadding>(data, &mut out)
        };
        c.unwrap().to_vec()
    })
}

fn reference_cmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    with_aes!(key, C => {
        let mut m = cmac::Cmac::<C>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    })
}

#[test]
fn cbc_cbc_pad_and_cmac_equal_the_crates() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 + 3) as u8).collect();
    for len in [16, 24, 32] {
        let key = aes_key(s, len, &[attr(CKA_LABEL, format!("aes{len}"))]).unwrap();
        assert_eq!(get(s, key, CKA_LABEL), format!("aes{len}").as_bytes());
        let value = key_value(&env, s, key);
        assert_eq!(value.len() as CK_ULONG, len);

        // CBC without padding: whole blocks; 3008 bytes span several CIPHER APDUs.
        let blocks = &data[..2992];
        let c = single(
            s,
            Operation::Encrypt,
            &cbc(CKM_AES_CBC, &IV),
            Some(key),
            blocks,
        )
        .unwrap();
        assert_eq!(
            c,
            reference_encrypt(&value, blocks, false),
            "AES-{}",
            len * 8
        );
        let p = single(s, Operation::Decrypt, &cbc(CKM_AES_CBC, &IV), Some(key), &c).unwrap();
        assert_eq!(p, blocks);

        // CBC_PAD on odd lengths.
        for n in [0, 1, 15, 16, 37, 1500] {
            let m = cbc(CKM_AES_CBC_PAD, &IV);
            let c = single(s, Operation::Encrypt, &m, Some(key), &data[..n]).unwrap();
            assert_eq!(c, reference_encrypt(&value, &data[..n], true), "{n} bytes");
            let p = single(s, Operation::Decrypt, &m, Some(key), &c).unwrap();
            assert_eq!(p, &data[..n]);
        }

        // Multi-part equals single-part, with parts that split blocks.
        let m = cbc(CKM_AES_CBC_PAD, &IV);
        let parts: [&[u8]; 5] = [
            &data[..5],
            &data[5..25],
            &[],
            &data[25..1400],
            &data[1400..1401],
        ];
        let c = multi(s, Operation::Encrypt, &m, Some(key), &parts).unwrap();
        assert_eq!(c, reference_encrypt(&value, &data[..1401], true));
        let cparts: [&[u8]; 4] = [&c[..7], &c[7..16], &c[16..40], &c[40..]];
        let p = multi(s, Operation::Decrypt, &m, Some(key), &cparts).unwrap();
        assert_eq!(p, &data[..1401]);

        // CMAC: sign equals the crate, verify recomputes on the card.
        let mac = sign(s, &mech(CKM_AES_CMAC), key, &data[..100]).unwrap();
        assert_eq!(mac, reference_cmac(&value, &data[..100]));
        verify(s, &mech(CKM_AES_CMAC), key, &data[..100], &mac).unwrap();
        let mut bad = mac.clone();
        bad[0] ^= 1;
        assert_eq!(
            verify(s, &mech(CKM_AES_CMAC), key, &data[..100], &bad),
            Err(Error::SignatureInvalid)
        );
        let parts: [&[u8]; 2] = [&data[..50], &data[50..100]];
        let mac2 = multi(s, Operation::Sign, &mech(CKM_AES_CMAC), Some(key), &parts).unwrap();
        assert_eq!(mac2, mac);
    }
}

#[test]
fn padding_lengths_sizes_and_parameters() {
    let env = Env::new(&[HSM]);
    let s = env.user_session();
    let key = aes_key(s, 32, &[]).unwrap();
    let value = key_value(&env, s, key);
    let dir = &env.dirs[0];

    // A last block that is not PKCS#7: one error, whatever is wrong.
    let mut block = [0x11u8; 16];
    block[15] = 0x00;
    let c = reference_encrypt(&value, &block, false);
    assert_eq!(
        single(
            s,
            Operation::Decrypt,
            &cbc(CKM_AES_CBC_PAD, &IV),
            Some(key),
            &c
        ),
        Err(Error::EncryptedDataInvalid)
    );
    // Lengths that are not whole blocks.
    assert_eq!(
        single(
            s,
            Operation::Encrypt,
            &cbc(CKM_AES_CBC, &IV),
            Some(key),
            &[0; 15]
        ),
        Err(Error::DataLenRange)
    );
    assert_eq!(
        single(
            s,
            Operation::Decrypt,
            &cbc(CKM_AES_CBC_PAD, &IV),
            Some(key),
            &[0; 20]
        ),
        Err(Error::EncryptedDataLenRange)
    );
    api::operation_init(s, Operation::Encrypt, &cbc(CKM_AES_CBC, &IV), Some(key)).unwrap();
    api::operation_update(s, Operation::Encrypt, &[0; 20], Some(64)).unwrap();
    assert_eq!(
        api::operation_final(s, Operation::Encrypt, Some(64)),
        Err(Error::DataLenRange)
    );
    // IV missing or of the wrong size.
    for m in [mech(CKM_AES_CBC), cbc(CKM_AES_CBC, &[0; 8])] {
        assert_eq!(
            api::operation_init(s, Operation::Encrypt, &m, Some(key)),
            Err(Error::MechanismParamInvalid)
        );
    }

    // Sizes: known without the card; a padded plaintext that does not fit is kept.
    let plain = b"twenty-one bytes long";
    let c = reference_encrypt(&value, plain, true);
    let m = cbc(CKM_AES_CBC_PAD, &IV);
    api::operation_init(s, Operation::Encrypt, &m, Some(key)).unwrap();
    let before = apdus(dir);
    assert_eq!(
        api::operation_single(s, Operation::Encrypt, plain, None),
        Ok(Output::Len(32))
    );
    assert_eq!(
        api::operation_single(s, Operation::Encrypt, plain, Some(31)),
        Ok(Output::Len(32))
    );
    assert_eq!(apdus(dir), before);
    api::operation_update(s, Operation::Encrypt, plain, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        api::operation_update(s, Operation::Encrypt, plain, Some(15)),
        Ok(Output::Len(16)),
        "an update reports whole blocks"
    );
    assert_eq!(apdus(dir), before);
    api::operation_init(s, Operation::Decrypt, &m, Some(key)).unwrap();
    assert_eq!(
        api::operation_single(s, Operation::Decrypt, &c, None),
        Ok(Output::Len(32))
    );
    assert_eq!(apdus(dir), before);
    assert_eq!(
        api::operation_single(s, Operation::Decrypt, &c, Some(8)),
        Ok(Output::Len(21))
    );
    assert_eq!(apdus(dir), before + 1);
    assert_eq!(
        api::operation_single(s, Operation::Decrypt, &c, Some(21)),
        Ok(Output::Data(plain.to_vec()))
    );
    assert_eq!(apdus(dir), before + 1, "no second CIPHER");
}

#[test]
fn key_generation_rules_and_restrictions() {
    let env = Env::new(&[
        HSM,
        Dev {
            firmware: "2.6",
            ..HSM
        },
        Dev {
            firmware: "3.2",
            ..HSM
        },
    ]);
    let s = env.user_session();
    assert_eq!(aes_key(s, 20, &[]), Err(Error::AttributeValueInvalid));
    let no_len = [class(CKO_SECRET_KEY), attr(CKA_KEY_TYPE, ulong(CKK_AES))];
    assert_eq!(
        api::generate_key(s, &mech(CKM_AES_KEY_GEN), &no_len),
        Err(Error::TemplateIncomplete)
    );
    let wrong_type = [
        attr(CKA_KEY_TYPE, ulong(CKK_DES3)),
        attr(CKA_VALUE_LEN, ulong(16)),
    ];
    assert_eq!(
        api::generate_key(s, &mech(CKM_AES_KEY_GEN), &wrong_type),
        Err(Error::TemplateInconsistent)
    );

    // Only CMAC allowed (and not exportable): the card list is 18, CBC is refused at init.
    let only_cmac = attr(CKA_ALLOWED_MECHANISMS, mech_list(&[CKM_AES_CMAC]));
    let only_cmac = [only_cmac, boolean(CKA_EXTRACTABLE, false)];
    let key = aes_key(
        s,
        16,
        &[
            only_cmac[0].clone(),
            only_cmac[1].clone(),
            attr(CKA_ID, vec![0x42]),
        ],
    )
    .unwrap();
    assert_eq!(find(s, &[attr(CKA_ID, vec![0x42])]), vec![key]);
    let id = *sim_key_ids(&env.dirs[0]).last().unwrap();
    assert_eq!(sim_key(&env.dirs[0], id).algorithms, vec![0x18]);
    sign(s, &mech(CKM_AES_CMAC), key, b"ok").unwrap();
    assert_eq!(
        api::operation_init(s, Operation::Encrypt, &cbc(CKM_AES_CBC, &IV), Some(key)),
        Err(Error::MechanismInvalid)
    );
    // A key that may not encrypt.
    let no_enc = aes_key(s, 16, &[boolean(CKA_ENCRYPT, false)]).unwrap();
    assert_eq!(
        api::operation_init(s, Operation::Encrypt, &cbc(CKM_AES_CBC, &IV), Some(no_enc)),
        Err(Error::KeyFunctionNotPermitted)
    );
    api::operation_init(s, Operation::Decrypt, &cbc(CKM_AES_CBC, &IV), Some(no_enc)).unwrap();

    // HSM 1 has no AES at all.
    let slots = env.slots();
    let hsm1 = env.session(slots[1], true);
    api::login(hsm1, CKU_USER, Some(PIN)).unwrap();
    assert_eq!(aes_key(hsm1, 16, &[]), Err(Error::MechanismInvalid));
    // 3.2 generates (with a warning about weak keys).
    let v32 = env.session(slots[2], true);
    api::login(v32, CKU_USER, Some(PIN)).unwrap();
    let k = aes_key(v32, 16, &[]).unwrap();
    sign(v32, &mech(CKM_AES_CMAC), k, b"x").unwrap();
}

fn mech_list(list: &[CK_MECHANISM_TYPE]) -> Vec<u8> {
    list.iter().flat_map(|m| m.to_ne_bytes()).collect()
}
