//! CK_ATTRIBUTE templates: reading a template into owned [`Attribute`]s, and answering
//! C_GetAttributeValue into the caller's template as PKCS#11 2.40 §5.7 says.

use std::ptr;

use cryptoki_sys::{
    CKA_DERIVE_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_WRAP_TEMPLATE, CK_ATTRIBUTE, CK_ATTRIBUTE_TYPE,
    CK_ULONG, CK_UNAVAILABLE_INFORMATION,
};

use super::marshal::{len, ulong};
use crate::token::api::{Attribute, AttributeValue, Error, Result};

/// More entries than any real template has; bounds what a bad count can make us allocate.
const MAX_TEMPLATE_ENTRIES: usize = 1024;
/// Larger than any value the card can hold (its files are at most a few KiB).
const MAX_VALUE_LEN: usize = 1 << 20;

/// The caller's template as a slice (`pTemplate`, `ulCount`); NULL only when empty.
unsafe fn entries<'a>(p: *mut CK_ATTRIBUTE, count: CK_ULONG) -> Result<&'a mut [CK_ATTRIBUTE]> {
    let n = len(count)?;
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() || n > MAX_TEMPLATE_ENTRIES {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL; the caller promises `n` CK_ATTRIBUTEs there, ours for this call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

/// Reads a template for C_CreateObject, C_FindObjectsInit, key generation, ...: each value is
/// copied as it is (the PKCS#11 encoding, see [`Attribute`]).
pub(crate) unsafe fn read_template(
    p: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<Vec<Attribute>> {
    // SAFETY: forwarded from the caller.
    let entries = unsafe { entries(p, count)? };
    let mut template = Vec::with_capacity(entries.len());
    for entry in entries.iter() {
        template.push(unsafe { read_attribute(entry)? });
    }
    Ok(template)
}

unsafe fn read_attribute(entry: &CK_ATTRIBUTE) -> Result<Attribute> {
    // These hold nested CK_ATTRIBUTE arrays (pointers), which cannot be carried as bytes, and
    // the card has no use for them.
    if matches!(
        entry.type_,
        CKA_WRAP_TEMPLATE | CKA_UNWRAP_TEMPLATE | CKA_DERIVE_TEMPLATE
    ) {
        return Err(Error::AttributeTypeInvalid);
    }
    let n = len(entry.ulValueLen).map_err(|_| Error::AttributeValueInvalid)?;
    if n > MAX_VALUE_LEN {
        return Err(Error::AttributeValueInvalid);
    }
    let value = if n == 0 {
        Vec::new()
    } else if entry.pValue.is_null() {
        return Err(Error::ArgumentsBad);
    } else {
        // SAFETY: non-NULL; the caller promises `n` readable bytes.
        unsafe { std::slice::from_raw_parts(entry.pValue as *const u8, n) }.to_vec()
    };
    Ok(Attribute {
        kind: entry.type_,
        value,
    })
}

/// The types asked for by C_GetAttributeValue, checked before the token is asked.
pub(crate) struct Query<'a> {
    entries: &'a mut [CK_ATTRIBUTE],
}

impl<'a> Query<'a> {
    pub(crate) unsafe fn new(p: *mut CK_ATTRIBUTE, count: CK_ULONG) -> Result<Query<'a>> {
        // SAFETY: forwarded from the caller.
        Ok(Query {
            entries: unsafe { entries(p, count)? },
        })
    }

    pub(crate) fn kinds(&self) -> Vec<CK_ATTRIBUTE_TYPE> {
        self.entries.iter().map(|e| e.type_).collect()
    }

    /// Fills every entry (none is skipped after an error): sensitive, invalid or too-small
    /// entries get CK_UNAVAILABLE_INFORMATION; NULL `pValue` gets the length; else the value
    /// is copied. Answers the first of CKR_ATTRIBUTE_SENSITIVE / CKR_ATTRIBUTE_TYPE_INVALID /
    /// CKR_BUFFER_TOO_SMALL met, else CKR_OK.
    pub(crate) unsafe fn answer(self, values: Vec<AttributeValue>) -> Result<()> {
        if values.len() != self.entries.len() {
            log::error!(
                "token answered {} attributes for {} asked",
                values.len(),
                self.entries.len()
            );
            return Err(Error::GeneralError);
        }
        let mut first_error = None;
        for (entry, value) in self.entries.iter_mut().zip(values) {
            // SAFETY: forwarded from the caller.
            if let Err(e) = unsafe { answer_one(entry, value) } {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

unsafe fn answer_one(entry: &mut CK_ATTRIBUTE, value: AttributeValue) -> Result<()> {
    let value = match value {
        AttributeValue::Sensitive => {
            entry.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            return Err(Error::AttributeSensitive);
        }
        AttributeValue::Invalid => {
            entry.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            return Err(Error::AttributeTypeInvalid);
        }
        AttributeValue::Value(v) => v,
    };
    if !entry.pValue.is_null() {
        // A room beyond the address space is clamped: it only bounds what we write.
        let room = usize::try_from(entry.ulValueLen).unwrap_or(usize::MAX);
        if room < value.len() {
            entry.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            return Err(Error::BufferTooSmall);
        }
        // SAFETY: non-NULL with room for `room >= value.len()` bytes, per the caller.
        unsafe { ptr::copy_nonoverlapping(value.as_ptr(), entry.pValue as *mut u8, value.len()) };
    }
    entry.ulValueLen = ulong(value.len())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::{CKA_ID, CKA_LABEL, CKA_PRIVATE_EXPONENT, CKA_VALUE};

    fn attr(kind: CK_ATTRIBUTE_TYPE, value: &mut [u8]) -> CK_ATTRIBUTE {
        CK_ATTRIBUTE {
            type_: kind,
            pValue: value.as_mut_ptr().cast(),
            ulValueLen: value.len() as CK_ULONG,
        }
    }

    #[test]
    fn reads_template_values() {
        let mut label = *b"key";
        let mut template = [
            attr(CKA_LABEL, &mut label),
            CK_ATTRIBUTE {
                type_: CKA_ID,
                pValue: ptr::null_mut(),
                ulValueLen: 0,
            },
        ];
        let t = unsafe { read_template(template.as_mut_ptr(), 2) }.unwrap();
        assert_eq!(
            t,
            vec![
                Attribute {
                    kind: CKA_LABEL,
                    value: b"key".to_vec()
                },
                Attribute {
                    kind: CKA_ID,
                    value: vec![]
                },
            ]
        );
    }

    #[test]
    fn template_null_only_when_empty() {
        assert_eq!(unsafe { read_template(ptr::null_mut(), 0) }, Ok(vec![]));
        assert_eq!(
            unsafe { read_template(ptr::null_mut(), 1) },
            Err(Error::ArgumentsBad)
        );
    }

    #[test]
    fn template_entry_null_value_with_length_is_bad() {
        let mut template = [CK_ATTRIBUTE {
            type_: CKA_ID,
            pValue: ptr::null_mut(),
            ulValueLen: 3,
        }];
        let r = unsafe { read_template(template.as_mut_ptr(), 1) };
        assert_eq!(r, Err(Error::ArgumentsBad));
    }

    #[test]
    fn template_sizes_are_bounded() {
        let mut one = [0u8; 1];
        let mut template = [attr(CKA_ID, &mut one)];
        template[0].ulValueLen = CK_UNAVAILABLE_INFORMATION;
        let r = unsafe { read_template(template.as_mut_ptr(), 1) };
        assert_eq!(r, Err(Error::AttributeValueInvalid));
        let r = unsafe { read_template(template.as_mut_ptr(), CK_ULONG::MAX) };
        assert_eq!(r, Err(Error::ArgumentsBad));
        let r = unsafe { read_template(template.as_mut_ptr(), 1_000_000) };
        assert_eq!(r, Err(Error::ArgumentsBad));
    }

    #[test]
    fn nested_templates_are_refused() {
        let mut template = [CK_ATTRIBUTE {
            type_: CKA_WRAP_TEMPLATE,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        }];
        let r = unsafe { read_template(template.as_mut_ptr(), 1) };
        assert_eq!(r, Err(Error::AttributeTypeInvalid));
    }

    #[test]
    fn get_attribute_value_processes_every_entry() {
        let (mut secret, mut small, mut vendor, mut room) =
            ([0u8; 4], [0u8; 2], [0u8; 4], [0u8; 8]);
        let mut template = [
            attr(CKA_PRIVATE_EXPONENT, &mut secret),
            attr(CKA_ID, &mut small),
            CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: ptr::null_mut(),
                ulValueLen: 0,
            },
            attr(0x8000_1234, &mut vendor),
            attr(CKA_VALUE, &mut room),
        ];
        let q = unsafe { Query::new(template.as_mut_ptr(), 5) }.unwrap();
        assert_eq!(
            q.kinds(),
            vec![
                CKA_PRIVATE_EXPONENT,
                CKA_ID,
                CKA_LABEL,
                0x8000_1234,
                CKA_VALUE
            ]
        );
        let values = vec![
            AttributeValue::Sensitive,
            AttributeValue::Value(vec![1, 2, 3]),
            AttributeValue::Value(b"label".to_vec()),
            AttributeValue::Invalid,
            AttributeValue::Value(vec![9; 5]),
        ];
        // The first error met is the answer; every entry is still filled in.
        assert_eq!(unsafe { q.answer(values) }, Err(Error::AttributeSensitive));
        assert_eq!(template[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(template[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(small, [0, 0]);
        assert_eq!(template[2].ulValueLen, 5);
        assert_eq!(template[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(template[4].ulValueLen, 5);
        assert_eq!(room, [9, 9, 9, 9, 9, 0, 0, 0]);
    }

    #[test]
    fn get_attribute_value_first_error_order() {
        let (mut small, mut label) = ([0u8; 1], [0u8; 1]);
        let mut template = [attr(CKA_ID, &mut small), attr(CKA_LABEL, &mut label)];
        let q = unsafe { Query::new(template.as_mut_ptr(), 2) }.unwrap();
        let values = vec![AttributeValue::Value(vec![1, 2]), AttributeValue::Invalid];
        assert_eq!(unsafe { q.answer(values) }, Err(Error::BufferTooSmall));
    }

    #[test]
    fn get_attribute_value_all_ok() {
        let mut id = [0u8; 2];
        let mut template = [attr(CKA_ID, &mut id)];
        let q = unsafe { Query::new(template.as_mut_ptr(), 1) }.unwrap();
        assert_eq!(
            unsafe { q.answer(vec![AttributeValue::Value(vec![4, 5])]) },
            Ok(())
        );
        assert_eq!(id, [4, 5]);
        assert_eq!(template[0].ulValueLen, 2);
    }

    #[test]
    fn get_attribute_value_count_mismatch_is_general_error() {
        let mut id = [0u8; 2];
        let mut template = [attr(CKA_ID, &mut id)];
        let q = unsafe { Query::new(template.as_mut_ptr(), 1) }.unwrap();
        assert_eq!(unsafe { q.answer(vec![]) }, Err(Error::GeneralError));
    }
}
