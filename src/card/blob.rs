//! The DKEK key blob: output of WRAP KEY, input of UNWRAP KEY (PROTOCOL.md §8.3).
//!
//! ```text
//! KCV(8) ‖ type(1) ‖ n(2) default-algorithm ‖ m(2) algorithm-list ‖ k(2) access-conditions
//!   ‖ j(2) key-OID ‖ AES-256-CBC(K_ENC, IV 0, random(8) ‖ size(2) ‖ components ‖ M2 padding)
//!   ‖ AES-CMAC(K_MAC, everything before)
//! ```
//!
//! The clear header can be read without the DKEK (the #168 shim needs the algorithm list);
//! the key itself needs the DKEK. Blobs are also built on the host: to drop the algorithm list
//! for firmware 3.1, and to import keys.

use super::crypto::{self, Padding};
use super::curves::Curve;
use super::dkek::Dkek;
use super::error::{Error, Result};
use super::secret::SecretBytes;

/// Key type byte.
pub mod key_type {
    /// RSA, private exponent form: D, N, E.
    pub const RSA: u8 = 0x05;
    /// RSA, CRT form: DP, DQ, P, PQ, Q, N, E.
    pub const RSA_CRT: u8 = 0x06;
    pub const EC: u8 = 0x0C;
    pub const AES: u8 = 0x0F;
}

/// Default-algorithm field contents (OID content bytes, no 06 tag).
pub mod default_algorithm {
    /// id-TA-RSA-v1-5-SHA-256.
    pub const RSA: &[u8] = &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x01, 0x02];
    /// id-TA-ECDSA-SHA-256.
    pub const EC: &[u8] = &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x03];
    /// 2.16.840.1.101.3.4.1 (AES).
    pub const AES: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01];

    /// The default algorithm for a key type; `None` for unknown types.
    pub fn for_key_type(t: u8) -> Option<&'static [u8]> {
        match t {
            super::key_type::RSA | super::key_type::RSA_CRT => Some(RSA),
            super::key_type::EC => Some(EC),
            super::key_type::AES => Some(AES),
            _ => None,
        }
    }
}

/// The clear part of a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHeader {
    /// KCV of the DKEK the blob was made under.
    pub kcv: [u8; 8],
    pub key_type: u8,
    pub default_algorithm: Vec<u8>,
    /// Allowed algorithm ids (empty = unrestricted).
    pub algorithms: Vec<u8>,
    /// "Not used" by the card; empty in every known blob.
    pub access_conditions: Vec<u8>,
    /// "Not used"; empty in every known blob.
    pub key_oid: Vec<u8>,
}

impl BlobHeader {
    /// A header for `key_type` with the standard default algorithm and the given list; the KCV
    /// is filled in when the blob is encoded.
    pub fn new(key_type: u8, algorithms: Vec<u8>) -> Result<Self> {
        let default_algorithm = default_algorithm::for_key_type(key_type)
            .ok_or_else(|| Error::InvalidArgument(format!("key type {key_type:#04x}")))?
            .to_vec();
        Ok(BlobHeader {
            kcv: [0; 8],
            key_type,
            default_algorithm,
            algorithms,
            access_conditions: Vec::new(),
            key_oid: Vec::new(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(&self.kcv);
        out.push(self.key_type);
        for field in [
            &self.default_algorithm,
            &self.algorithms,
            &self.access_conditions,
            &self.key_oid,
        ] {
            put_field(out, field)?;
        }
        Ok(())
    }
}

/// The private key inside a blob. Secret parts are wiped on drop and masked in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobKey {
    /// Type 5. `bits` = modulus size.
    Rsa {
        bits: u16,
        d: SecretBytes,
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Type 6. `qinv` = q⁻¹ mod p ("PQ").
    RsaCrt {
        bits: u16,
        dp: SecretBytes,
        dq: SecretBytes,
        p: SecretBytes,
        qinv: SecretBytes,
        q: SecretBytes,
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Type 12. `bits` = prime length × 8 (528 for P-521). The card writes full-width values,
    /// pico-hsm minimal ones; both are kept as found.
    Ec {
        bits: u16,
        a: Vec<u8>,
        b: Vec<u8>,
        prime: Vec<u8>,
        order: Vec<u8>,
        generator: Vec<u8>,
        d: SecretBytes,
        q: Vec<u8>,
    },
    /// Type 15: 16, 24 or 32 key bytes.
    Aes { key: SecretBytes },
}

impl BlobKey {
    pub fn key_type(&self) -> u8 {
        match self {
            BlobKey::Rsa { .. } => key_type::RSA,
            BlobKey::RsaCrt { .. } => key_type::RSA_CRT,
            BlobKey::Ec { .. } => key_type::EC,
            BlobKey::Aes { .. } => key_type::AES,
        }
    }

    /// The named curve of an EC key, found by its parameters.
    pub fn curve(&self) -> Option<&'static Curve> {
        match self {
            BlobKey::Ec { prime, a, b, .. } => Curve::by_parameters(prime, a, b),
            _ => None,
        }
    }

    /// An EC key on a named curve, with full-width parameters as the card writes them.
    pub fn ec(curve: &Curve, d: &[u8], q: &[u8]) -> Result<BlobKey> {
        let d = super::curves::pad_to(d, curve.field_bytes)
            .ok_or_else(|| Error::InvalidArgument("private scalar longer than the field".into()))?;
        Ok(BlobKey::Ec {
            bits: (curve.field_bytes * 8) as u16,
            a: curve.a(),
            b: curve.b(),
            prime: curve.prime(),
            order: curve.order(),
            generator: curve.generator(),
            d: SecretBytes::new(d),
            q: q.to_vec(),
        })
    }

    fn encode_plain(&self, random: &[u8; 8]) -> Result<SecretBytes> {
        let mut p = Vec::with_capacity(1024);
        p.extend_from_slice(random);
        match self {
            BlobKey::Rsa { bits, d, n, e } => {
                p.extend_from_slice(&bits.to_be_bytes());
                for c in [d.expose(), n, e] {
                    put_field(&mut p, c)?;
                }
            }
            BlobKey::RsaCrt {
                bits,
                dp,
                dq,
                p: pp,
                qinv,
                q,
                n,
                e,
            } => {
                p.extend_from_slice(&bits.to_be_bytes());
                for c in [
                    dp.expose(),
                    dq.expose(),
                    pp.expose(),
                    qinv.expose(),
                    q.expose(),
                    n,
                    e,
                ] {
                    put_field(&mut p, c)?;
                }
            }
            BlobKey::Ec {
                bits,
                a,
                b,
                prime,
                order,
                generator,
                d,
                q,
            } => {
                p.extend_from_slice(&bits.to_be_bytes());
                for c in [a, b, prime, order, generator, d.expose(), q] {
                    put_field(&mut p, c)?;
                }
            }
            BlobKey::Aes { key } => {
                if ![16, 24, 32].contains(&key.len()) {
                    return Err(Error::InvalidArgument(format!(
                        "AES key of {} bytes",
                        key.len()
                    )));
                }
                p.extend_from_slice(&(key.len() as u16).to_be_bytes());
                p.extend_from_slice(key.expose());
            }
        }
        Ok(SecretBytes::new(p))
    }

    fn decode_plain(key_type: u8, plain: &[u8]) -> Result<BlobKey> {
        let mut r = Reader {
            data: plain,
            pos: 8,
        }; // skip the random prefix
        let size = r.u16()?;
        let key = match key_type {
            key_type::RSA => BlobKey::Rsa {
                bits: size,
                d: SecretBytes::from_slice(r.field()?),
                n: r.field()?.to_vec(),
                e: r.field()?.to_vec(),
            },
            key_type::RSA_CRT => BlobKey::RsaCrt {
                bits: size,
                dp: SecretBytes::from_slice(r.field()?),
                dq: SecretBytes::from_slice(r.field()?),
                p: SecretBytes::from_slice(r.field()?),
                qinv: SecretBytes::from_slice(r.field()?),
                q: SecretBytes::from_slice(r.field()?),
                n: r.field()?.to_vec(),
                e: r.field()?.to_vec(),
            },
            key_type::EC => BlobKey::Ec {
                bits: size,
                a: r.field()?.to_vec(),
                b: r.field()?.to_vec(),
                prime: r.field()?.to_vec(),
                order: r.field()?.to_vec(),
                generator: r.field()?.to_vec(),
                d: SecretBytes::from_slice(r.field()?),
                q: r.field()?.to_vec(),
            },
            key_type::AES => {
                let n = usize::from(size);
                if ![16, 24, 32].contains(&n) {
                    return Err(Error::malformed(format!("AES key size {n} in blob")));
                }
                BlobKey::Aes {
                    key: SecretBytes::from_slice(r.take(n)?),
                }
            }
            t => return Err(Error::Unsupported(format!("key blob type {t:#04x}"))),
        };
        // What follows is ISO 9797-1 M2 padding, or nothing (pico omits it when aligned).
        Ok(key)
    }
}

/// A parsed blob: clear header, ciphertext and MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBlob {
    pub header: BlobHeader,
    raw: Vec<u8>,
    /// Where the ciphertext starts in `raw`.
    body: usize,
}

impl KeyBlob {
    /// Reads the clear header and checks the shape; no DKEK needed.
    pub fn parse(bytes: &[u8]) -> Result<KeyBlob> {
        let mut r = Reader {
            data: bytes,
            pos: 0,
        };
        let mut kcv = [0u8; 8];
        kcv.copy_from_slice(r.take(8)?);
        let key_type = r.take(1)?[0];
        let header = BlobHeader {
            kcv,
            key_type,
            default_algorithm: r.field()?.to_vec(),
            algorithms: r.field()?.to_vec(),
            access_conditions: r.field()?.to_vec(),
            key_oid: r.field()?.to_vec(),
        };
        let rest = bytes.len() - r.pos;
        if rest < 32 || rest % 16 != 0 {
            return Err(Error::malformed(format!(
                "key blob: {rest} bytes after the header are not ciphertext blocks plus a MAC"
            )));
        }
        Ok(KeyBlob {
            header,
            raw: bytes.to_vec(),
            body: r.pos,
        })
    }

    /// The blob bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Checks that the blob belongs to `dkek`: KCV first (a clear "wrong DKEK"), then the CMAC.
    pub fn verify(&self, dkek: &Dkek) -> Result<()> {
        let kcv = dkek.kcv();
        if kcv != self.header.kcv {
            return Err(Error::KcvMismatch {
                expected: kcv,
                found: self.header.kcv,
            });
        }
        let (signed, tag) = self.raw.split_at(self.raw.len() - 16);
        if !crypto::aes256_cmac_verify(dkek.mac_key().expose(), signed, tag) {
            return Err(Error::BlobMacMismatch);
        }
        Ok(())
    }

    /// Verifies and decrypts the key.
    pub fn decrypt(&self, dkek: &Dkek) -> Result<BlobKey> {
        self.verify(dkek)?;
        let ct = &self.raw[self.body..self.raw.len() - 16];
        let plain = crypto::aes256_cbc_decrypt_raw(dkek.enc_key().expose(), &[0; 16], ct)?;
        BlobKey::decode_plain(self.header.key_type, plain.expose())
    }

    /// The same key with another algorithm list (the #168 shim passes an empty one), encrypted
    /// anew under the same DKEK with fresh `random` bytes.
    pub fn reencode(&self, dkek: &Dkek, algorithms: &[u8], random: &[u8; 8]) -> Result<Vec<u8>> {
        let key = self.decrypt(dkek)?;
        let mut header = self.header.clone();
        header.algorithms = algorithms.to_vec();
        encode(dkek, &header, &key, random)
    }
}

/// Builds a blob for `key` under `dkek`. `header.kcv` is replaced by the DKEK's KCV and
/// `header.key_type` must match the key. `random` is the 8-byte prefix the format wants fresh
/// for every export (take it from GET CHALLENGE or the OS).
pub fn encode(
    dkek: &Dkek,
    header: &BlobHeader,
    key: &BlobKey,
    random: &[u8; 8],
) -> Result<Vec<u8>> {
    if header.key_type != key.key_type() {
        return Err(Error::InvalidArgument(format!(
            "blob header says type {:#04x}, key is {:#04x}",
            header.key_type,
            key.key_type()
        )));
    }
    let mut h = header.clone();
    h.kcv = dkek.kcv();
    let mut out = Vec::with_capacity(1100);
    h.encode(&mut out)?;
    let plain = key.encode_plain(random)?;
    let ct = crypto::aes256_cbc_encrypt(
        dkek.enc_key().expose(),
        &[0; 16],
        plain.expose(),
        Padding::Iso9797M2,
    );
    out.extend_from_slice(&ct);
    let mac = crypto::aes256_cmac(dkek.mac_key().expose(), &out);
    out.extend_from_slice(&mac);
    Ok(out)
}

fn put_field(out: &mut Vec<u8>, value: &[u8]) -> Result<()> {
    let n = u16::try_from(value.len())
        .map_err(|_| Error::InvalidArgument(format!("blob field of {} bytes", value.len())))?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(value);
    Ok(())
}

/// Bounds-checked reader of `len(2) ‖ value` fields.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| Error::malformed("key blob truncated"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn field(&mut self) -> Result<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

#[cfg(test)]
#[path = "blob_tests.rs"]
mod tests;
