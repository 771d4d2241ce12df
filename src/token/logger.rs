//! The module's logger: lines "schsm-pkcs11: LEVEL target: message" to stderr or a file.
//!
//! `log` allows one logger per process, so it is installed at the first C_Initialize; later
//! initialisations only change the level and the destination. Writing never panics (errors are
//! ignored: a log line is not worth failing a signature for). What is logged is the caller's
//! business; the rule everywhere is that PINs and key material never reach a log line.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use parking_lot::Mutex;

use crate::config::Config;

enum Sink {
    Stderr,
    File(std::fs::File),
}

struct Logger {
    sink: Mutex<Sink>,
}

static LOGGER: Logger = Logger {
    sink: Mutex::new(Sink::Stderr),
};

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let target = record.target();
        let target = target.strip_prefix("schsm_pkcs11::").unwrap_or(target);
        let line = format!(
            "schsm-pkcs11: {} {}: {}\n",
            record.level(),
            target,
            record.args()
        );
        let mut sink = self.sink.lock();
        let _ = match &mut *sink {
            Sink::Stderr => std::io::stderr().write_all(line.as_bytes()),
            Sink::File(f) => f.write_all(line.as_bytes()),
        };
    }

    fn flush(&self) {
        if let Sink::File(f) = &mut *self.sink.lock() {
            let _ = f.flush();
        }
    }
}

/// Installs the logger (once per process) and applies the configured level and destination.
pub fn init(config: &Config) {
    // Fails only when a logger is already installed (ours, from an earlier C_Initialize, or the
    // host's when this crate is linked as an rlib): then the level still applies.
    let _ = log::set_logger(&LOGGER);
    *LOGGER.sink.lock() = match &config.log_file {
        Some(path) => open(path),
        None => Sink::Stderr,
    };
    log::set_max_level(config.log_level);
    for w in &config.warnings {
        log::warn!("configuration: {w}");
    }
}

fn open(path: &Path) -> Sink {
    match OpenOptions::new().create(true).append(true).open(path) {
        Ok(f) => Sink::File(f),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "schsm-pkcs11: WARN cannot open log file {}: {e}; logging to stderr",
                path.display()
            );
            Sink::Stderr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_prefixed_lines_to_the_file() {
        let path = std::env::temp_dir().join(format!("schsm-log-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let c = Config {
            log_file: Some(path.clone()),
            log_level: log::LevelFilter::Info,
            ..Config::default()
        };
        init(&c);
        log::info!("hello {}", 42);
        log::debug!("not shown");
        log::logger().flush();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        // Another test may have switched the sink in between; only check what we can.
        if !text.is_empty() {
            assert!(text.contains("schsm-pkcs11: INFO"), "{text}");
            assert!(!text.contains("not shown"));
        }
        init(&Config::default());
        let _ = std::fs::remove_file(&path);
    }
}
