//! Byte strings that hold secrets: PINs, DKEK shares, private key components, passwords.
//!
//! They are wiped when dropped and never show their content in `Debug` output, so a stray
//! `{:?}` in a log line cannot leak them.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// A secret byte string, zeroized on drop, masked in `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes` (the caller's vector is moved, not copied).
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(bytes))
    }

    /// Copies `bytes` into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        SecretBytes::new(bytes.to_vec())
    }

    /// The secret bytes. Named so that every use of the content is visible in review.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        SecretBytes::new(v)
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(v: &[u8]) -> Self {
        SecretBytes::from_slice(v)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes>)", self.0.len())
    }
}

/// A fixed-size secret (keys, shares), zeroized on drop, masked in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretArray<const N: usize>(Zeroizing<[u8; N]>);

impl<const N: usize> SecretArray<N> {
    pub fn new(bytes: [u8; N]) -> Self {
        SecretArray(Zeroizing::new(bytes))
    }

    /// `None` when `bytes` is not exactly `N` long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut a = [0u8; N];
        if bytes.len() != N {
            return None;
        }
        a.copy_from_slice(bytes);
        let s = SecretArray::new(a);
        a.zeroize();
        Some(s)
    }

    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for SecretArray<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretArray(<{N} bytes>)")
    }
}

/// Bytes of stack [`wipe_stack`] overwrites: more than the cipher calls of `crypto.rs` use.
const STACK_WIPE_LEN: usize = 8 * 1024;

/// Overwrites the stack just below the caller's frame, where the frames of the functions it
/// called were. For what zeroize-on-drop cannot reach: the `aes` crate's VAES/AES-NI backends
/// spill the key schedule (whose first round keys are the key) into their own stack frames, and
/// those bytes stay there after they return (seen with K_MAC in
/// pkcs11-tests/tests/65-reliability-secrets-memory.sh).
#[inline(never)]
pub fn wipe_stack() {
    let mut area = [0u8; STACK_WIPE_LEN];
    // Volatile writes: the compiler may not drop the stores to a buffer that is never read.
    area.zeroize();
    std::hint::black_box(&area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_content() {
        let s = SecretBytes::from_slice(b"648219");
        let d = format!("{s:?}");
        assert!(!d.contains("648219") && !d.contains("54"), "{d}");
        let a = SecretArray::new([0x41u8; 4]);
        assert_eq!(format!("{a:?}"), "SecretArray(<4 bytes>)");
        assert!(SecretArray::<4>::from_slice(&[1, 2, 3]).is_none());
    }
}
