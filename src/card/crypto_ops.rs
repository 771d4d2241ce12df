//! Private-key operations on the card: SIGN, DECIPHER (RSA raw and ECDH), CIPHER SYMMETRIC,
//! and GET CHALLENGE (PROTOCOL.md §4.13–4.16). Plus the conversions hosts need around them.

use super::algorithm::{id, CipherAlgorithm, SignAlgorithm};
use super::apdu::{Command, Le};
use super::device::Device;
use super::error::{Error, Result};
use super::secret::SecretBytes;
use super::tlv::Tlv;

/// GET CHALLENGE is capped per APDU like OpenSC does.
const MAX_CHALLENGE: usize = 1024;

impl Device {
    /// SIGN (`80 68 <id> <P2>`, extended). RSA gives a modulus-size signature, ECDSA a DER
    /// `SEQUENCE { r, s }` (see [`ecdsa_der_to_raw`]).
    pub fn sign(&mut self, id: u8, algorithm: SignAlgorithm, data: &[u8]) -> Result<Vec<u8>> {
        let cmd = Command::new(0x80, 0x68, id, algorithm.p2())
            .data(data.to_vec())
            .le(Le::Max)
            .extended();
        self.execute(&cmd)
    }

    /// DECIPHER with RSA raw (`80 62 <id> 21`): the unpadded plaintext block. The host removes
    /// PKCS#1 or OAEP padding (in constant time).
    pub fn decipher_rsa_raw(&mut self, id: u8, cryptogram: &[u8]) -> Result<SecretBytes> {
        let cmd = Command::new(0x80, 0x62, id, id::RSA_DECRYPT_RAW)
            .data(cryptogram.to_vec())
            .le(Le::Max)
            .extended()
            .sensitive();
        self.execute(&cmd).map(SecretBytes::new)
    }

    /// ECDH (`80 62 <id> 80`) with the peer's uncompressed point; returns the card's answer,
    /// `04‖X‖Y` or `04‖X` (see [`ecdh_shared_x`]).
    pub fn ecdh(&mut self, id: u8, peer_point: &[u8]) -> Result<SecretBytes> {
        let cmd = Command::new(0x80, 0x62, id, id::ECDH)
            .data(peer_point.to_vec())
            .le(Le::Max)
            .extended()
            .sensitive();
        self.execute(&cmd).map(SecretBytes::new)
    }

    /// CIPHER SYMMETRIC (`80 78 <id> <P2>`), fw ≥ 3.0. CBC uses IV zero: the host XORs another
    /// IV into the first block.
    pub fn cipher(
        &mut self,
        id: u8,
        algorithm: CipherAlgorithm,
        data: &[u8],
    ) -> Result<SecretBytes> {
        if !self.profile().aes {
            return Err(Error::Unsupported(format!(
                "AES on firmware {}",
                self.profile().version
            )));
        }
        let cmd = Command::new(0x80, 0x78, id, algorithm.p2())
            .data(data.to_vec())
            .le(Le::Max)
            .extended()
            .sensitive();
        self.execute(&cmd).map(SecretBytes::new)
    }

    /// `n` random bytes from the card's generator (several GET CHALLENGE if needed).
    pub fn get_challenge(&mut self, n: usize) -> Result<SecretBytes> {
        let per_apdu = MAX_CHALLENGE
            .min(self.max_apdu_len().saturating_sub(2))
            .max(1);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let want = (n - out.len()).min(per_apdu);
            let cmd = Command::new(0x00, 0x84, 0x00, 0x00)
                .le(Le::Exactly(want))
                .sensitive();
            let chunk = self.execute(&cmd)?;
            if chunk.is_empty() {
                return Err(Error::malformed("GET CHALLENGE returned nothing"));
            }
            out.extend_from_slice(&chunk[..chunk.len().min(want)]);
        }
        Ok(SecretBytes::new(out))
    }
}

/// Converts the card's DER ECDSA signature to the PKCS#11 form `r‖s`, each half left-padded to
/// `field_bytes` (66 for P-521).
pub fn ecdsa_der_to_raw(der: &[u8], field_bytes: usize) -> Result<Vec<u8>> {
    let seq = Tlv::parse_exact(der)?;
    if seq.tag != 0x30 {
        return Err(Error::malformed("ECDSA signature is not a SEQUENCE"));
    }
    let mut parts = seq.children();
    let mut out = Vec::with_capacity(2 * field_bytes);
    for name in ["r", "s"] {
        let int = parts
            .next()
            .ok_or_else(|| Error::malformed(format!("ECDSA signature without {name}")))??;
        if int.tag != 0x02 {
            return Err(Error::malformed(format!("ECDSA {name} is not an INTEGER")));
        }
        let padded = super::curves::pad_to(int.value, field_bytes)
            .ok_or_else(|| Error::malformed(format!("ECDSA {name} longer than the field")))?;
        out.extend_from_slice(&padded);
    }
    if parts.next().is_some() {
        return Err(Error::malformed("ECDSA signature has extra elements"));
    }
    Ok(out)
}

/// The shared secret of PKCS#11 ECDH1 (the X coordinate) from the card's ECDH answer: skip the
/// leading 04 and take `field_bytes` bytes. Works for both `04‖X‖Y` and `04‖X`.
pub fn ecdh_shared_x(response: &[u8], field_bytes: usize) -> Result<SecretBytes> {
    match response.split_first() {
        Some((0x04, rest)) if rest.len() >= field_bytes => {
            Ok(SecretBytes::from_slice(&rest[..field_bytes]))
        }
        _ => Err(Error::malformed(format!(
            "ECDH answer of {} bytes is not 04‖X[‖Y]",
            response.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::algorithm::Hash;
    use super::super::device::tests::mock_device;
    use super::*;

    #[test]
    fn sign_apdu_of_a1() {
        let (mut d, m) = mock_device(3, 5);
        let mut apdu = vec![0x80, 0x68, 1, 0x70, 0, 0, 32];
        apdu.extend_from_slice(&[0xAB; 32]);
        apdu.extend_from_slice(&[0, 0]);
        m.expect(&apdu, &[0x30, 0x06, 2, 1, 1, 2, 1, 2, 0x90, 0]);
        let der = d.sign(1, SignAlgorithm::EcdsaHashed, &[0xAB; 32]).unwrap();
        assert_eq!(ecdsa_der_to_raw(&der, 32).unwrap()[31], 1);
        m.expect_prefix(&[0x80, 0x68, 1, 0x73], &[0x6A, 0x81]);
        assert_eq!(
            d.sign(1, SignAlgorithm::Ecdsa(Hash::Sha256), b"msg"),
            Err(Error::FunctionNotSupported)
        );
        m.assert_done();
    }

    #[test]
    fn der_to_raw() {
        // r with a leading 00 (top bit set), s short.
        let mut der = vec![0x30, 0x26, 0x02, 0x21, 0x00];
        der.extend_from_slice(&[0x80; 32]);
        der.extend_from_slice(&[0x02, 0x01, 0x05]);
        let raw = ecdsa_der_to_raw(&der, 32).unwrap();
        assert_eq!(raw.len(), 64);
        assert_eq!((raw[0], raw[63], raw[62]), (0x80, 5, 0));
        assert!(ecdsa_der_to_raw(&der, 31).is_err());
        assert!(ecdsa_der_to_raw(&[0x30, 0x03, 0x02, 0x01, 0x01], 32).is_err());
        for cut in 0..der.len() {
            assert!(ecdsa_der_to_raw(&der[..cut], 32).is_err());
        }
    }

    #[test]
    fn ecdh_forms() {
        let full = [[4u8].as_slice(), &[1; 32], &[2; 32]].concat();
        assert_eq!(ecdh_shared_x(&full, 32).unwrap().expose(), &[1; 32]);
        let x_only = [[4u8].as_slice(), &[1; 32]].concat();
        assert_eq!(ecdh_shared_x(&x_only, 32).unwrap().expose(), &[1; 32]);
        assert!(ecdh_shared_x(&[1; 33], 32).is_err());
        assert!(ecdh_shared_x(&[], 32).is_err());
    }

    #[test]
    fn challenge_in_chunks() {
        let (mut d, m) = mock_device(3, 5);
        let mut first = vec![7u8; 1024];
        first.extend_from_slice(&[0x90, 0]);
        m.expect(&[0, 0x84, 0, 0, 0, 0x04, 0x00], &first);
        m.expect(&[0, 0x84, 0, 0, 8], &[1, 2, 3, 4, 5, 6, 7, 8, 0x90, 0]);
        let r = d.get_challenge(1032).unwrap();
        assert_eq!((r.len(), r.expose()[1031]), (1032, 8));
        m.assert_done();
    }
}
