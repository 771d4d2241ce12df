//! Key use: SIGN (§4.14), DECIPHER (§4.15), CIPHER SYMMETRIC (§4.16), and GET CHALLENGE.
//!
//! Checks in order: algorithm id known for the command (`6A86`), user PIN (`6982`), key exists
//! (`6A88`), key type fits the algorithm and the key's algorithm list allows it (`6A81`, what
//! sc-hsm-embedded expects), use counter not exhausted (`6984`), input valid (`6A80`). The use
//! counter drops by one for each successful operation.
//!
//! CIPHER P2 99 (AES key derivation) is not simulated: its derivation function is unknown, so
//! it answers `6A86` rather than invent one.

use crate::apdu::{self, Command, Response};
use crate::card::{CmdResult, Ctx};
use crate::crypto::{self, CryptoError, HashAlg};
use crate::keys::{Key, KeyMaterial};

/// Any crypto failure on host-supplied input is "incorrect data".
pub fn crypto_sw(_e: CryptoError) -> u16 {
    apdu::SW_WRONG_DATA
}

/// The key `id` for algorithm `algo`, after the PIN, algorithm-list and use-counter checks.
pub(crate) fn key_for(ctx: &Ctx, id: u8, algo: u8) -> Result<Key, u16> {
    ctx.require_user()?;
    let key = ctx
        .state()
        .keys
        .get(&id)
        .cloned()
        .ok_or(apdu::SW_REF_NOT_FOUND)?;
    if !key.algorithms.is_empty() && !key.algorithms.contains(&algo) {
        return Err(apdu::SW_FUNC_NOT_SUPPORTED);
    }
    if key.use_counter == Some(0) {
        return Err(apdu::SW_REF_DATA_NOT_USABLE);
    }
    Ok(key)
}

/// Counts one use of key `id` if it has a use counter.
fn count_use(ctx: &mut Ctx, id: u8) {
    let counted = ctx
        .state()
        .keys
        .get(&id)
        .is_some_and(|k| k.use_counter.is_some());
    if counted {
        if let Some(n) = ctx
            .state_mut()
            .keys
            .get_mut(&id)
            .and_then(|k| k.use_counter.as_mut())
        {
            *n = n.saturating_sub(1);
        }
    }
}

/// Hash of the `x1`..`x5` algorithm ids (SHA-1, -224, -256, -384, -512).
fn hash_of(algo: u8) -> Option<HashAlg> {
    match algo & 0x0F {
        1 => Some(HashAlg::Sha1),
        2 => Some(HashAlg::Sha224),
        3 => Some(HashAlg::Sha256),
        4 => Some(HashAlg::Sha384),
        5 => Some(HashAlg::Sha512),
        _ => None,
    }
}

enum SignAlg {
    RsaRaw,
    RsaDigestInfo,
    RsaPkcs1(HashAlg),
    RsaPssHash,
    RsaPss(HashAlg),
    EcdsaHash,
    Ecdsa(HashAlg),
}

fn sign_alg(p2: u8) -> Option<SignAlg> {
    Some(match p2 {
        0x20 => SignAlg::RsaRaw,
        0x30 => SignAlg::RsaDigestInfo,
        0x31..=0x35 => SignAlg::RsaPkcs1(hash_of(p2)?),
        0x40 => SignAlg::RsaPssHash,
        0x41..=0x45 => SignAlg::RsaPss(hash_of(p2)?),
        0x70 => SignAlg::EcdsaHash,
        0x71..=0x75 => SignAlg::Ecdsa(hash_of(p2)?),
        _ => return None,
    })
}

fn is_rsa(key: &Key) -> bool {
    matches!(key.material, KeyMaterial::Rsa { .. })
}
fn is_ec(key: &Key) -> bool {
    matches!(key.material, KeyMaterial::Ec { .. })
}
fn is_aes(key: &Key) -> bool {
    matches!(key.material, KeyMaterial::Aes { .. })
}

fn modulus_len(key: &Key) -> usize {
    match &key.material {
        KeyMaterial::Rsa { n, .. } => n.len(),
        _ => 0,
    }
}

pub fn sign(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    let alg = sign_alg(cmd.p2).ok_or(apdu::SW_WRONG_P1P2)?;
    let key = key_for(ctx, cmd.p1, cmd.p2)?;
    let fits = match alg {
        SignAlg::EcdsaHash | SignAlg::Ecdsa(_) => is_ec(&key),
        _ => is_rsa(&key),
    };
    if !fits {
        return Err(apdu::SW_FUNC_NOT_SUPPORTED);
    }
    let data = &cmd.data;
    if data.is_empty() {
        return Err(apdu::SW_WRONG_DATA);
    }
    let m = &key.material;
    let signature = match alg {
        SignAlg::RsaRaw => {
            if data.len() != modulus_len(&key) {
                return Err(apdu::SW_WRONG_DATA);
            }
            crypto::rsa_raw(m, data)
        }
        SignAlg::RsaDigestInfo => crypto::rsa_pkcs1_sign(m, data),
        SignAlg::RsaPkcs1(h) => crypto::rsa_pkcs1_sign(m, &crypto::digest_info(h, &h.digest(data))),
        SignAlg::RsaPssHash => {
            let h = HashAlg::from_len(data.len()).ok_or(apdu::SW_WRONG_DATA)?;
            crypto::rsa_pss_sign(m, h, data)
        }
        SignAlg::RsaPss(h) => crypto::rsa_pss_sign(m, h, &h.digest(data)),
        SignAlg::EcdsaHash => crypto::ecdsa_sign_hash(m, data),
        SignAlg::Ecdsa(h) => crypto::ecdsa_sign_hash(m, &h.digest(data)),
    }
    .map_err(crypto_sw)?;
    count_use(ctx, cmd.p1);
    Ok(Response::ok(signature))
}

pub fn decipher(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if !matches!(cmd.p2, 0x21 | 0x80) {
        return Err(apdu::SW_WRONG_P1P2);
    }
    let key = key_for(ctx, cmd.p1, cmd.p2)?;
    let out = if cmd.p2 == 0x21 {
        if !is_rsa(&key) {
            return Err(apdu::SW_FUNC_NOT_SUPPORTED);
        }
        if cmd.data.len() != modulus_len(&key) {
            return Err(apdu::SW_WRONG_DATA);
        }
        crypto::rsa_raw(&key.material, &cmd.data)
    } else {
        let KeyMaterial::Ec { q, .. } = &key.material else {
            return Err(apdu::SW_FUNC_NOT_SUPPORTED);
        };
        // The peer point as 04‖X‖Y; X‖Y without the 04 is accepted too.
        let mut peer = cmd.data.clone();
        if peer.len() + 1 == q.len() {
            peer.insert(0, 0x04);
        }
        crypto::ecdh(&key.material, &peer)
    }
    .map_err(crypto_sw)?;
    count_use(ctx, cmd.p1);
    Ok(Response::ok(out))
}

pub fn cipher(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if !ctx.profile.aes {
        return Err(apdu::SW_INS_NOT_SUPPORTED);
    }
    if !matches!(cmd.p2, 0x10 | 0x11 | 0x18) {
        return Err(apdu::SW_WRONG_P1P2);
    }
    let key = key_for(ctx, cmd.p1, cmd.p2)?;
    if !is_aes(&key) {
        return Err(apdu::SW_FUNC_NOT_SUPPORTED);
    }
    let data = &cmd.data;
    let out = match cmd.p2 {
        0x18 => crypto::aes_cmac(&key.material, data),
        _ if data.is_empty() || data.len() % 16 != 0 => return Err(apdu::SW_WRONG_DATA),
        0x10 => crypto::aes_cbc_encrypt(&key.material, data),
        _ => crypto::aes_cbc_decrypt(&key.material, data),
    }
    .map_err(crypto_sw)?;
    count_use(ctx, cmd.p1);
    Ok(Response::ok(out))
}

pub fn get_challenge(ctx: &mut Ctx, cmd: &Command) -> CmdResult {
    if cmd.p1 != 0 || cmd.p2 != 0 {
        return Err(apdu::SW_WRONG_P1P2);
    }
    match cmd.le {
        Some(n) if n + 2 <= ctx.profile.max_apdu => Ok(Response::ok(crypto::random_bytes(n))),
        _ => Err(apdu::SW_WRONG_LENGTH),
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use rsa::traits::PublicKeyParts;
    use rsa::{BoxedUint, Pkcs1v15Sign, PublicKey};
    use sha2::{Digest, Sha256, Sha384};

    fn sign(card: &mut crate::Card, id: u8, p2: u8, data: &[u8]) -> (Vec<u8>, u16) {
        tx(card, &apdu(0x80, 0x68, id, p2, data, Some(65536)))
    }

    fn ec_key(card: &mut crate::Card, id: u8, extra: &[u8]) -> p256::ecdsa::VerifyingKey {
        let req = generate(card, id, gakp_ec_body("secp256r1"), extra);
        let q = pk_field(&request_public_key(&req), 0x86);
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&q).unwrap()
    }

    #[test]
    fn ecdsa_p256_signatures_verify() {
        let (_d, mut card) = device("3.5", true, None);
        login(&mut card);
        let vk = ec_key(&mut card, 1, &[]);
        let hash = Sha256::digest(b"hello");
        let (der, code) = sign(&mut card, 1, 0x70, &hash);
        assert_eq!(code, OK);
        vk.verify_prehash(&hash, &p256::ecdsa::Signature::from_der(&der).unwrap())
            .unwrap();
        let (der, _) = sign(&mut card, 1, 0x73, b"hello");
        vk.verify_prehash(&hash, &p256::ecdsa::Signature::from_der(&der).unwrap())
            .unwrap();
        let (der, _) = sign(&mut card, 1, 0x74, b"hello");
        let h384 = Sha384::digest(b"hello");
        vk.verify_prehash(&h384, &p256::ecdsa::Signature::from_der(&der).unwrap())
            .unwrap();
        assert_eq!(
            sign(&mut card, 1, 0x20, &[0; 128]).1,
            0x6A81,
            "RSA algorithm on an EC key"
        );
        assert_eq!(sign(&mut card, 1, 0x77, &hash).1, 0x6A86);
        assert_eq!(sign(&mut card, 1, 0x70, &[]).1, 0x6A80);
        assert_eq!(sign(&mut card, 9, 0x70, &hash).1, 0x6A88, "no such key");
        assert_eq!(
            sign(&mut card, 0, 0x70, &hash).1,
            0x6A88,
            "the device key is not for hosts"
        );
        select_applet(&mut card);
        assert_eq!(sign(&mut card, 1, 0x70, &hash).1, 0x6982);
    }

    #[test]
    fn rsa_1024_signatures_and_decipher() {
        let (_d, mut card) = device("3.5", true, None);
        login(&mut card);
        let req = generate(&mut card, 1, gakp_rsa_body(1024), &[]);
        let pk = request_public_key(&req);
        let n = pk_field(&pk, 0x81);
        assert_eq!(n.len(), 128);
        let public = PublicKey::new(
            BoxedUint::from_be_slice_vartime(&n),
            BoxedUint::from_be_slice_vartime(&pk_field(&pk, 0x82)),
        )
        .unwrap();
        let hash = Sha256::digest(b"message");
        let digest_info = crate::crypto::digest_info(crate::crypto::HashAlg::Sha256, &hash);
        let pkcs1 = Pkcs1v15Sign::new::<Sha256>();
        // 30: the card pads a DigestInfo. 33: the card hashes too.
        let (sig, code) = sign(&mut card, 1, 0x30, &digest_info);
        assert_eq!((code, sig.len()), (OK, 128));
        public.verify(pkcs1.clone(), &hash, &sig).unwrap();
        let (sig, _) = sign(&mut card, 1, 0x33, b"message");
        public.verify(pkcs1.clone(), &hash, &sig).unwrap();
        // 20: raw, the host pads (PKCS#1 v1.5 type 1), as OpenSC does.
        let mut block = vec![0x00, 0x01];
        block.resize(128 - digest_info.len() - 1, 0xFF);
        block.push(0x00);
        block.extend_from_slice(&digest_info);
        let (sig, _) = sign(&mut card, 1, 0x20, &block);
        public.verify(pkcs1, &hash, &sig).unwrap();
        assert_eq!(
            sign(&mut card, 1, 0x20, &block[1..]).1,
            0x6A80,
            "not modulus-sized"
        );
        // 40 / 43: PSS with salt = hash length.
        let (sig, _) = sign(&mut card, 1, 0x40, &hash);
        public
            .verify(rsa::pss::Pss::<Sha256>::new(), &hash, &sig)
            .unwrap();
        let (sig, _) = sign(&mut card, 1, 0x43, b"message");
        public
            .verify(rsa::pss::Pss::<Sha256>::new(), &hash, &sig)
            .unwrap();
        assert_eq!(
            sign(&mut card, 1, 0x40, &[0; 33]).1,
            0x6A80,
            "no hash is 33 bytes"
        );
        // DECIPHER 21: raw RSA, modulus-sized in and out.
        let mut plain = vec![0u8; 128];
        plain[100..].copy_from_slice(&[7; 28]);
        let m = BoxedUint::from_be_slice(&plain, public.n().bits_precision()).unwrap();
        let c = rsa::hazmat::rsa_encrypt(&public, &m).unwrap().to_be_bytes();
        let (out, code) = tx(&mut card, &apdu(0x80, 0x62, 1, 0x21, &c, Some(65536)));
        assert_eq!((out, code), (plain, OK));
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x62, 1, 0x80, &[4; 65], Some(65536))),
            0x6A81
        );
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x62, 1, 0x22, &c, Some(65536))),
            0x6A86
        );
    }

    #[test]
    fn ecdh_agrees_between_two_card_keys() {
        let (_d, mut card) = device("3.5", true, None);
        login(&mut card);
        let q1 = ec_key(&mut card, 1, &[])
            .to_sec1_point(false)
            .as_bytes()
            .to_vec();
        let q2 = ec_key(&mut card, 2, &[])
            .to_sec1_point(false)
            .as_bytes()
            .to_vec();
        let (z12, code) = tx(&mut card, &apdu(0x80, 0x62, 1, 0x80, &q2, Some(65536)));
        assert_eq!(code, OK);
        let (z21, _) = tx(&mut card, &apdu(0x80, 0x62, 2, 0x80, &q1, Some(65536)));
        assert_eq!((z12.len(), z12[0]), (65, 0x04), "04‖X‖Y");
        assert_eq!(z12, z21);
        let (z, _) = tx(&mut card, &apdu(0x80, 0x62, 1, 0x80, &q2[1..], Some(65536)));
        assert_eq!(z, z12, "X‖Y without 04 accepted");
        let mut off_curve = q2.clone();
        off_curve[64] ^= 1;
        assert_eq!(
            sw(
                &mut card,
                &apdu(0x80, 0x62, 1, 0x80, &off_curve, Some(65536))
            ),
            0x6A80
        );
    }

    #[test]
    fn use_counter_and_algorithm_list() {
        let (_d, mut card) = device("3.5", true, None);
        login(&mut card);
        ec_key(&mut card, 1, &[0x90, 0x04, 0, 0, 0, 2]);
        let hash = [1u8; 32];
        assert_eq!(sign(&mut card, 1, 0x70, &hash).1, OK);
        assert_eq!(sign(&mut card, 1, 0x70, &hash).1, OK);
        assert_eq!(
            sign(&mut card, 1, 0x70, &hash).1,
            0x6984,
            "use counter exhausted"
        );
        ec_key(&mut card, 2, &[0x91, 0x02, 0x73, 0x92]);
        assert_eq!(sign(&mut card, 2, 0x70, &hash).1, 0x6A81);
        assert_eq!(sign(&mut card, 2, 0x73, b"data").1, OK);
        assert_eq!(
            sw(&mut card, &apdu(0x80, 0x62, 2, 0x80, &[4; 65], Some(256))),
            0x6A81
        );
    }

    #[test]
    fn get_challenge() {
        let (_d, mut card) = device("3.5", false, None);
        select_applet(&mut card);
        let (a, code) = tx(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x08]);
        assert_eq!((a.len(), code), (8, OK));
        let (b, _) = tx(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x08]);
        assert_ne!(a, b);
        assert_eq!(tx(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x00]).0.len(), 256);
        assert_eq!(
            tx(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x00, 0x04, 0x00])
                .0
                .len(),
            1024
        );
        assert_eq!(
            sw(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x00, 0x05, 0x00]),
            0x6700,
            "1280 > 1230"
        );
        assert_eq!(sw(&mut card, &[0x00, 0x84, 0x00, 0x00]), 0x6700);
    }
}
