//! DKEK key blobs: the output of WRAP KEY and the input of UNWRAP KEY (PROTOCOL §8.1-8.4).
//!
//! ```text
//! KCV(8) ‖ type(1) ‖ len(2) default-algorithm OID ‖ len(2) algorithm ids ‖ len(2) access
//! conditions (empty) ‖ len(2) key OID (empty) ‖ AES-256-CBC(K_ENC, IV 0, padded key block) ‖
//! CMAC(K_MAC, everything before)
//! key block = random(8) ‖ key size(2) ‖ components (each len(2) ‖ value; AES: raw key)
//! ```
//!
//! RSA keys are emitted as type 6 (CRT) up to 2048 bits and as type 5 (private exponent) above:
//! the HSM 1 (≤ 2048 bits) keeps keys in CRT form, and CardContact's own host encoder converts
//! CRT keys larger than 2048 bits to type 5 before import, which shows the HSM 2 handles those
//! in non-CRT form (§8.3). Importers thus meet both types from us, as from real cards.

use aes::Aes256;
use cbc::cipher::{block_padding::NoPadding, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use cmac::{Cmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::{curves, ec, random_bytes, rsa_ops, CryptoError};
use crate::keys::{Key, KeyMaterial};

pub const TYPE_RSA: u8 = 5;
pub const TYPE_RSA_CRT: u8 = 6;
pub const TYPE_EC: u8 = 12;
pub const TYPE_AES: u8 = 15;

/// Default algorithms written when a key carries none: id-TA-RSA-v1-5-SHA-256,
/// id-TA-ECDSA-SHA-256 and AES (2.16.840.1.101.3.4.1).
pub const OID_TA_RSA_V15_SHA256: &[u8] =
    &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x01, 0x02];
pub const OID_TA_ECDSA_SHA256: &[u8] =
    &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x03];
pub const OID_AES: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01];

/// RSA keys above this size are exported in non-CRT form (type 5).
const LARGEST_CRT_EXPORT_BITS: usize = 2048;

/// Key check value: the first 8 bytes of SHA-256(DKEK).
pub fn kcv(dkek: &[u8; 32]) -> [u8; 8] {
    let digest = Sha256::digest(dkek);
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

fn derive(dkek: &[u8; 32], counter: u8) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(dkek);
    h.update([0, 0, 0, counter]);
    h.finalize().into()
}

/// K_ENC = SHA-256(DKEK ‖ 00000001), the AES-256 key of the blob's key block.
pub fn k_enc(dkek: &[u8; 32]) -> [u8; 32] {
    derive(dkek, 1)
}

/// K_MAC = SHA-256(DKEK ‖ 00000002), the AES-256 CMAC key over the blob.
pub fn k_mac(dkek: &[u8; 32]) -> [u8; 32] {
    derive(dkek, 2)
}

fn cmac(dkek: &[u8; 32], data: &[u8]) -> [u8; 16] {
    let mut mac = <Cmac<Aes256> as KeyInit>::new_from_slice(&k_mac(dkek)).expect("32-byte key");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn push_field(out: &mut Vec<u8>, value: &[u8]) -> Result<(), CryptoError> {
    let len = u16::try_from(value.len()).map_err(|_| CryptoError::InvalidInput)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
    Ok(())
}

/// WRAP KEY output for `key`.
pub fn wrap(dkek: &[u8; 32], key: &Key) -> Result<Vec<u8>, CryptoError> {
    let crt = match &key.material {
        KeyMaterial::Rsa { bits, .. } => *bits as usize <= LARGEST_CRT_EXPORT_BITS,
        _ => false,
    };
    wrap_as(dkek, key, crt)
}

/// [`wrap`] with the RSA form chosen by the caller (`crt`: type 6, else type 5).
fn wrap_as(dkek: &[u8; 32], key: &Key, crt: bool) -> Result<Vec<u8>, CryptoError> {
    let (key_type, default_oid, block) = key_block(&key.material, crt)?;
    let oid = if key.default_algorithm.is_empty() {
        default_oid
    } else {
        &key.default_algorithm
    };

    let mut blob = kcv(dkek).to_vec();
    blob.push(key_type);
    push_field(&mut blob, oid)?;
    push_field(&mut blob, &key.algorithms)?;
    push_field(&mut blob, &[])?; // access conditions: not used
    push_field(&mut blob, &[])?; // key OID: not used

    // ISO/IEC 9797-1 method 2: always 80, then zeros to the block boundary.
    let mut plain = block;
    plain.push(0x80);
    plain.resize(plain.len().div_ceil(16) * 16, 0);
    let enc = cbc::Encryptor::<Aes256>::new(&k_enc(dkek).into(), &[0u8; 16].into());
    let len = plain.len();
    enc.encrypt_padded::<NoPadding>(&mut plain, len)
        .map_err(|_| CryptoError::InvalidInput)?;
    blob.extend_from_slice(&plain);

    let mac = cmac(dkek, &blob);
    blob.extend_from_slice(&mac);
    Ok(blob)
}

/// The plaintext key block (before padding), its type and default algorithm.
fn key_block(
    material: &KeyMaterial,
    crt: bool,
) -> Result<(u8, &'static [u8], Vec<u8>), CryptoError> {
    let mut block = random_bytes(8);
    match material {
        KeyMaterial::Rsa {
            bits,
            n,
            e,
            d,
            p,
            q,
        } => {
            block.extend_from_slice(&bits.to_be_bytes());
            if !crt {
                for value in [d, n, e] {
                    push_field(&mut block, value)?;
                }
                Ok((TYPE_RSA, OID_TA_RSA_V15_SHA256, block))
            } else {
                let [dp, dq, qinv] = rsa_ops::crt_parts(material)?;
                for value in [&dp, &dq, p, &qinv, q, n, e] {
                    push_field(&mut block, value)?;
                }
                Ok((TYPE_RSA_CRT, OID_TA_RSA_V15_SHA256, block))
            }
        }
        KeyMaterial::Ec { curve, d, q } => {
            let curve = curves::by_name(curve).ok_or(CryptoError::Unsupported)?;
            let width = curve.field_len();
            // Like the real card: A, B, P, N, D at full field width (A = 0…0 for secp256k1).
            let size = u16::try_from(width * 8).map_err(|_| CryptoError::InvalidInput)?;
            block.extend_from_slice(&size.to_be_bytes());
            let full = |v: &[u8]| ec::fit(v, width).ok_or(CryptoError::InvalidInput);
            for value in [
                full(curve.a)?,
                full(curve.b)?,
                full(curve.p)?,
                full(curve.n)?,
            ] {
                push_field(&mut block, &value)?;
            }
            push_field(&mut block, curve.g)?;
            push_field(&mut block, &full(d)?)?;
            push_field(&mut block, q)?;
            Ok((TYPE_EC, OID_TA_ECDSA_SHA256, block))
        }
        KeyMaterial::Aes { key } => {
            if ![16, 24, 32].contains(&key.len()) {
                return Err(CryptoError::InvalidInput);
            }
            // AES: size in bytes, then the raw key without a length prefix.
            block.extend_from_slice(&(key.len() as u16).to_be_bytes());
            block.extend_from_slice(key);
            Ok((TYPE_AES, OID_AES, block))
        }
    }
}

/// A cursor over length-prefixed fields; running past the end is `Malformed`.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CryptoError> {
        if n > self.data.len() {
            return Err(CryptoError::Malformed);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn u16(&mut self) -> Result<usize, CryptoError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }

    fn field(&mut self) -> Result<&'a [u8], CryptoError> {
        let len = self.u16()?;
        self.take(len)
    }
}

/// UNWRAP KEY input: checks the KCV, the structure, the CMAC, then decrypts and parses the key
/// block. The returned key has the blob's algorithm list and default algorithm, domain 0 and no
/// use counter.
pub fn unwrap(dkek: &[u8; 32], blob: &[u8]) -> Result<Key, CryptoError> {
    let mut header = Reader { data: blob };
    if header.take(8)? != kcv(dkek) {
        return Err(CryptoError::KcvMismatch);
    }
    let key_type = header.take(1)?[0];
    let default_algorithm = header.field()?.to_vec();
    let algorithms = header.field()?.to_vec();
    header.field()?; // access conditions
    header.field()?; // key OID
    let body = header.data;
    if body.len() < 32 || body.len() % 16 != 0 {
        return Err(CryptoError::Malformed);
    }
    let (signed, mac) = blob.split_at(blob.len() - 16);
    if cmac(dkek, signed) != mac {
        return Err(CryptoError::MacMismatch);
    }

    let mut plain = body[..body.len() - 16].to_vec();
    let dec = cbc::Decryptor::<Aes256>::new(&k_enc(dkek).into(), &[0u8; 16].into());
    dec.decrypt_padded::<NoPadding>(&mut plain)
        .map_err(|_| CryptoError::Malformed)?;

    let mut block = Reader { data: &plain };
    block.take(8)?; // random
    let size = block.u16()?;
    let material = match key_type {
        TYPE_RSA => {
            let (d, n, e) = (block.field()?, block.field()?, block.field()?);
            rsa_ops::from_private_exponent(n, e, d)?
        }
        TYPE_RSA_CRT => {
            let (dp, dq, p) = (block.field()?, block.field()?, block.field()?);
            let (qinv, q, n, e) = (
                block.field()?,
                block.field()?,
                block.field()?,
                block.field()?,
            );
            rsa_ops::from_crt(p, q, e, n, [dp, dq, qinv])?
        }
        TYPE_EC => ec_material(&mut block)?,
        TYPE_AES => {
            if ![16, 24, 32].contains(&size) {
                return Err(CryptoError::Malformed);
            }
            KeyMaterial::Aes {
                key: block.take(size)?.to_vec(),
            }
        }
        _ => return Err(CryptoError::Unsupported),
    };
    check_padding(block.data)?;
    Ok(Key {
        material,
        algorithms,
        domain: 0,
        use_counter: None,
        default_algorithm,
    })
}

/// After the components: nothing (pico, when already block aligned) or `80 00…`.
fn check_padding(rest: &[u8]) -> Result<(), CryptoError> {
    match rest.split_first() {
        None => Ok(()),
        Some((0x80, zeros)) if zeros.iter().all(|&b| b == 0) => Ok(()),
        _ => Err(CryptoError::Malformed),
    }
}

/// Type 12 components A, B, P, N, G, D, Q (full width or minimal); the curve must be one we
/// know, Q on it and equal to d·G.
fn ec_material(block: &mut Reader<'_>) -> Result<KeyMaterial, CryptoError> {
    let (a, b, p, n) = (
        block.field()?,
        block.field()?,
        block.field()?,
        block.field()?,
    );
    let (g, d, q) = (block.field()?, block.field()?, block.field()?);
    let curve = curves::by_params(p, a, b, g, n).ok_or(CryptoError::Unsupported)?;
    let d = ec::fit(d, curve.field_len()).ok_or(CryptoError::Malformed)?;
    let q = full_width_point(q, curve.field_len()).ok_or(CryptoError::Malformed)?;
    if !ec::is_on_curve(curve, &q) || ec::public_point(curve, &d)? != q {
        return Err(CryptoError::Malformed);
    }
    Ok(KeyMaterial::Ec {
        curve: curve.name.to_string(),
        d,
        q,
    })
}

/// 04‖X‖Y with both coordinates at `width` bytes, from a possibly shorter encoding.
fn full_width_point(point: &[u8], width: usize) -> Option<Vec<u8>> {
    let xy = point.strip_prefix(&[0x04]).filter(|xy| xy.len() % 2 == 0)?;
    let (x, y) = xy.split_at(xy.len() / 2);
    let mut out = vec![0x04];
    out.extend(ec::fit(x, width)?);
    out.extend(ec::fit(y, width)?);
    Some(out)
}

#[cfg(test)]
#[path = "blob_tests.rs"]
mod tests;
