//! The optional APDU log (`serve --apdu-log FILE`, `Card::set_apdu_log`): one line per command
//! and one per response, hex, with secrets masked. Masked: PINs and SO-PINs (VERIFY, CHANGE
//! REFERENCE DATA, RESET RETRY COUNTER, tags 81/82 of INITIALIZE), DKEK shares (IMPORT DKEK
//! SHARE) and GET CHALLENGE responses (sc-hsm-tool makes DKEK shares from them). Key blobs need
//! no mask: they are encrypted.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::apdu::{Command, Response};
use crate::error::SimError;
use crate::tlv;

pub struct ApduLog {
    file: File,
}

impl ApduLog {
    pub fn open(path: &Path) -> Result<ApduLog, SimError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| SimError::io(path, e))?;
        Ok(ApduLog { file })
    }

    /// Appends the command and its response; a failing log never fails the card.
    pub fn record(&mut self, raw: &[u8], response: &Response) {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let stamp = format!("{}.{:03}", t.as_secs(), t.subsec_millis());
        let ins = raw.get(1).copied().unwrap_or(0);
        let resp_data = if ins == 0x84 && !response.data.is_empty() {
            masked(response.data.len())
        } else {
            hex::encode_upper(&response.data)
        };
        let sep = if resp_data.is_empty() { "" } else { " " };
        let line = format!(
            "{stamp} > {}\n{stamp} < {resp_data}{sep}{:04X}\n",
            mask_command(raw),
            response.sw
        );
        let _ = self.file.write_all(line.as_bytes());
    }
}

fn masked(len: usize) -> String {
    format!("<{len} bytes masked>")
}

/// The command as hex with its secret parts replaced by a length note.
pub fn mask_command(raw: &[u8]) -> String {
    let Ok(cmd) = Command::parse(raw) else {
        // Unparseable: the header is safe, the rest may hold anything.
        let head = &raw[..raw.len().min(4)];
        return format!(
            "{} {}",
            hex::encode_upper(head),
            masked(raw.len() - head.len())
        );
    };
    let header = hex::encode_upper(&raw[..4]);
    let secret_data = matches!(cmd.ins, 0x20 | 0x24 | 0x2C | 0x52);
    let data = if cmd.data.is_empty() {
        String::new()
    } else if secret_data {
        masked(cmd.data.len())
    } else if cmd.ins == 0x50 {
        mask_init(&cmd.data)
    } else {
        hex::encode_upper(&cmd.data)
    };
    let le = match cmd.le {
        Some(n) => format!(" Le={n}"),
        None => String::new(),
    };
    let mut line = header;
    if !data.is_empty() {
        line.push(' ');
        line.push_str(&data);
    }
    line + &le
}

/// INITIALIZE DEVICE: options, retry counter and DKEK set-up stay visible, PIN and SO-PIN not.
fn mask_init(data: &[u8]) -> String {
    let Ok(tlvs) = tlv::parse_all(data) else {
        return masked(data.len());
    };
    tlvs.iter()
        .map(|t| {
            if matches!(t.tag, 0x81 | 0x82) {
                format!("{:02X}{}", t.tag, masked(t.value.len()))
            } else {
                hex::encode_upper(tlv::encode(t.tag, t.value))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let verify = [
            0x00, 0x20, 0x00, 0x81, 0x06, b'6', b'4', b'8', b'2', b'1', b'9',
        ];
        let line = mask_command(&verify);
        assert!(
            line.starts_with("00200081") && !line.contains("363438"),
            "{line}"
        );
        let mut init = vec![0x80, 0x50, 0x00, 0x00, 0x15];
        init.extend([0x80, 0x02, 0x00, 0x01, 0x81, 0x06]);
        init.extend(b"648219");
        init.extend([
            0x82, 0x08, 0x35, 0x37, 0x36, 0x32, 0x31, 0x38, 0x38, 0x30, 0x91, 0x01, 0x03,
        ]);
        init[4] = (init.len() - 5) as u8;
        let line = mask_command(&init);
        assert!(
            line.contains("80020001") && line.contains("910103"),
            "{line}"
        );
        assert!(
            !line.contains("363438") && !line.contains("3537363231"),
            "{line}"
        );
        let mut share = vec![0x80, 0x52, 0x00, 0x00, 0x20];
        share.extend([0xAB; 32]);
        assert!(!mask_command(&share).contains("ABAB"));
        assert_eq!(mask_command(&[0x00, 0xA4]), "00A4 <0 bytes masked>");
    }
}
