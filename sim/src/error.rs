//! Errors of the simulator's library API (creating, opening and inspecting a device). Card-level
//! failures never surface here: they are status words in the response APDU.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum SimError {
    /// Reading or writing a file of the device failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `create` found a device already there.
    Exists(PathBuf),
    /// No device in this directory (no state file).
    NoDevice(PathBuf),
    /// The state file exists but cannot be understood.
    Corrupt { path: PathBuf, reason: String },
    /// A firmware version with no profile.
    UnknownFirmware(String),
    /// A bad option to `create` (serial, PIN, retry counter, ...).
    InvalidOption(String),
}

impl SimError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> SimError {
        SimError::Io {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            SimError::Exists(dir) => {
                write!(
                    f,
                    "{}: a simulated device already exists there",
                    dir.display()
                )
            }
            SimError::NoDevice(dir) => write!(
                f,
                "{}: no simulated device here (make one with `schsm-sim new`)",
                dir.display()
            ),
            SimError::Corrupt { path, reason } => {
                write!(f, "{}: device state is corrupted: {reason}", path.display())
            }
            SimError::UnknownFirmware(v) => write!(
                f,
                "unknown firmware version {v:?} (known: {})",
                crate::profile::names().join(", ")
            ),
            SimError::InvalidOption(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for SimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SimError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
