//! File commands: ENUMERATE OBJECTS, SELECT EF, READ BINARY, UPDATE BINARY, DELETE FILE
//! (PROTOCOL.md §4.9–4.12).
//!
//! Reads and writes name the file in P1P2 (implicit select, as sc-hsm-embedded does), which
//! saves a SELECT per file and keeps no "current EF" state on our side.

use super::apdu::{Command, Le};
use super::device::Device;
use super::error::{Error, Result};
use super::fid::Fid;
use super::tlv;
use crate::transport::TransportError;

/// Bytes of an UPDATE BINARY APDU that are not file data: header 4, extended Lc 3,
/// `54 02 <offset>` 4, `53 82 <len>` 4.
const UPDATE_OVERHEAD: usize = 15;

/// Largest offset the `54 02` offset object can express.
const MAX_OFFSET: usize = 0xFFFF;

/// What SELECT of an EF tells about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub fid: Fid,
    /// File size from tag 80 or 81 of the FCI, when present.
    pub size: Option<usize>,
}

impl Device {
    /// ENUMERATE OBJECTS: every file and key id on the device (§4.9). Falls back to a short Le
    /// when the reader rejects the extended form, as OpenSC does.
    pub fn enumerate(&mut self) -> Result<Vec<Fid>> {
        let ext = Command::new(0x80, 0x58, 0, 0).le(Le::Max).extended();
        let data = match self.execute(&ext) {
            Err(Error::Transport(e)) if falls_back(&e) => {
                log::info!(
                    "{}: extended ENUMERATE failed ({e}); retrying short",
                    self.name()
                );
                self.execute(&Command::new(0x80, 0x58, 0, 0).le(Le::Max))?
            }
            other => other?,
        };
        if data.len() % 2 != 0 {
            return Err(Error::malformed(format!(
                "ENUMERATE returned {} bytes (not a list of FIDs)",
                data.len()
            )));
        }
        Ok(data
            .chunks_exact(2)
            .map(|c| Fid(u16::from_be_bytes([c[0], c[1]])))
            .collect())
    }

    /// SELECT an EF by FID (`00 A4 00 00 02 <FID> 00`); `NotFound` when it does not exist.
    pub fn select_file(&mut self, fid: Fid) -> Result<FileInfo> {
        let cmd = Command::new(0x00, 0xA4, 0x00, 0x00)
            .data(fid.bytes().to_vec())
            .le(Le::Max);
        let fci = self.execute(&cmd)?;
        let mut size = None;
        if let Ok((top, _)) = tlv::Tlv::parse(&fci) {
            for t in top.children().flatten() {
                if (t.tag == 0x80 || t.tag == 0x81) && size.is_none() {
                    size = tlv::read_uint(t.value).map(|s| s as usize);
                }
            }
        }
        Ok(FileInfo { fid, size })
    }

    /// Whether a file exists (by SELECT).
    pub fn file_exists(&mut self, fid: Fid) -> Result<bool> {
        match self.select_file(fid) {
            Ok(_) => Ok(true),
            Err(Error::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One READ BINARY (`00 B1 <FID> 54 02 <offset> Le`). Returns the data and whether the
    /// card said the end of the file was reached (6282).
    pub fn read_binary(&mut self, fid: Fid, offset: usize, le: Le) -> Result<(Vec<u8>, bool)> {
        if offset > MAX_OFFSET {
            return Err(Error::InvalidArgument(format!("offset {offset} too large")));
        }
        let [fh, fl] = fid.bytes();
        let mut cmd = Command::new(0x00, 0xB1, fh, fl)
            .data(vec![0x54, 0x02, (offset >> 8) as u8, offset as u8])
            .le(le);
        if matches!(le, Le::Max) && !self.short_reads_only {
            cmd = cmd.extended();
        }
        let r = self.transmit(&cmd)?;
        match r.sw {
            0x6282 => Ok((r.data, true)),
            _ => r.into_result().map(|d| (d, false)),
        }
    }

    /// Reads a whole file: one READ BINARY with extended Le, continued at the next offset while
    /// the card returns full buffers; short Le chunks once a reader has refused extended APDUs.
    /// A missing file is `NotFound`.
    pub fn read_file(&mut self, fid: Fid) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let short = self.short_reads_only;
            let step = if short {
                self.read_binary(fid, out.len(), Le::Exactly(256))
            } else {
                self.read_binary(fid, out.len(), Le::Max)
            };
            let (chunk, eof) = match step {
                Ok(r) => r,
                Err(Error::Transport(e)) if !short && falls_back(&e) => {
                    self.switch_to_short_reads(&e.to_string());
                    continue;
                }
                Err(Error::WrongLength) if !short => {
                    self.switch_to_short_reads("SW 6700");
                    continue;
                }
                // Offset beyond the end: the previous chunk ended exactly at the end.
                Err(Error::WrongParameters) if !out.is_empty() => break,
                Err(e) => return Err(e),
            };
            let full = if short {
                256
            } else {
                self.max_apdu_len().saturating_sub(2)
            };
            let n = chunk.len();
            out.extend_from_slice(&chunk);
            if eof || n == 0 || n < full {
                break;
            }
            if out.len() > MAX_OFFSET {
                return Err(Error::malformed(format!("file {fid} larger than 64 KiB")));
            }
        }
        Ok(out)
    }

    fn switch_to_short_reads(&mut self, why: &str) {
        log::warn!(
            "{}: extended READ BINARY failed ({why}); reading files in short chunks",
            self.name()
        );
        self.short_reads_only = true;
    }

    /// Reads a file, `Ok(None)` when it does not exist.
    pub fn read_file_if_exists(&mut self, fid: Fid) -> Result<Option<Vec<u8>>> {
        match self.read_file(fid) {
            Ok(d) => Ok(Some(d)),
            Err(Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One UPDATE BINARY (`00 D7 <FID> 54 02 <offset> 53 <len> <data>`); creates the file if
    /// needed and extends it. The data must fit one APDU (see [`Device::update_file`]).
    pub fn update_binary(&mut self, fid: Fid, offset: usize, data: &[u8]) -> Result<()> {
        if offset > MAX_OFFSET {
            return Err(Error::InvalidArgument(format!("offset {offset} too large")));
        }
        let mut body = vec![0x54, 0x02, (offset >> 8) as u8, offset as u8];
        tlv::write(&mut body, 0x53, data);
        let [fh, fl] = fid.bytes();
        let cmd = Command::new(0x00, 0xD7, fh, fl).data(body);
        self.execute(&cmd).map(|_| ())
    }

    /// Writes `data` at offset 0 in chunks that fit the device's (and reader's) APDU size.
    /// Does not truncate: use [`Device::write_file`] to replace a file.
    pub fn update_file(&mut self, fid: Fid, data: &[u8]) -> Result<()> {
        if data.len() > MAX_OFFSET + 1 {
            return Err(Error::InvalidArgument(format!(
                "{} bytes do not fit a file",
                data.len()
            )));
        }
        let chunk = self.max_apdu_len().saturating_sub(UPDATE_OVERHEAD).max(1);
        if data.is_empty() {
            return self.update_binary(fid, 0, &[]);
        }
        for (i, part) in data.chunks(chunk).enumerate() {
            self.update_binary(fid, i * chunk, part)?;
        }
        Ok(())
    }

    /// Replaces a file: deletes it (if present), then writes `data`.
    pub fn write_file(&mut self, fid: Fid, data: &[u8]) -> Result<()> {
        self.delete_file_if_exists(fid)?;
        self.update_file(fid, data)
    }

    /// DELETE FILE (`00 E4 02 00 02 <FID>`): a file, or a key when the FID is CCxx.
    pub fn delete_file(&mut self, fid: Fid) -> Result<()> {
        let cmd = Command::new(0x00, 0xE4, 0x02, 0x00).data(fid.bytes().to_vec());
        self.execute(&cmd).map(|_| ())
    }

    /// DELETE FILE that treats "not found" as done; returns whether something was deleted.
    pub fn delete_file_if_exists(&mut self, fid: Fid) -> Result<bool> {
        match self.delete_file(fid) {
            Ok(()) => Ok(true),
            Err(Error::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Transport failures that suggest the reader cannot carry extended-length APDUs (as opposed
/// to the card or the connection being gone).
fn falls_back(e: &TransportError) -> bool {
    matches!(
        e,
        TransportError::Other(_) | TransportError::InvalidResponse(_)
    )
}

#[cfg(test)]
mod tests {
    use super::super::device::tests::mock_device;
    use super::*;

    #[test]
    fn enumerate_parses_fids() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("80580000000000", "2F02 CC00 C401 CE01 CC01 9000");
        let fids = d.enumerate().unwrap();
        assert_eq!(
            fids,
            [
                Fid(0x2F02),
                Fid(0xCC00),
                Fid(0xC401),
                Fid(0xCE01),
                Fid(0xCC01)
            ]
        );
        m.expect_hex("80580000000000", "2F 9000");
        assert!(matches!(d.enumerate(), Err(Error::Malformed(_))));
        m.assert_done();
    }

    #[test]
    fn read_small_file_in_one_extended_apdu() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("00B12F020000045402000000 00", "7F2103010203 9000");
        assert_eq!(
            d.read_file(Fid::DEVICE_CERTIFICATE).unwrap(),
            [0x7F, 0x21, 3, 1, 2, 3]
        );
        m.expect_hex("00B12F030000045402000000 00", "6A82");
        assert_eq!(d.read_file_if_exists(Fid::TOKEN_INFO).unwrap(), None);
        m.assert_done();
    }

    #[test]
    fn read_continues_while_buffers_are_full() {
        let (mut d, m) = mock_device(3, 5);
        let first = vec![0xAB; 1230];
        m.expect(
            &[0, 0xB1, 0xCE, 1, 0, 0, 4, 0x54, 2, 0, 0, 0, 0],
            &[first.clone(), vec![0x90, 0]].concat(),
        );
        m.expect(
            &[0, 0xB1, 0xCE, 1, 0, 0, 4, 0x54, 2, 0x04, 0xCE, 0, 0],
            &[1, 2, 0x62, 0x82],
        );
        let f = d.read_file(Fid::ee_certificate(1)).unwrap();
        assert_eq!(f.len(), 1232);
        m.assert_done();
    }

    #[test]
    fn read_falls_back_to_short_chunks() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_error(
            &[0, 0xB1, 0xC4, 1, 0, 0, 4, 0x54, 2, 0, 0, 0, 0],
            TransportError::Other("reader refuses extended APDU".into()),
        );
        m.expect(
            &[0, 0xB1, 0xC4, 1, 4, 0x54, 2, 0, 0, 0],
            &[[7u8; 256].as_slice(), &[0x90, 0]].concat(),
        );
        m.expect(&[0, 0xB1, 0xC4, 1, 4, 0x54, 2, 1, 0, 0], &[9, 0x90, 0]);
        let f = d.read_file(Fid::prkd(1)).unwrap();
        assert_eq!((f.len(), f[256]), (257, 9));
        m.assert_done();
    }

    #[test]
    fn update_file_is_chunked_to_the_device_apdu_size() {
        let (mut d, m) = mock_device(3, 5);
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let chunk = 1232 - 15;
        for (i, part) in data.chunks(chunk).enumerate() {
            let off = i * chunk;
            let mut body = vec![0x54, 2, (off >> 8) as u8, off as u8];
            tlv::write(&mut body, 0x53, part);
            let mut apdu = vec![0, 0xD7, 0x2F, 0x10];
            if body.len() > 255 {
                apdu.extend_from_slice(&[0, (body.len() >> 8) as u8, body.len() as u8]);
            } else {
                apdu.push(body.len() as u8);
            }
            apdu.extend_from_slice(&body);
            assert!(apdu.len() <= 1232);
            m.expect(&apdu, &[0x90, 0]);
        }
        d.update_file(Fid::UNWRAP_STAGING, &data).unwrap();
        m.assert_done();
        assert_eq!(m.sent().len(), 1 + 3);
    }

    #[test]
    fn write_replaces_and_delete_maps_not_found() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("00E4020002C401", "6A82");
        m.expect_hex("00D7C401 08 5402000053020102", "9000");
        d.write_file(Fid::prkd(1), &[1, 2]).unwrap();
        m.expect_hex("00E4020002CC05", "6A82");
        assert_eq!(d.delete_file(Fid::key(5)), Err(Error::NotFound));
        m.expect_hex("00A4000002C40100", "6F0B8002001E820101 8302C401 9000");
        assert_eq!(d.select_file(Fid::prkd(1)).unwrap().size, Some(30));
        m.assert_done();
    }
}
