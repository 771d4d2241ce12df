//! Making a device (`create`, `schsm-sim new`) and describing one (`stat`, `schsm-sim stat`).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::crypto::{self, cvc};
use crate::error::SimError;
use crate::init::{self, InitParams, EF_DEVAUT};
use crate::keys::KeyMaterial;
use crate::profile;
use crate::state::{self, DeviceState, Store};

/// What `create` makes.
#[derive(Debug, Clone)]
pub struct NewOptions {
    /// Firmware profile, e.g. "3.1" (see `profile::names()`).
    pub firmware: String,
    /// Serial (the device CHR without its 5-digit sequence), e.g. "DENK0100001"; random if `None`.
    pub serial: Option<String>,
    /// Initialise the device right away (as INITIALIZE DEVICE would, options 0001).
    pub init: Option<InitOptions>,
}

/// INITIALIZE DEVICE parameters for `create`.
#[derive(Clone)]
pub struct InitOptions {
    pub so_pin: [u8; 8],
    pub pin: Vec<u8>,
    /// `None`: no DKEK; `Some(0)`: random DKEK; `Some(n)`: n shares to import.
    pub dkek_shares: Option<u8>,
    pub retry: u8,
}

impl std::fmt::Debug for InitOptions {
    // PINs stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitOptions")
            .field("dkek_shares", &self.dkek_shares)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl NewOptions {
    /// A blank device (not initialised) of firmware profile `firmware`, with a random serial.
    pub fn blank(firmware: &str) -> NewOptions {
        NewOptions {
            firmware: firmware.into(),
            serial: None,
            init: None,
        }
    }

    /// A device initialised at once with `so_pin`, `pin` (3 tries) and `dkek_shares` (`None`: no
    /// DKEK; `Some(0)`: a random one): the device tests and demonstrations start from.
    pub fn initialised(
        firmware: &str,
        so_pin: [u8; 8],
        pin: &[u8],
        dkek_shares: Option<u8>,
    ) -> NewOptions {
        NewOptions {
            init: Some(InitOptions {
                so_pin,
                pin: pin.to_vec(),
                dkek_shares,
                retry: 3,
            }),
            ..NewOptions::blank(firmware)
        }
    }

    /// The same with the serial `serial` (e.g. "DENK0100001") instead of a random one.
    pub fn with_serial(self, serial: &str) -> NewOptions {
        NewOptions {
            serial: Some(serial.into()),
            ..self
        }
    }
}

/// Options word `create --init` uses: RESET RETRY COUNTER enabled (sc-hsm-tool's default).
const DEFAULT_OPTIONS: u16 = 0x0001;

/// Makes a new device in `dir` (created if missing). Fails if a device already exists there.
pub fn create(dir: &Path, opts: &NewOptions) -> Result<(), SimError> {
    let profile = profile::by_name(&opts.firmware)
        .ok_or_else(|| SimError::UnknownFirmware(opts.firmware.clone()))?;
    let serial = match &opts.serial {
        Some(s) => check_serial(s)?,
        None => random_serial(),
    };
    let init = match &opts.init {
        None => None,
        Some(i) => {
            let p = InitParams {
                options: DEFAULT_OPTIONS,
                pin: i.pin.clone(),
                so_pin: i.so_pin.to_vec(),
                retry: i.retry,
                dkek_shares: i.dkek_shares,
                key_domains: 1,
            };
            p.validate()
                .map_err(|why| SimError::InvalidOption(why.into()))?;
            Some(p)
        }
    };
    fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
    let store = Store::open_lock(dir)?;
    store.lock()?;
    let result = (|| {
        if store.state_path().exists() {
            return Err(SimError::Exists(dir.to_path_buf()));
        }
        let identity = cvc::new_device_identity(&serial);
        let mut state = state::new_state(profile.name, &serial, identity.chr, identity.device_key);
        state.put_file(EF_DEVAUT, identity.chain);
        if let Some(p) = &init {
            init::apply(&mut state, p);
        }
        store.save(&state)
    })();
    store.unlock();
    result
}

/// A serial is what hosts show as the token serial: letters and digits, at most 11 so that the
/// device CHR (serial + 5 digits) fits the 16 characters of a CHR.
fn check_serial(s: &str) -> Result<String, SimError> {
    let ok = (5..=11).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(s.to_string())
    } else {
        Err(SimError::InvalidOption(format!(
            "serial {s:?}: use 5 to 11 upper-case letters and digits, e.g. DENK0100001"
        )))
    }
}

/// "DENK01" + 5 random digits, the shape of a real Nitrokey serial.
fn random_serial() -> String {
    let r = crypto::random_bytes(4);
    let n = u32::from_be_bytes([r[0], r[1], r[2], r[3]]) % 100_000;
    format!("DENK01{n:05}")
}

/// A human-readable summary of the device in `dir` (what `schsm-sim stat` prints).
pub fn stat(dir: &Path) -> Result<String, SimError> {
    let store = Store::open(dir)?;
    store.lock()?;
    let loaded = store.load();
    let count = Store::apdu_count(dir);
    store.unlock();
    let state = loaded?;
    Ok(describe(dir, &state, count))
}

fn describe(dir: &Path, s: &DeviceState, apdus: u64) -> String {
    let mut o = String::new();
    let p = profile::by_name(&s.firmware);
    let _ = writeln!(o, "Device:        {}", dir.display());
    if let Some(p) = p {
        let _ = writeln!(
            o,
            "Firmware:      {} on {}, max APDU {} bytes",
            p.name, p.platform, p.max_apdu
        );
        let mut quirks = Vec::new();
        if p.unwrap_alglist_bug168 {
            quirks.push("bug #168 (UNWRAP with algorithm list -> 6F00)");
        }
        if p.weak_aes_keygen {
            quirks.push("weak-AES-key advisory version");
        }
        if !p.aes {
            quirks.push("no AES");
        }
        if !quirks.is_empty() {
            let _ = writeln!(o, "Quirks:        {}", quirks.join("; "));
        }
    }
    let _ = writeln!(
        o,
        "Serial:        {} (device CHR {})",
        s.serial, s.device_chr
    );
    match (&s.user_pin, &s.so_pin) {
        (Some(u), Some(so)) => {
            let _ = writeln!(
                o,
                "Initialized:   yes, options {:04X}{}",
                s.options,
                option_names(s.options)
            );
            let mut pin = format!("{} of {} tries left", u.tries_left, u.max_tries);
            if u.tries_left == 0 {
                pin.push_str(", BLOCKED");
            }
            if u.transport {
                pin.push_str(", transport PIN (must be changed)");
            }
            let _ = writeln!(o, "User PIN:      {pin}");
            let _ = writeln!(
                o,
                "SO-PIN:        {} of {} tries left",
                so.tries_left,
                state::SO_PIN_TRIES
            );
        }
        _ => {
            let _ = writeln!(o, "Initialized:   no");
        }
    }
    for (i, d) in s.domains.iter().enumerate() {
        let what = match d.shares {
            None => "no DKEK".to_string(),
            Some(0) => format!(
                "random DKEK, KCV {}",
                hex::encode_upper(crypto::blob::kcv(&d.dkek()))
            ),
            Some(n) => format!(
                "DKEK of {n} share(s), {} outstanding, KCV {}",
                d.outstanding,
                hex::encode_upper(crypto::blob::kcv(&d.dkek()))
            ),
        };
        let _ = writeln!(o, "Key domain {i}:  {what}");
    }
    let _ = writeln!(
        o,
        "Keys:          {} (plus the device key CC00)",
        s.keys.len()
    );
    for (id, k) in &s.keys {
        let algs = if k.algorithms.is_empty() {
            "any algorithm".to_string()
        } else {
            format!("algorithms {}", hex::encode_upper(&k.algorithms))
        };
        let uses = k
            .use_counter
            .map(|n| format!(", {n} uses left"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  CC{id:02X}  {}, {algs}, domain {}{uses}",
            key_kind(&k.material),
            k.domain
        );
    }
    let files: Vec<String> = s
        .files
        .iter()
        .map(|f| format!("{:04X} ({} bytes)", f.fid, f.data.len()))
        .collect();
    let _ = writeln!(o, "Files:         {}", files.len());
    for chunk in files.chunks(4) {
        let _ = writeln!(o, "  {}", chunk.join(", "));
    }
    if let Some(p) = p {
        let _ = writeln!(
            o,
            "Memory:        {} of {} bytes used",
            s.memory_used(),
            p.memory
        );
    }
    let _ = writeln!(o, "APDU counter:  {apdus}");
    let _ = writeln!(o, "State writes:  {}", s.generation);
    o
}

fn key_kind(m: &KeyMaterial) -> String {
    match m {
        KeyMaterial::Ec { curve, .. } => {
            let bits = crypto::curves::by_name(curve)
                .map(|c| c.bits())
                .unwrap_or(0);
            format!("EC {curve} ({bits} bits)")
        }
        KeyMaterial::Rsa { bits, .. } => format!("RSA {bits} bits"),
        KeyMaterial::Aes { key } => format!("AES {} bits", key.len() * 8),
    }
}

fn option_names(options: u16) -> String {
    let mut names = Vec::new();
    if options & crate::pin::OPT_RRC != 0 {
        names.push("RESET RETRY COUNTER enabled");
    }
    if options & crate::pin::OPT_TRANSPORT_PIN != 0 {
        names.push("transport PIN mode");
    }
    if options & crate::pin::OPT_RRC_COUNTER_ONLY != 0 {
        names.push("RRC resets counter only");
    }
    if names.is_empty() {
        String::new()
    } else {
        format!(" ({})", names.join(", "))
    }
}
