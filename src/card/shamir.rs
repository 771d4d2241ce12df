//! sc-hsm-tool's password-share mode (`--pwd-shares-threshold t --pwd-shares-total n`,
//! PROTOCOL.md §8.6): the share file's 8-byte random password is split with Shamir's scheme
//! over a prime of at most 64 bits; t custodians give (x, y) and the password is rebuilt by
//! Lagrange interpolation at 0 mod p.
//!
//! This is integer arithmetic on public structure, not a cryptographic primitive; u128 holds
//! every product of two values below 2⁶⁴.

use super::error::{Error, Result};
use super::secret::SecretBytes;

/// One custodian's share: id x (1..=n) and value y < p.
#[derive(Clone, Copy, PartialEq, Eq, zeroize::Zeroize)]
pub struct PasswordShare {
    pub x: u64,
    pub y: u64,
}

impl std::fmt::Debug for PasswordShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PasswordShare {{ x: {}, y: <masked> }}", self.x)
    }
}

fn mul(a: u64, b: u64, p: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) % u128::from(p)) as u64
}

fn add(a: u64, b: u64, p: u64) -> u64 {
    ((u128::from(a) + u128::from(b)) % u128::from(p)) as u64
}

fn sub(a: u64, b: u64, p: u64) -> u64 {
    add(a % p, p - b % p, p)
}

/// a⁻¹ mod p by the extended Euclidean algorithm; `None` when gcd(a, p) ≠ 1.
fn inverse(a: u64, p: u64) -> Option<u64> {
    let (mut r0, mut r1) = (i128::from(p), i128::from(a % p));
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    if r0 != 1 {
        return None;
    }
    Some(t0.rem_euclid(i128::from(p)) as u64)
}

/// Reads a big-endian number of at most 8 significant bytes (hex input of the tool).
pub fn u64_from_bytes(b: &[u8]) -> Result<u64> {
    let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    let b = &b[i..];
    if b.len() > 8 {
        return Err(Error::Unsupported(
            "password-share values above 64 bits".into(),
        ));
    }
    Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// The secret from `t` shares: Σ yᵢ · Πⱼ≠ᵢ xⱼ / (xⱼ − xᵢ) mod p.
pub fn reconstruct_secret(prime: u64, shares: &[PasswordShare]) -> Result<u64> {
    if prime < 3 {
        return Err(Error::InvalidArgument("prime too small".into()));
    }
    if shares.is_empty() {
        return Err(Error::InvalidArgument("no shares".into()));
    }
    let mut secret = 0u64;
    for (i, si) in shares.iter().enumerate() {
        if si.x % prime == 0 || si.y >= prime {
            return Err(Error::InvalidArgument(format!(
                "share {} out of range",
                si.x
            )));
        }
        let (mut num, mut den) = (1u64, 1u64);
        for (j, sj) in shares.iter().enumerate() {
            if i != j {
                num = mul(num, sj.x % prime, prime);
                den = mul(den, sub(sj.x, si.x, prime), prime);
            }
        }
        let inv = inverse(den, prime).ok_or_else(|| {
            Error::InvalidArgument("two shares with the same id (or a wrong prime)".into())
        })?;
        secret = add(secret, mul(si.y, mul(num, inv, prime), prime), prime);
    }
    Ok(secret)
}

/// The share file password from `t` shares, as sc-hsm-tool derives it: the secret's minimal
/// big-endian bytes (OpenSSL's BN_bn2bin).
pub fn reconstruct_password(prime: u64, shares: &[PasswordShare]) -> Result<SecretBytes> {
    let mut s = reconstruct_secret(prime, shares)?;
    let mut bytes = s.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(8);
    let password = SecretBytes::from_slice(&bytes[first..]);
    // The password's stack copies.
    zeroize::Zeroize::zeroize(&mut s);
    zeroize::Zeroize::zeroize(&mut bytes);
    Ok(password)
}

/// Splits `secret` into `n` shares (x = 1..=n) with the polynomial
/// secret + c₁x + … + c_{t−1}x^{t−1} mod p, `coefficients` = c₁…c_{t−1} (random, < p).
pub fn split_secret(
    secret: u64,
    prime: u64,
    coefficients: &[u64],
    n: u8,
) -> Result<Vec<PasswordShare>> {
    if prime < 3 || secret >= prime {
        return Err(Error::InvalidArgument(
            "the prime must exceed the secret".into(),
        ));
    }
    if usize::from(n) <= coefficients.len() {
        return Err(Error::InvalidArgument(
            "fewer shares than the threshold".into(),
        ));
    }
    Ok((1..=u64::from(n))
        .map(|x| {
            // Horner: ((c_{t-1} x + c_{t-2}) x + …) x + secret
            let y = coefficients
                .iter()
                .rev()
                .fold(0u64, |acc, &c| add(mul(acc, x, prime), c % prime, prime));
            PasswordShare {
                x,
                y: add(mul(y, x, prime), secret, prime),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest prime below 2⁶⁴.
    const P64: u64 = 0xFFFF_FFFF_FFFF_FFC5;

    #[test]
    fn split_and_reconstruct_3_of_5() {
        let secret = 0x7A1B_2C3D_4E5F_6071;
        let shares = split_secret(
            secret,
            P64,
            &[0x1234_5678_9ABC_DEF0, 0xFEDC_BA98_7654_3210],
            5,
        )
        .unwrap();
        assert_eq!(shares.len(), 5);
        for pick in [[0, 1, 2], [0, 2, 4], [4, 3, 1], [1, 2, 3]] {
            let chosen: Vec<_> = pick.iter().map(|&i| shares[i]).collect();
            assert_eq!(reconstruct_secret(P64, &chosen).unwrap(), secret);
        }
        // Two shares of a 3-of-5 split give something else.
        assert_ne!(reconstruct_secret(P64, &shares[..2]).unwrap(), secret);
        let pw = reconstruct_password(P64, &shares[1..4]).unwrap();
        assert_eq!(pw.expose(), &secret.to_be_bytes());
    }

    #[test]
    fn small_prime_and_errors() {
        // Textbook example: p = 1613, secret 1234, coefficients 166, 94.
        let shares = split_secret(1234, 1613, &[166, 94], 6).unwrap();
        assert_eq!((shares[0].y, shares[1].y, shares[2].y), (1494, 329, 965));
        assert_eq!(reconstruct_secret(1613, &shares[3..6]).unwrap(), 1234);
        assert_eq!(
            reconstruct_password(1613, &shares[..3]).unwrap().expose(),
            &[0x04, 0xD2]
        );
        let dup = [shares[0], shares[0]];
        assert!(reconstruct_secret(1613, &dup).is_err());
        assert!(reconstruct_secret(1613, &[]).is_err());
        assert!(reconstruct_secret(1613, &[PasswordShare { x: 1, y: 2000 }]).is_err());
        assert!(split_secret(2000, 1613, &[1], 3).is_err());
        assert!(split_secret(5, 1613, &[1, 2], 2).is_err());
        assert_eq!(u64_from_bytes(&[0, 0, 1, 2]).unwrap(), 0x0102);
        assert!(u64_from_bytes(&[1; 9]).is_err());
        assert!(format!("{:?}", shares[0]).contains("masked"));
    }
}
