//! Conversions between C arguments and Rust values: input buffers, PINs, out-pointers, output
//! buffers (the size-query convention), lists, and blank-padded string fields. Templates are in
//! `attributes.rs`, mechanisms in `mechanism.rs`.
//!
//! Every function checks its pointer before use; lengths are converted with `try_from`. The
//! lifetimes of the returned slices are those the caller's C pointers promise: only for the call.

use std::ptr::{self, NonNull};

use cryptoki_sys::{CK_ULONG, CK_VERSION};

use crate::token::api::{Error, Output, Result};

/// A C length as `usize`; it must also fit the `isize` bound of a Rust slice.
pub(crate) fn len(n: CK_ULONG) -> Result<usize> {
    let n = usize::try_from(n).map_err(|_| Error::ArgumentsBad)?;
    if n > isize::MAX as usize {
        return Err(Error::ArgumentsBad);
    }
    Ok(n)
}

/// A Rust length as CK_ULONG (always fits on the platforms we build for).
pub(crate) fn ulong(n: usize) -> Result<CK_ULONG> {
    CK_ULONG::try_from(n).map_err(|_| Error::GeneralError)
}

/// An input buffer (`pData`, `ulDataLen`). NULL is only allowed for an empty buffer.
pub(crate) unsafe fn bytes<'a>(p: *const u8, n: CK_ULONG) -> Result<&'a [u8]> {
    let n = len(n)?;
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL, and the caller promises `n` readable bytes there for this call.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// A PIN (`pPin`, `ulPinLen`): NULL with length 0 is `None`, the protected authentication path.
pub(crate) unsafe fn pin<'a>(p: *const u8, n: CK_ULONG) -> Result<Option<&'a [u8]>> {
    if p.is_null() {
        return if n == 0 {
            Ok(None)
        } else {
            Err(Error::ArgumentsBad)
        };
    }
    // SAFETY: p is non-NULL; the caller promises `n` bytes.
    unsafe { bytes(p, n) }.map(Some)
}

/// An out-pointer that must be given (`phSession`, `pInfo`, ...). Checked before the token is
/// called, so that an operation is never performed whose result cannot be delivered.
pub(crate) fn out<T>(p: *mut T) -> Result<NonNull<T>> {
    NonNull::new(p).ok_or(Error::ArgumentsBad)
}

/// Stores `value` through a checked out-pointer.
pub(crate) unsafe fn store<T>(p: NonNull<T>, value: T) {
    // SAFETY: non-NULL (checked by `out`); the caller promises it points to a writable T.
    unsafe { p.as_ptr().write(value) }
}

/// An output buffer (`pOut`, `pulOutLen`), checked before the operation: `pulOutLen` must be
/// given; the capacity is `None` for a size query (`pOut` NULL), else `*pulOutLen`.
pub(crate) struct OutBuf {
    data: *mut u8,
    len: NonNull<CK_ULONG>,
    capacity: Option<usize>,
}

impl OutBuf {
    pub(crate) unsafe fn new(data: *mut u8, len: *mut CK_ULONG) -> Result<Self> {
        let len = out(len)?;
        let capacity = if data.is_null() {
            None
        } else {
            // SAFETY: `len` is non-NULL and the caller promises it is readable. A capacity
            // beyond the address space is clamped: it is an upper bound only.
            Some(usize::try_from(unsafe { len.as_ptr().read() }).unwrap_or(usize::MAX))
        };
        Ok(OutBuf {
            data,
            len,
            capacity,
        })
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    /// Delivers the token's answer. `Len(n)`: `*pulOutLen = n`, CKR_BUFFER_TOO_SMALL if the
    /// caller gave a buffer (else a size query: CKR_OK). `Data(v)`: copy, `*pulOutLen = v.len()`.
    /// Never writes beyond the caller's capacity, whatever the token answers.
    pub(crate) unsafe fn deliver(self, answer: Output) -> Result<()> {
        match answer {
            Output::Len(n) => {
                // SAFETY: `len` is a checked out-pointer.
                unsafe { store(self.len, ulong(n)?) };
                match self.capacity {
                    Some(_) => Err(Error::BufferTooSmall),
                    None => Ok(()),
                }
            }
            Output::Data(v) => {
                match self.capacity {
                    Some(cap) if v.len() > cap => {
                        log::error!("token answered {} bytes for a {cap}-byte buffer", v.len());
                        unsafe { store(self.len, ulong(v.len())?) };
                        return Err(Error::BufferTooSmall);
                    }
                    Some(_) => {
                        // SAFETY: `data` is non-NULL (capacity is Some) and has room for
                        // `cap >= v.len()` bytes; the token's Vec cannot overlap it.
                        unsafe { ptr::copy_nonoverlapping(v.as_ptr(), self.data, v.len()) };
                    }
                    None if !v.is_empty() => {
                        log::error!("token delivered {} bytes to a size query", v.len());
                    }
                    None => {}
                }
                // SAFETY: `len` is a checked out-pointer.
                unsafe { store(self.len, ulong(v.len())?) };
                Ok(())
            }
        }
    }
}

/// For update calls that produce no output (C_DigestUpdate, C_SignUpdate, C_VerifyUpdate).
pub(crate) fn no_output(answer: Output) -> Result<()> {
    match answer {
        Output::Data(v) if v.is_empty() => Ok(()),
        Output::Len(0) => Ok(()),
        _ => {
            log::error!("token produced output for an update call that has none");
            Err(Error::GeneralError)
        }
    }
}

/// A list (`pList`, `pulCount`): `pList` NULL asks for the count; a list too small gets the count
/// and CKR_BUFFER_TOO_SMALL. `count` is the checked `pulCount`.
pub(crate) unsafe fn deliver_list<T: Copy>(
    items: &[T],
    list: *mut T,
    count: NonNull<CK_ULONG>,
) -> Result<()> {
    let n = ulong(items.len())?;
    if !list.is_null() {
        // SAFETY: `count` is a checked out-pointer the caller promises readable.
        let room = unsafe { count.as_ptr().read() };
        if room < n {
            unsafe { store(count, n) };
            return Err(Error::BufferTooSmall);
        }
        // SAFETY: `list` is non-NULL with room for `room >= n` elements.
        unsafe { ptr::copy_nonoverlapping(items.as_ptr(), list, items.len()) };
    }
    unsafe { store(count, n) };
    Ok(())
}

/// A blank-padded, not NUL-terminated string field, truncated on a UTF-8 character boundary.
pub(crate) fn padded<const N: usize>(s: &str) -> [u8; N] {
    let mut field = [b' '; N];
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    field[..end].copy_from_slice(&s.as_bytes()[..end]);
    field
}

pub(crate) fn version((major, minor): (u8, u8)) -> CK_VERSION {
    CK_VERSION { major, minor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_fills_blanks_and_truncates_on_char_boundary() {
        assert_eq!(&padded::<8>("abc"), b"abc     ");
        assert_eq!(&padded::<3>("abcdef"), b"abc");
        // "ä" is two bytes: it must not be cut in half.
        assert_eq!(&padded::<4>("abcä"), b"abc ");
        assert_eq!(&padded::<5>("abcä"), "abcä".as_bytes());
        assert_eq!(&padded::<2>(""), b"  ");
    }

    #[test]
    fn bytes_checks_null_and_allows_empty() {
        unsafe {
            assert_eq!(bytes(ptr::null(), 0), Ok(&[][..]));
            assert_eq!(bytes(ptr::null(), 1), Err(Error::ArgumentsBad));
            let data = [1u8, 2, 3];
            assert_eq!(bytes(data.as_ptr(), 2), Ok(&data[..2]));
        }
    }

    #[test]
    fn len_rejects_beyond_isize() {
        assert_eq!(len(CK_ULONG::MAX), Err(Error::ArgumentsBad));
        assert_eq!(len(7), Ok(7));
    }

    #[test]
    fn pin_null_is_protected_path() {
        unsafe {
            assert_eq!(pin(ptr::null(), 0), Ok(None));
            assert_eq!(pin(ptr::null(), 4), Err(Error::ArgumentsBad));
            let p = *b"1234";
            assert_eq!(pin(p.as_ptr(), 4), Ok(Some(&p[..])));
            assert_eq!(pin(p.as_ptr(), 0), Ok(Some(&[][..])));
        }
    }

    #[test]
    fn out_rejects_null() {
        assert!(out::<CK_ULONG>(ptr::null_mut()).is_err());
    }

    #[test]
    fn outbuf_needs_length_pointer() {
        let mut buf = [0u8; 4];
        assert!(unsafe { OutBuf::new(buf.as_mut_ptr(), ptr::null_mut()) }.is_err());
    }

    #[test]
    fn outbuf_size_query() {
        let mut n: CK_ULONG = 99;
        let o = unsafe { OutBuf::new(ptr::null_mut(), &mut n) }.unwrap();
        assert_eq!(o.capacity(), None);
        assert_eq!(unsafe { o.deliver(Output::Len(5)) }, Ok(()));
        assert_eq!(n, 5);
    }

    #[test]
    fn outbuf_too_small_reports_length() {
        let mut buf = [0u8; 2];
        let mut n: CK_ULONG = 2;
        let o = unsafe { OutBuf::new(buf.as_mut_ptr(), &mut n) }.unwrap();
        assert_eq!(o.capacity(), Some(2));
        assert_eq!(
            unsafe { o.deliver(Output::Len(5)) },
            Err(Error::BufferTooSmall)
        );
        assert_eq!(n, 5);
    }

    #[test]
    fn outbuf_copies_data() {
        let mut buf = [0u8; 4];
        let mut n: CK_ULONG = 4;
        let o = unsafe { OutBuf::new(buf.as_mut_ptr(), &mut n) }.unwrap();
        assert_eq!(unsafe { o.deliver(Output::Data(vec![7, 8, 9])) }, Ok(()));
        assert_eq!(n, 3);
        assert_eq!(buf, [7, 8, 9, 0]);
    }

    #[test]
    fn outbuf_never_overruns_on_oversized_answer() {
        let mut buf = [0u8; 4];
        let mut n: CK_ULONG = 2;
        let o = unsafe { OutBuf::new(buf.as_mut_ptr(), &mut n) }.unwrap();
        let answer = unsafe { o.deliver(Output::Data(vec![1, 2, 3])) };
        assert_eq!(answer, Err(Error::BufferTooSmall));
        assert_eq!(n, 3);
        assert_eq!(buf, [0; 4]);
    }

    #[test]
    fn no_output_accepts_only_empty() {
        assert_eq!(no_output(Output::Data(vec![])), Ok(()));
        assert_eq!(no_output(Output::Len(0)), Ok(()));
        assert_eq!(no_output(Output::Data(vec![1])), Err(Error::GeneralError));
    }

    #[test]
    fn list_size_query_too_small_and_copy() {
        let items: [CK_ULONG; 3] = [10, 20, 30];
        let mut count: CK_ULONG = 0;
        let c = out(&mut count as *mut CK_ULONG).unwrap();
        assert_eq!(unsafe { deliver_list(&items, ptr::null_mut(), c) }, Ok(()));
        assert_eq!(count, 3);

        let mut small = [0 as CK_ULONG; 2];
        count = 2;
        let c = out(&mut count as *mut CK_ULONG).unwrap();
        let r = unsafe { deliver_list(&items, small.as_mut_ptr(), c) };
        assert_eq!(r, Err(Error::BufferTooSmall));
        assert_eq!(count, 3);
        assert_eq!(small, [0, 0]);

        let mut big = [0 as CK_ULONG; 4];
        count = 4;
        let c = out(&mut count as *mut CK_ULONG).unwrap();
        assert_eq!(unsafe { deliver_list(&items, big.as_mut_ptr(), c) }, Ok(()));
        assert_eq!(count, 3);
        assert_eq!(big, [10, 20, 30, 0]);
    }
}
