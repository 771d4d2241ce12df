//! Elliptic-curve operations of the card (key generation, ECDSA on a hash, ECDH, point checks),
//! written once generically over the RustCrypto curve types and dispatched by curve name.

use ecdsa::elliptic_curve::{
    ff::PrimeField,
    sec1::{FromSec1Point, ModulusSize, ToSec1Point},
    AffinePoint, CurveArithmetic, FieldBytes, FieldBytesSize, Generate, NonZeroScalar,
    ProjectivePoint, PublicKey,
};
use ecdsa::EcdsaCurve;

use super::{curves::Curve, CryptoError};

/// Call `$body` with `$C` bound to the RustCrypto curve type named by `$name`, or evaluate
/// `$none` when the simulator has no arithmetic for that name.
macro_rules! with_curve {
    ($name:expr, $C:ident => $body:expr, $none:expr) => {
        match $name {
            "secp192r1" => {
                type $C = p192::NistP192;
                $body
            }
            "secp224r1" => {
                type $C = p224::NistP224;
                $body
            }
            "secp256r1" => {
                type $C = p256::NistP256;
                $body
            }
            "secp384r1" => {
                type $C = p384::NistP384;
                $body
            }
            "secp521r1" => {
                type $C = p521::NistP521;
                $body
            }
            "secp256k1" => {
                type $C = k256::Secp256k1;
                $body
            }
            "brainpoolP256r1" => {
                type $C = bp256::BrainpoolP256r1;
                $body
            }
            "brainpoolP256t1" => {
                type $C = bp256::BrainpoolP256t1;
                $body
            }
            "brainpoolP384r1" => {
                type $C = bp384::BrainpoolP384r1;
                $body
            }
            "brainpoolP384t1" => {
                type $C = bp384::BrainpoolP384t1;
                $body
            }
            _ => $none,
        }
    };
}

/// A fresh key pair: (d at full field width, Q = 04‖X‖Y).
pub(crate) fn generate(curve: &Curve) -> Option<(Vec<u8>, Vec<u8>)> {
    with_curve!(curve.name, C => Some(generate_on::<C>()), None)
}

/// The public point d·G (04‖X‖Y) for the scalar `d` (any width up to the field size).
pub(crate) fn public_point(curve: &Curve, d: &[u8]) -> Result<Vec<u8>, CryptoError> {
    with_curve!(curve.name, C => public_on::<C>(d), Err(CryptoError::Unsupported))
}

/// Whether `point` (04‖X‖Y) lies on `curve` and is not the identity.
pub(crate) fn is_on_curve(curve: &Curve, point: &[u8]) -> bool {
    with_curve!(curve.name, C => PublicKey::<C>::from_sec1_bytes(point).is_ok(), false)
}

/// ECDSA over `hash` with a random nonce; returns (r, s) at full field width.
pub(crate) fn sign(
    curve: &Curve,
    d: &[u8],
    hash: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let z = bits2int(hash, curve.order_bits());
    with_curve!(curve.name, C => sign_on::<C>(d, &z), Err(CryptoError::Unsupported))
}

/// ECDH: the shared point d·P (04‖X‖Y) for the peer point `peer` (04‖X‖Y).
pub(crate) fn shared_point(curve: &Curve, d: &[u8], peer: &[u8]) -> Result<Vec<u8>, CryptoError> {
    with_curve!(curve.name, C => dh_on::<C>(d, peer), Err(CryptoError::Unsupported))
}

/// ECDSA's bits2int: keep the leftmost `order_bits` bits of an over-long hash, as a big-endian
/// string of the order's byte length. (The ecdsa crate keeps the *rightmost* bits when the
/// order is not byte aligned, which differs for P-521 with hashes of 66+ bytes.)
fn bits2int(hash: &[u8], order_bits: usize) -> Vec<u8> {
    if hash.len() * 8 <= order_bits {
        return hash.to_vec();
    }
    let order_len = order_bits.div_ceil(8);
    let mut z = hash[..order_len].to_vec();
    let shift = order_len * 8 - order_bits;
    if shift > 0 {
        // Shift the whole string right by `shift` (< 8) bits.
        for i in (0..z.len()).rev() {
            let carry = if i > 0 { z[i - 1] << (8 - shift) } else { 0 };
            z[i] = (z[i] >> shift) | carry;
        }
    }
    z
}

/// Left-pad (or strip leading zeros of) a big-endian integer to exactly `len` bytes.
pub(crate) fn fit(be: &[u8], len: usize) -> Option<Vec<u8>> {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let digits = &be[start..];
    if digits.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - digits.len()];
    out.extend_from_slice(digits);
    Some(out)
}

fn scalar<C>(d: &[u8]) -> Result<NonZeroScalar<C>, CryptoError>
where
    C: CurveArithmetic,
{
    let width = FieldBytes::<C>::default().len();
    let bytes = fit(d, width).ok_or(CryptoError::InvalidInput)?;
    let repr =
        FieldBytes::<C>::try_from(bytes.as_slice()).map_err(|_| CryptoError::InvalidInput)?;
    NonZeroScalar::<C>::from_repr(repr)
        .into_option()
        .ok_or(CryptoError::InvalidInput)
}

fn encode<C>(point: &AffinePoint<C>) -> Vec<u8>
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: ToSec1Point<C>,
{
    point.to_sec1_point(false).as_bytes().to_vec()
}

fn generate_on<C>() -> (Vec<u8>, Vec<u8>)
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: ToSec1Point<C>,
{
    let d = NonZeroScalar::<C>::generate_from_rng(&mut rand::rng());
    let q = PublicKey::<C>::from_secret_scalar(&d);
    (d.to_repr().to_vec(), encode::<C>(q.as_affine()))
}

fn public_on<C>(d: &[u8]) -> Result<Vec<u8>, CryptoError>
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: ToSec1Point<C>,
{
    let d = scalar::<C>(d)?;
    Ok(encode::<C>(
        PublicKey::<C>::from_secret_scalar(&d).as_affine(),
    ))
}

fn sign_on<C>(d: &[u8], z: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CryptoError>
where
    C: EcdsaCurve + CurveArithmetic,
{
    let d = scalar::<C>(d)?;
    // The card draws a random nonce per signature (not RFC 6979); retry the negligible case of
    // r or s being zero with a new nonce.
    for _ in 0..16 {
        let k = NonZeroScalar::<C>::generate_from_rng(&mut rand::rng());
        if let Ok((sig, _)) = ecdsa::hazmat::sign_prehashed::<C>(&d, &k, z) {
            let (r, s) = sig.split_bytes();
            return Ok((r.to_vec(), s.to_vec()));
        }
    }
    Err(CryptoError::InvalidInput)
}

fn dh_on<C>(d: &[u8], peer: &[u8]) -> Result<Vec<u8>, CryptoError>
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
{
    let d = scalar::<C>(d)?;
    // from_sec1_bytes rejects points that are not on the curve (invalid-curve attacks).
    let peer = PublicKey::<C>::from_sec1_bytes(peer).map_err(|_| CryptoError::InvalidInput)?;
    let shared: AffinePoint<C> = (peer.to_projective() * *d).into();
    if ProjectivePoint::<C>::from(shared) == ProjectivePoint::<C>::default() {
        return Err(CryptoError::InvalidInput);
    }
    Ok(encode::<C>(&shared))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits2int_keeps_leftmost_bits() {
        // 521-bit order, 66-byte hash: shift right by 7 bits.
        let hash = [0xFFu8; 66];
        let z = bits2int(&hash, 521);
        assert_eq!(z.len(), 66);
        assert_eq!(z[0], 0x01);
        assert!(z[1..].iter().all(|&b| b == 0xFF));
        // Short hashes are taken as they are.
        assert_eq!(bits2int(&[1, 2, 3], 256), vec![1, 2, 3]);
        // Long hashes on a byte-aligned order are cut.
        assert_eq!(bits2int(&[7u8; 64], 256), vec![7u8; 32]);
    }

    #[test]
    fn fit_pads_and_strips() {
        assert_eq!(fit(&[0, 0, 1], 2), Some(vec![0, 1]));
        assert_eq!(fit(&[1], 3), Some(vec![0, 0, 1]));
        assert_eq!(fit(&[1, 2, 3], 2), None);
    }
}
