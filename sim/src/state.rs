//! The persistent device: what survives a power cycle, and how it is stored.
//!
//! Layout of a device directory:
//! - `device.json`  the state (serde_json), replaced atomically: temp file, fsync, rename, fsync
//!   of the directory. It starts with `"generation": N`, bumped at every write, so a connection
//!   can tell cheaply whether another process changed the device.
//! - `device.lock`  an empty file; every APDU holds an exclusive flock on it (fs4).
//! - `apdu-counter` the number of APDUs the device has processed, a fixed-width decimal
//!   overwritten in place. Kept apart from the state so read-only APDUs cost no fsync'd rewrite
//!   of the whole state; losing the last few counts in a crash is harmless.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::keys::{Key, KeyMaterial};

pub const STATE_FILE: &str = "device.json";
const LOCK_FILE: &str = "device.lock";
const COUNTER_FILE: &str = "apdu-counter";
const FORMAT: u32 = 1;

/// Everything the card keeps across power cycles (PROTOCOL.md §13.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceState {
    /// Must stay the first two fields: `read_generation` looks for them at the file's start.
    pub format: u32,
    pub generation: u64,
    /// Firmware profile name ("3.1").
    pub firmware: String,
    /// Serial as hosts show it (device CHR minus the 5-digit sequence).
    pub serial: String,
    /// CHR of the device certificate (outer CAR of key generation requests).
    pub device_chr: String,
    /// CC00: the device authentication key matching the certificate in EF 2F02.
    pub device_key: KeyMaterial,
    /// Device options word (INITIALIZE tag 80).
    pub options: u16,
    pub user_pin: Option<UserPin>,
    pub so_pin: Option<SoPin>,
    /// Bumped whenever the user PIN changes hands (set, changed, reset, device re-initialised),
    /// which logs out every connection that verified the old one.
    pub pin_epoch: u64,
    /// Bumped when the SO-PIN changes or the device is re-initialised (drops VERIFY 88 state).
    pub so_epoch: u64,
    /// DKEK per key domain; index = domain number. Always at least domain 0.
    pub domains: Vec<Domain>,
    /// Key objects CCxx (xx >= 1); CC00 is `device_key`.
    pub keys: BTreeMap<u8, Key>,
    /// Elementary files in creation order (ENUMERATE lists them so).
    pub files: Vec<Ef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserPin {
    #[serde(with = "hex_bytes")]
    pub value: Vec<u8>,
    pub max_tries: u8,
    pub tries_left: u8,
    /// Transport-PIN mode: the PIN must be changed before it can be verified (6984).
    pub transport: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SoPin {
    #[serde(with = "hex_bytes")]
    pub value: Vec<u8>,
    pub tries_left: u8,
}

pub const SO_PIN_TRIES: u8 = 15;

/// The DKEK of one key domain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Domain {
    /// `None`: no DKEK configured. `Some(0)`: random DKEK made by the card. `Some(n)`: n shares.
    pub shares: Option<u8>,
    pub outstanding: u8,
    /// XOR of the shares imported so far (or the random DKEK).
    #[serde(with = "hex_bytes")]
    pub dkek: Vec<u8>,
}

impl Domain {
    pub fn none() -> Domain {
        Domain {
            shares: None,
            outstanding: 0,
            dkek: vec![0; 32],
        }
    }
    pub fn dkek(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        if self.dkek.len() == 32 {
            out.copy_from_slice(&self.dkek);
        }
        out
    }
}

/// A transparent elementary file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ef {
    pub fid: u16,
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
}

impl DeviceState {
    pub fn initialized(&self) -> bool {
        self.user_pin.is_some() && self.so_pin.is_some()
    }
    pub fn file(&self, fid: u16) -> Option<&Ef> {
        self.files.iter().find(|f| f.fid == fid)
    }
    pub fn file_mut(&mut self, fid: u16) -> Option<&mut Ef> {
        self.files.iter_mut().find(|f| f.fid == fid)
    }
    pub fn remove_file(&mut self, fid: u16) -> bool {
        let before = self.files.len();
        self.files.retain(|f| f.fid != fid);
        before != self.files.len()
    }
    /// Replaces the content of `fid`, creating it at the end of the creation order if needed.
    pub fn put_file(&mut self, fid: u16, data: Vec<u8>) {
        match self.file_mut(fid) {
            Some(f) => f.data = data,
            None => self.files.push(Ef { fid, data }),
        }
    }
    /// Approximate bytes of EEPROM in use, for the `6A84` memory budget.
    pub fn memory_used(&self) -> usize {
        let files: usize = self.files.iter().map(|f| f.data.len() + 16).sum();
        let keys: usize = self.keys.values().map(key_footprint).sum();
        files + keys
    }
}

pub fn key_footprint(key: &Key) -> usize {
    let material = match &key.material {
        KeyMaterial::Ec { d, q, .. } => d.len() + q.len(),
        KeyMaterial::Rsa { n, e, d, p, q, .. } => n.len() + e.len() + d.len() + p.len() + q.len(),
        KeyMaterial::Aes { key } => key.len(),
    };
    material + key.algorithms.len() + 32
}

/// Hex strings for byte fields, so the state file stays readable.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s).map_err(serde::de::Error::custom)
    }
}

/// The device directory: lock, load, store.
pub struct Store {
    dir: PathBuf,
    lock: File,
}

impl Store {
    /// Opens an existing device directory (its lock file is created if missing).
    pub fn open(dir: &Path) -> Result<Store, SimError> {
        if !dir.join(STATE_FILE).is_file() {
            return Err(SimError::NoDevice(dir.to_path_buf()));
        }
        Self::open_lock(dir)
    }

    /// Opens the lock of a directory that may not hold a device yet (`create`).
    pub fn open_lock(dir: &Path) -> Result<Store, SimError> {
        let path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| SimError::io(&path, e))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Takes the exclusive lock (blocks while another process holds it).
    pub fn lock(&self) -> Result<(), SimError> {
        fs4::FileExt::lock(&self.lock).map_err(|e| SimError::io(self.dir.join(LOCK_FILE), e))
    }

    pub fn unlock(&self) {
        // Closing the file would release it too; an unlock error leaves nothing to repair.
        let _ = fs4::FileExt::unlock(&self.lock);
    }

    /// Reads and parses the whole state.
    pub fn load(&self) -> Result<DeviceState, SimError> {
        let path = self.state_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SimError::NoDevice(self.dir.clone()))
            }
            Err(e) => return Err(SimError::io(&path, e)),
        };
        let state: DeviceState = serde_json::from_slice(&bytes).map_err(|e| SimError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if state.format != FORMAT {
            return Err(SimError::Corrupt {
                path,
                reason: format!(
                    "state format {} (this simulator reads {FORMAT})",
                    state.format
                ),
            });
        }
        if crate::profile::by_name(&state.firmware).is_none() {
            return Err(SimError::Corrupt {
                path,
                reason: format!("unknown firmware {:?}", state.firmware),
            });
        }
        if state.domains.is_empty() || state.domains.iter().any(|d| d.dkek.len() != 32) {
            return Err(SimError::Corrupt {
                path,
                reason: "bad key domain table".into(),
            });
        }
        Ok(state)
    }

    /// The generation stored on disk, read from the head of the file without parsing it all;
    /// `None` when it cannot be read (the caller then reloads fully).
    pub fn read_generation(&self) -> Option<u64> {
        let mut head = [0u8; 128];
        let mut f = File::open(self.state_path()).ok()?;
        let n = f.read(&mut head).ok()?;
        let text = std::str::from_utf8(&head[..n]).ok()?;
        let at = text.find("\"generation\":")? + "\"generation\":".len();
        let digits: String = text[at..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    }

    /// Writes the state atomically (the caller holds the lock and has bumped the generation).
    pub fn save(&self, state: &DeviceState) -> Result<(), SimError> {
        // Compact: key material is a list of numbers, which pretty-printing would inflate
        // fourfold; `schsm-sim stat` is the human-readable view.
        let bytes = serde_json::to_vec(state).map_err(|e| SimError::Corrupt {
            path: self.state_path(),
            reason: e.to_string(),
        })?;
        let tmp = self.dir.join(".device.json.tmp");
        let io = |e| SimError::io(&tmp, e);
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        fs::rename(&tmp, self.state_path()).map_err(io)?;
        // Make the rename itself durable.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| SimError::io(&self.dir, e))
    }

    /// Adds one to the APDU counter (the caller holds the lock).
    pub fn count_apdu(&self) -> Result<u64, SimError> {
        let path = self.dir.join(COUNTER_FILE);
        let io = |e| SimError::io(&path, e);
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let mut text = String::new();
        f.read_to_string(&mut text).map_err(io)?;
        let n = text.trim().parse::<u64>().unwrap_or(0) + 1;
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        // Fixed width: one small in-place write, never a truncated file.
        f.write_all(format!("{n:020}\n").as_bytes()).map_err(io)?;
        Ok(n)
    }

    pub fn apdu_count(dir: &Path) -> u64 {
        fs::read_to_string(dir.join(COUNTER_FILE))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }
}

pub fn new_state(
    firmware: &str,
    serial: &str,
    chr: String,
    device_key: KeyMaterial,
) -> DeviceState {
    DeviceState {
        format: FORMAT,
        generation: 0,
        firmware: firmware.to_string(),
        serial: serial.to_string(),
        device_chr: chr,
        device_key,
        options: 0,
        user_pin: None,
        so_pin: None,
        pin_epoch: 0,
        so_epoch: 0,
        domains: vec![Domain::none()],
        keys: BTreeMap::new(),
        files: Vec::new(),
    }
}
