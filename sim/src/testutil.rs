//! Helpers for the unit tests: temporary devices, APDU building, common sequences.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::crypto::curves;
use crate::tlv;
use crate::{create, Card, NewOptions, AID};

pub const PIN: &[u8] = b"648219";
pub const SO_PIN: [u8; 8] = [0x35, 0x37, 0x36, 0x32, 0x31, 0x38, 0x38, 0x30];
pub const OK: u16 = 0x9000;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "schsm-sim-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new device; initialised with PIN 648219, the default SO-PIN and `shares` DKEK shares when
/// `init` is true.
pub fn device(firmware: &str, init: bool, shares: Option<u8>) -> (TempDir, Card) {
    let dir = TempDir::new(&firmware.replace('.', "_"));
    let opts = if init {
        NewOptions::initialised(firmware, SO_PIN, PIN, shares)
    } else {
        NewOptions::blank(firmware)
    };
    create(dir.path(), &opts).expect("create device");
    let card = Card::open(dir.path()).expect("open device");
    (dir, card)
}

/// Builds an APDU, choosing extended length when data or Le need it.
pub fn apdu(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<usize>) -> Vec<u8> {
    let mut out = vec![cla, ins, p1, p2];
    let extended = data.len() > 255 || le.is_some_and(|n| n > 256);
    if extended {
        out.push(0);
        if !data.is_empty() {
            out.extend((data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        if let Some(n) = le {
            out.extend(((n % 65536) as u16).to_be_bytes());
        }
    } else {
        if !data.is_empty() {
            out.push(data.len() as u8);
            out.extend_from_slice(data);
        }
        if let Some(n) = le {
            out.push((n % 256) as u8);
        }
    }
    out
}

/// Sends an APDU, returns (data, SW).
pub fn tx(card: &mut Card, raw: &[u8]) -> (Vec<u8>, u16) {
    let mut r = card.transmit(raw);
    assert!(r.len() >= 2, "response without SW");
    let sw = u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]]);
    r.truncate(r.len() - 2);
    (r, sw)
}

pub fn sw(card: &mut Card, raw: &[u8]) -> u16 {
    tx(card, raw).1
}

pub fn select_applet(card: &mut Card) -> Vec<u8> {
    let (fcp, sw) = tx(card, &apdu(0x00, 0xA4, 0x04, 0x00, &AID, Some(256)));
    assert_eq!(sw, OK);
    fcp
}

pub fn verify_pin(card: &mut Card, pin: &[u8]) -> u16 {
    sw(card, &apdu(0x00, 0x20, 0x00, 0x81, pin, None))
}

/// SELECT + VERIFY with the default PIN.
pub fn login(card: &mut Card) {
    select_applet(card);
    assert_eq!(verify_pin(card, PIN), OK);
}

/// The GAKP body OpenSC sends for an EC key on `curve`.
pub fn gakp_ec_body(curve: &str) -> Vec<u8> {
    let c = curves::by_name(curve).expect("curve");
    let mut pk = tlv::encode(
        0x06,
        &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x03],
    );
    pk.extend(tlv::encode(0x81, c.p));
    pk.extend(tlv::encode(0x82, c.a));
    pk.extend(tlv::encode(0x83, c.b));
    pk.extend(tlv::encode(0x84, c.g));
    pk.extend(tlv::encode(0x85, c.n));
    pk.extend(tlv::encode(0x87, &[c.h]));
    gakp_body(&pk)
}

/// The GAKP body for an RSA key of `bits`.
pub fn gakp_rsa_body(bits: u16) -> Vec<u8> {
    let mut pk = tlv::encode(
        0x06,
        &[0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x01, 0x02],
    );
    pk.extend(tlv::encode(0x82, &[0x01, 0x00, 0x01]));
    pk.extend(tlv::encode(0x02, &bits.to_be_bytes()));
    gakp_body(&pk)
}

fn gakp_body(public_key_template: &[u8]) -> Vec<u8> {
    let mut body = tlv::encode(0x5F29, &[0x00]);
    body.extend(tlv::encode(0x42, b"UTCA00001"));
    body.extend(tlv::encode(0x7F49, public_key_template));
    body.extend(tlv::encode(0x5F20, b"DENK010000100001"));
    body
}

/// Generates a key with GAKP (`extra` TLVs appended to the body); returns the CV request.
pub fn generate(card: &mut Card, id: u8, mut body: Vec<u8>, extra: &[u8]) -> Vec<u8> {
    body.extend_from_slice(extra);
    let (req, sw) = tx(card, &apdu(0x00, 0x46, id, 0x00, &body, Some(65536)));
    assert_eq!(sw, OK, "GAKP");
    req
}

/// The public key (7F49 content) inside an authenticated CV request.
pub fn request_public_key(request: &[u8]) -> Vec<u8> {
    let outer = tlv::parse_all(request).unwrap();
    let a = tlv::parse_all(tlv::find(&outer, 0x67).unwrap()).unwrap();
    let cert = tlv::parse_all(tlv::find(&a, 0x7F21).unwrap()).unwrap();
    let body = tlv::parse_all(tlv::find(&cert, 0x7F4E).unwrap()).unwrap();
    tlv::find(&body, 0x7F49).unwrap().to_vec()
}

/// The tag's value in the public key template.
pub fn pk_field(pk: &[u8], tag: u32) -> Vec<u8> {
    tlv::find(&tlv::parse_all(pk).unwrap(), tag)
        .unwrap()
        .to_vec()
}
