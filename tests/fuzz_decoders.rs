//! Fuzzing (stable Rust, no cargo-fuzz) of every decoder of bytes from outside the module: the
//! card's answers (status words, TLV, tag 85, PKCS#15 descriptions, CV certificates and
//! requests, key blobs), files given by users (wrapped-key files, DKEK share files, PKCS#8
//! keys, the config file). Seeds: the real Nitrokey HSM 2 vectors, what the simulator answers,
//! and what our encoders write. The property is "never panics"; see fuzz_common for the
//! mutations. `SCHSM_FUZZ_ITERS=N` sets the mutations per target (default: a CI-sized run).

mod fuzz_common;

use std::path::PathBuf;

use aes::Aes256;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use cmac::{Cmac, KeyInit, Mac};
use fuzz_common::{iterations, run};
use schsm_pkcs11::card::apdu::Response;
use schsm_pkcs11::card::blob::KeyBlob;
use schsm_pkcs11::card::cd_dcod::{CertificateDescription, DataObjectDescription};
use schsm_pkcs11::card::cvc::{self, CvCertificate, CvRequest};
use schsm_pkcs11::card::dkek::{Dkek, DkekShare};
use schsm_pkcs11::card::firmware::FirmwareProfile;
use schsm_pkcs11::card::pkcs15::{decode_bit_string, TokenInfo};
use schsm_pkcs11::card::prkd::{KeyDescription, KeyKind};
use schsm_pkcs11::card::share_file::{decrypt_share_file, encrypt_share_file};
use schsm_pkcs11::card::tlv::{self, Tlv};
use schsm_pkcs11::card::wrapped_file::WrappedKeyFile;
use schsm_pkcs11::config::Config;

/// Default mutations per target: the whole file stays around 10 s in a debug build.
const CI_ITERS: u64 = 8000;

/// The real DKEK of the vectors (shared/vectors/README.md).
const REAL_SHARE: &str = "2848cb6e994f5a00c365c3c255ed130512ce1eb06bf08d348eeb8b2f866e3e50";

fn wky() -> Vec<u8> {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sim/tests/data/nitrokey-hsm2-secp256k1.wky");
    std::fs::read(local).expect("sim/tests/data/nitrokey-hsm2-secp256k1.wky")
}

fn real_dkek() -> Dkek {
    let mut share = [0u8; 32];
    share.copy_from_slice(&hex::decode(REAL_SHARE).unwrap());
    Dkek::from_shares(&[DkekShare::new(share)])
}

/// The TLVs of `data` at every depth (seeds for the decoders of parts).
fn all_tlvs(data: &[u8], out: &mut Vec<Vec<u8>>, depth: usize) {
    let Ok(items) = tlv::parse_all(data) else {
        return;
    };
    for t in items {
        let mut whole = Vec::new();
        tlv::write(&mut whole, t.tag, t.value);
        out.push(whole);
        if depth < 6 {
            all_tlvs(t.value, out, depth + 1);
        }
    }
}

/// Answers of a fresh simulated device: the SELECT response (tag 85) and EF 2F02 (the device's
/// CV certificate chain).
fn sim_answers() -> Vec<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("schsm-fuzz-seeds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    schsm_sim::create(&dir, &schsm_sim::NewOptions::blank("3.5")).unwrap();
    let mut card = schsm_sim::Card::open(&dir).unwrap();
    let mut select = vec![0x00, 0xA4, 0x04, 0x04, schsm_sim::AID.len() as u8];
    select.extend_from_slice(&schsm_sim::AID);
    select.push(0x00);
    let fcp = card.transmit(&select);
    let chain = card.transmit(&[
        0x00, 0xB1, 0x2F, 0x02, 0x04, 0x54, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    vec![fcp, chain]
}

fn seeds_tlv() -> Vec<Vec<u8>> {
    let mut seeds = vec![wky()];
    seeds.extend(sim_answers());
    for s in seeds.clone() {
        all_tlvs(&s, &mut seeds, 0);
    }
    seeds
}

/// Walks every TLV the way the decoders do: recursion, find, require, read_uint.
fn walk(data: &[u8], depth: usize) {
    let _ = tlv::find(data, 0x30);
    if let Ok(items) = tlv::parse_all(data) {
        for t in items {
            let _ = tlv::read_uint(t.value);
            let _ = t.find(0x80);
            let _ = t.require(0x86);
            for c in t.children().flatten() {
                if depth < 8 {
                    walk(c.value, depth + 1);
                }
            }
        }
    }
    let _ = Tlv::parse_exact(data);
}

#[test]
fn fuzz_tlv() {
    run("tlv", &seeds_tlv(), iterations(CI_ITERS), |d| walk(d, 0));
}

#[test]
fn fuzz_responses_and_tag85() {
    let mut seeds = sim_answers();
    seeds.extend([
        vec![0x90, 0x00],
        vec![0x63, 0xC2],
        vec![0x6A, 0x82],
        vec![0x61, 0x10],
        vec![0x6C, 0x20],
    ]);
    let fcp = seeds[0].clone();
    if let Ok(Some(t)) = tlv::find(&fcp[..fcp.len().saturating_sub(2)], 0x62) {
        all_tlvs(t.value, &mut seeds, 0);
    }
    run("response+tag85", &seeds, iterations(CI_ITERS), |d| {
        if let Ok(r) = Response::parse(d.to_vec()) {
            let _ = r.clone().into_result();
            if let Ok(p) = FirmwareProfile::from_select_response(&r.data) {
                let _ = (p.applet_name(), p.rrc_enabled(), p.transport_pin_mode());
                let _ = (p.supports_rsa_bits(4096), p.supports_ec_bits(521));
            }
        }
        if let Ok(p) = FirmwareProfile::from_tag85(d) {
            let _ = p.applet_name();
        }
    });
}

#[test]
fn fuzz_pkcs15_descriptions() {
    let mut seeds = Vec::new();
    let file = WrappedKeyFile::decode(&wky()).unwrap();
    seeds.extend(file.prkd.clone());
    for (kind, bits) in [
        (KeyKind::Rsa, 2048),
        (KeyKind::Ec, 256),
        (KeyKind::Aes, 256),
    ] {
        let mut d = KeyDescription::opensc(kind, "seed key", &[1, 2, 3, 4], 0x2E, 3, bits);
        seeds.push(d.encode());
        d.subject = Some(vec![
            0x31, 0x0B, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x02, 0x41, 0x42,
        ]);
        seeds.push(d.encode());
    }
    seeds.push(TokenInfo::with_label("token label").encode());
    seeds.push(vec![0x03, 0x02, 0x06, 0x40]);
    let mut parts = Vec::new();
    for s in &seeds {
        all_tlvs(s, &mut parts, 0);
    }
    seeds.extend(parts);
    run(
        "pkcs15 (PRKD, CD, DCOD, TokenInfo)",
        &seeds,
        iterations(CI_ITERS),
        |d| {
            if let Ok(k) = KeyDescription::decode(d) {
                // What we decoded, we can write back and read again.
                let _ = KeyDescription::decode(&k.encode());
            }
            if let Ok(c) = CertificateDescription::decode(d) {
                let _ = CertificateDescription::decode(&c.encode());
            }
            if let Ok(o) = DataObjectDescription::decode(d) {
                let _ = DataObjectDescription::decode(&o.encode());
            }
            if let Ok(t) = TokenInfo::decode(d) {
                let _ = TokenInfo::decode(&t.encode());
            }
            let _ = decode_bit_string(d);
        },
    );
}

#[test]
fn fuzz_cv_certificates_and_requests() {
    let file = WrappedKeyFile::decode(&wky()).unwrap();
    let mut seeds: Vec<Vec<u8>> = file.certificate.into_iter().collect();
    let chain = sim_answers().remove(1);
    seeds.push(chain[..chain.len() - 2].to_vec());
    let mut parts = Vec::new();
    for s in &seeds {
        all_tlvs(s, &mut parts, 0);
    }
    seeds.extend(parts);
    run("cvc", &seeds, iterations(CI_ITERS), |d| {
        if let Ok(c) = CvCertificate::parse(d) {
            let _ = format!("{c:?}");
        }
        if let Ok(r) = CvRequest::parse(d) {
            let _ = (r.public_key().bits(), r.chr().len());
            let _ = cvc::serial_from_chr(r.chr());
        }
        if let Ok(k) = cvc::PublicKey::parse(d) {
            let _ = k.bits();
        }
        let _ = cvc::device_serial(d);
        let _ = cvc::serial_from_chr(&String::from_utf8_lossy(d));
    });
}

#[test]
fn fuzz_key_blob_and_wrapped_file() {
    let file_bytes = wky();
    let file = WrappedKeyFile::decode(&file_bytes).unwrap();
    let seeds = vec![file_bytes, file.blob.clone()];
    let dkek = real_dkek();
    run(
        "key blob + wrapped-key file",
        &seeds,
        iterations(CI_ITERS),
        |d| {
            if let Ok(f) = WrappedKeyFile::decode(d) {
                let _ = f.key_description();
                let _ = f.cv_request();
                let _ = WrappedKeyFile::decode(&f.encode());
            }
            if let Ok(b) = KeyBlob::parse(d) {
                let _ = b.verify(&dkek);
                let _ = b.decrypt(&dkek);
                let _ = b.reencode(&dkek, &[], &[7; 8]);
            }
        },
    );
}

/// The blob's plaintext (after the CMAC and the decryption, where a forged blob cannot reach
/// without the DKEK): the real blob's header with a mutated key block, sealed under the DKEK.
#[test]
fn fuzz_key_blob_plaintext() {
    let file = WrappedKeyFile::decode(&wky()).unwrap();
    KeyBlob::parse(&file.blob).expect("the real blob parses");
    let dkek = real_dkek();
    let header_len = file.blob.len() - blob_body_len(&file.blob);
    let header = file.blob[..header_len].to_vec();
    let plain = decrypt_body(&dkek, &file.blob[header_len..file.blob.len() - 16]);
    let seeds = vec![plain];
    run("key blob plaintext", &seeds, iterations(CI_ITERS), |d| {
        for key_type in [header[8], 0x05, 0x06, 0x0F] {
            let mut h = header.clone();
            h[8] = key_type;
            let sealed = seal(&dkek, &h, d);
            if let Ok(b) = KeyBlob::parse(&sealed) {
                let _ = b.decrypt(&dkek);
                let _ = b.reencode(&dkek, &[], &[7; 8]);
            }
        }
    });
}

/// The ciphertext + MAC length of a blob: the clear header is 9 bytes and four 2-byte-length
/// fields.
fn blob_body_len(blob: &[u8]) -> usize {
    let mut pos = 9;
    for _ in 0..4 {
        let n = u16::from_be_bytes([blob[pos], blob[pos + 1]]) as usize;
        pos += 2 + n;
    }
    blob.len() - pos
}

fn k(dkek: &Dkek, which: u8) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(dkek.expose());
    h.update([0, 0, 0, which]);
    h.finalize().into()
}

fn decrypt_body(dkek: &Dkek, ct: &[u8]) -> Vec<u8> {
    use cbc::cipher::BlockModeDecrypt;
    let mut v = ct.to_vec();
    cbc::Decryptor::<Aes256>::new(&k(dkek, 1).into(), &[0u8; 16].into())
        .decrypt_padded::<NoPadding>(&mut v)
        .unwrap();
    v
}

/// header ‖ AES-256-CBC(K_ENC, plaintext padded to blocks) ‖ CMAC(K_MAC).
fn seal(dkek: &Dkek, header: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut body = plain.to_vec();
    body.resize(body.len().div_ceil(16).max(1) * 16, 0);
    let len = body.len();
    cbc::Encryptor::<Aes256>::new(&k(dkek, 1).into(), &[0u8; 16].into())
        .encrypt_padded::<NoPadding>(&mut body, len)
        .unwrap();
    let mut out = header.to_vec();
    out.extend_from_slice(&body);
    let mut mac = <Cmac<Aes256> as KeyInit>::new_from_slice(&k(dkek, 2)).unwrap();
    mac.update(&out);
    out.extend_from_slice(&mac.finalize().into_bytes());
    out
}

#[test]
fn fuzz_share_file() {
    // One KDF round instead of ten million: the decoder after the KDF is what is fuzzed.
    let mut share = [0u8; 32];
    share.copy_from_slice(&hex::decode(REAL_SHARE).unwrap());
    let file = encrypt_share_file(&DkekShare::new(share), b"passwordpassword", &[9; 8], 1).unwrap();
    run("DKEK share file", &[file], iterations(CI_ITERS), |d| {
        let _ = decrypt_share_file(d, b"passwordpassword", 1);
        let _ = decrypt_share_file(d, b"", 1);
    });
}

/// PKCS#8 keys made with `openssl genpkey | openssl pkcs8 -topk8 -nocrypt -outform DER`.
const EC_PKCS8: &str = concat!(
    "308187020100301306072a8648ce3d020106082a8648ce3d030107046d30",
    "6b020101042074bb15b7a12c1d89288ecac6c892de24b0c559a3d6df43c9",
    "3b6430550f65dae3a14403420004d0f376c51cb1ba930b15af88e5c94624",
    "c686a2def0313b809e95946c7bf2674f472aa5bce5f0e6d1a3396ca14f8b",
    "069f750059f0e682d5c51d6cc5c8f7f644fc",
);
const RSA_PKCS8: &str = concat!(
    "30820277020100300d06092a864886f70d0101010500048202613082025d",
    "02010002818100bda0d50881a8f8ae5480d1f2b621dee0152b5484074dc4",
    "cdc4d5e193a07c5375055c7141ef7a5ab9e0f838c887627d244fe5a90dac",
    "0297b7e9cebd5a40750bea30a43087d5ed4be062aafaaceeb10e03094acb",
    "82147f040699b3c2cac9ee7dbbe5e5252d63573c197cbee246c641150ebd",
    "ce8ed73fc7ed888f61cc844117807302030100010281806d8c8da5e56a1d",
    "8870ef1edb0dd7516fb92b181f522cde6655b18e29000cf315e6abfa0e32",
    "70481b9c592a4cc6d1e223e9386f4aa3b5b7ba9b0b419ef31feb6a37632b",
    "6229bfe44796516ff121c5065afeddfbd8d6ed8477c74ab58600a84f32c9",
    "54d5ff62e59e5e983eb0e8fa851f85e89a6c6a0c946707a2a32fce680783",
    "f1024100f137ab3ed67b8bb5d0591b2a888020a40ac9e0f85c872c8cc788",
    "118ddddc97759532522e1ccfdd161d83d3ab17543c359a0213e5cbed7d74",
    "01502f17f3b9518b024100c93fced260ecf3ff4e950a72c2f8ef0c3cdbe5",
    "24b73a8c7976d87566657c444ea7ca48dec5f88ee07ddbd3740ebc6b9d5f",
    "988b62564b9d9e86f337f9a23f19b9024100e0b0102d4a306ea4fedbe178",
    "2f09da5db346f4eda392ae26bc3dbccc3edb19a20745865339b74da329fe",
    "ff8da0ff6fce2614c5600a22bff6ecba3a03bf9ce19d0241008369ea3910",
    "57caa0bd84af54ef22349eee22bd47b36a450e8fdf9b11e955331995918e",
    "f2019e64560d797d63bcb7a72215a97be313ecbe9925102f4e107759e902",
    "405b35c454f7af94e95be0179ce2fee036bbbeb19cad8a7e21ab6f6fa655",
    "532fbcd277acfbaa014901a3eb46c9d17de0e429b5f96350f22e91858ad9",
    "a8501ccddc",
);

#[test]
fn fuzz_pkcs8_import() {
    let mut seeds = vec![
        hex::decode(EC_PKCS8).unwrap(),
        hex::decode(RSA_PKCS8).unwrap(),
    ];
    assert!(schsm_pkcs11::card::private_key::from_pkcs8(&seeds[0]).is_ok());
    assert!(schsm_pkcs11::card::private_key::from_pkcs8(&seeds[1]).is_ok());
    let mut parts = Vec::new();
    for s in &seeds {
        all_tlvs(s, &mut parts, 0);
    }
    seeds.extend(parts);
    run(
        "PKCS#8 private key",
        &seeds,
        iterations(CI_ITERS / 4),
        |d| {
            if let Ok(k) = schsm_pkcs11::card::private_key::from_pkcs8(d) {
                let _ = k.key_type();
            }
        },
    );
}

#[test]
fn fuzz_config_file() {
    let dir = std::env::temp_dir().join(format!("schsm-fuzz-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("schsm.toml");
    let seed = b"# schsm\n[log]\nlevel = \"debug\"\nfile = \"/tmp/x.log\"\n[readers]\ninclude = [\"Nitrokey*\", \"Virtual PCD ?0\"]\n[dkek]\nshares = [\"/a.pbe\", \"/b.pbe\"]\npassword_files = [\"/a.pw\"]\npassword_shares = []\niterations = 1000\n".to_vec();
    let p = path.clone();
    run(
        "config file + environment",
        &[seed],
        iterations(CI_ITERS / 3),
        |d| {
            std::fs::write(&p, d).unwrap();
            let text = String::from_utf8_lossy(d).into_owned();
            let conf = p.to_string_lossy().into_owned();
            let c = Config::from_vars(|k| match k {
                "SCHSM_CONF" => Some(conf.clone()),
                "SCHSM_LOG" | "SCHSM_DKEK_SHARES" | "SCHSM_SIM" => Some(text.clone()),
                _ => None,
            });
            let _ = c.reader_wanted(&text);
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fuzz_x509_certificates() {
    use schsm_pkcs11::token::objects::x509;
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut seeds: Vec<Vec<u8>> = ["token_ca_cert.der", "token_ee_cert.der"]
        .iter()
        .map(|f| std::fs::read(data.join(f)).unwrap())
        .collect();
    let mut parts = Vec::new();
    for s in &seeds {
        all_tlvs(s, &mut parts, 0);
    }
    seeds.extend(parts);
    run(
        "X.509 certificate + SPKI",
        &seeds,
        iterations(CI_ITERS / 2),
        |d| {
            let _ = x509::parse(d);
            let _ = x509::parse_spki(d);
        },
    );
}
