//! The module's configuration: the environment (DESIGN.md "Module environment") and the optional
//! `SCHSM_CONF` file. Read once per C_Initialize; the environment wins over the file.
//!
//! | variable | meaning |
//! |---|---|
//! | `SCHSM_SIM=DIR[:DIR...]` | simulated devices, one slot each after the PC/SC readers |
//! | `SCHSM_PCSC=0` | do not look at PC/SC readers at all |
//! | `SCHSM_LOG=error\|warn\|info\|debug\|trace` | log level (default warn) |
//! | `SCHSM_LOG_FILE=PATH` | log file (default stderr) |
//! | `SCHSM_DKEK_SHARES=n` | C_InitToken: number of DKEK shares (tag 92); unset = no DKEK, 0 = random DKEK |
//! | `SCHSM_CONF=PATH` | TOML file: `[log] level, file`, `[readers] include`, `[dkek] shares, password_files, password_shares, iterations` |
//!
//! The file format is the small TOML subset DESIGN.md shows (sections, `key = "string"`,
//! `key = ["a", "b"]`, `key = 3`, comments); no TOML crate is needed for that.

use std::path::{Path, PathBuf};

/// Everything the module takes from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Simulated device directories (`SCHSM_SIM`).
    pub sim_dirs: Vec<PathBuf>,
    /// Whether to use PC/SC readers (`SCHSM_PCSC` not "0").
    pub pcsc: bool,
    pub log_level: log::LevelFilter,
    /// `None` = stderr.
    pub log_file: Option<PathBuf>,
    /// Glob patterns (`*`, `?`) on reader names; empty = every reader.
    pub reader_include: Vec<String>,
    /// C_InitToken's DKEK share count (tag 92): `None` = no DKEK.
    pub dkek_shares: Option<u8>,
    /// DKEK share files the module may use (#168 shim, key import), with their password files.
    pub dkek_share_files: Vec<PathBuf>,
    pub dkek_password_files: Vec<PathBuf>,
    /// n-of-m password split (`sc-hsm-tool --pwd-shares-*`): one file per share file, in the
    /// same order, used instead of `password_files`; each holds t lines `<prime> <id> <value>`
    /// (hex, as sc-hsm-tool displays them).
    pub dkek_password_shares: Vec<PathBuf>,
    /// The share files' KDF iteration count (sc-hsm-tool `--iter`, default 10 000 000).
    pub dkek_iterations: u32,
    /// Problems found while reading the configuration, logged once the logger is up.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sim_dirs: Vec::new(),
            pcsc: true,
            log_level: log::LevelFilter::Warn,
            log_file: None,
            reader_include: Vec::new(),
            dkek_shares: None,
            dkek_share_files: Vec::new(),
            dkek_password_files: Vec::new(),
            dkek_password_shares: Vec::new(),
            dkek_iterations: crate::card::share_file::DEFAULT_ITERATIONS,
            warnings: Vec::new(),
        }
    }
}

impl Config {
    /// The configuration from the process environment (and `SCHSM_CONF`).
    pub fn from_env() -> Config {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// The configuration from a variable lookup (tests pass a map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Config {
        let mut c = Config::default();
        if let Some(path) = var("SCHSM_CONF").filter(|p| !p.is_empty()) {
            match std::fs::read_to_string(&path) {
                Ok(text) => c.apply_file(&text),
                Err(e) => c.warnings.push(format!("SCHSM_CONF {path}: {e}; ignored")),
            }
        }
        if let Some(dirs) = var("SCHSM_SIM") {
            c.sim_dirs = std::env::split_paths(&dirs)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
        }
        if let Some(v) = var("SCHSM_PCSC") {
            c.pcsc = !matches!(v.trim(), "0" | "no" | "false" | "off");
        }
        if let Some(v) = var("SCHSM_LOG") {
            c.set_level(&v);
        }
        if let Some(v) = var("SCHSM_LOG_FILE").filter(|v| !v.is_empty()) {
            c.log_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("SCHSM_DKEK_SHARES") {
            c.set_dkek_shares(&v);
        }
        c
    }

    fn set_level(&mut self, v: &str) {
        match v.trim().parse::<log::LevelFilter>() {
            Ok(l) => self.log_level = l,
            Err(_) => self
                .warnings
                .push(format!("log level {v:?} unknown; using {}", self.log_level)),
        }
    }

    fn set_dkek_shares(&mut self, v: &str) {
        let v = v.trim();
        if v.is_empty() || v == "none" {
            self.dkek_shares = None;
            return;
        }
        match v.parse::<u8>() {
            Ok(n) => self.dkek_shares = Some(n),
            Err(_) => self.warnings.push(format!(
                "SCHSM_DKEK_SHARES={v:?} is not a number 0..255; ignored"
            )),
        }
    }

    /// Applies the TOML subset of `SCHSM_CONF`.
    fn apply_file(&mut self, text: &str) {
        let mut section = String::new();
        for (n, raw) in text.lines().enumerate() {
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_string();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                self.warnings
                    .push(format!("SCHSM_CONF line {}: not `key = value`", n + 1));
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match (section.as_str(), key) {
                ("log", "level") => {
                    if let Some(s) = toml_string(value) {
                        self.set_level(&s)
                    }
                }
                ("log", "file") => self.log_file = toml_string(value).map(PathBuf::from),
                ("readers", "include") => self.reader_include = toml_list(value),
                ("dkek", "shares") => {
                    self.dkek_share_files =
                        toml_list(value).into_iter().map(PathBuf::from).collect()
                }
                ("dkek", "password_files") => {
                    self.dkek_password_files =
                        toml_list(value).into_iter().map(PathBuf::from).collect()
                }
                ("dkek", "count") => self.set_dkek_shares(value),
                ("dkek", "password_shares") => {
                    self.dkek_password_shares =
                        toml_list(value).into_iter().map(PathBuf::from).collect()
                }
                ("dkek", "iterations") => match value.trim().parse::<u32>() {
                    Ok(n) if n > 0 => self.dkek_iterations = n,
                    _ => self.warnings.push(format!(
                        "SCHSM_CONF line {}: dkek.iterations {value:?} is not a count; ignored",
                        n + 1
                    )),
                },
                _ => self.warnings.push(format!(
                    "SCHSM_CONF line {}: unknown key {section}.{key}; ignored",
                    n + 1
                )),
            }
        }
    }

    /// Whether a PC/SC reader of this name is to be used (`[readers] include`).
    pub fn reader_wanted(&self, name: &str) -> bool {
        self.reader_include.is_empty() || self.reader_include.iter().any(|p| glob(p, name))
    }

    /// Whether a path is one of the simulated devices.
    pub fn is_sim_dir(&self, p: &Path) -> bool {
        self.sim_dirs.iter().any(|d| d == p)
    }
}

fn strip_comment(line: &str) -> &str {
    // A '#' outside a string starts a comment.
    let mut in_string = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => return &line[..i],
            _ => {}
        }
    }
    line
}

fn toml_string(v: &str) -> Option<String> {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .map(str::to_string)
        .or_else(|| (!v.is_empty()).then(|| v.to_string()))
}

fn toml_list(v: &str) -> Vec<String> {
    let inner = v
        .trim()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(v);
    inner
        .split(',')
        .filter_map(toml_string)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Glob match with `*` (any run) and `?` (any one character).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Config {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]);
        assert!(c.pcsc && c.sim_dirs.is_empty() && c.dkek_shares.is_none());
        assert_eq!(c.log_level, log::LevelFilter::Warn);
    }

    #[test]
    fn environment() {
        let c = cfg(&[
            ("SCHSM_SIM", "/a:/b"),
            ("SCHSM_PCSC", "0"),
            ("SCHSM_LOG", "debug"),
            ("SCHSM_LOG_FILE", "/tmp/x.log"),
            ("SCHSM_DKEK_SHARES", "2"),
        ]);
        assert_eq!(c.sim_dirs, [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert!(!c.pcsc);
        assert_eq!(c.log_level, log::LevelFilter::Debug);
        assert_eq!(c.log_file, Some(PathBuf::from("/tmp/x.log")));
        assert_eq!(c.dkek_shares, Some(2));
        let bad = cfg(&[("SCHSM_LOG", "loud"), ("SCHSM_DKEK_SHARES", "x")]);
        assert_eq!(bad.warnings.len(), 2);
        assert_eq!(bad.log_level, log::LevelFilter::Warn);
    }

    #[test]
    fn config_file_subset_and_env_wins() {
        let dir = std::env::temp_dir().join(format!("schsm-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "# comment\n[log]\nlevel = \"info\" # trailing\nfile = \"/var/log/s.log\"\n\
             [readers]\ninclude = [\"Nitrokey*\", \"Virtual PCD ?? 00\"]\n\
             [dkek]\nshares = [\"/etc/s1.pbe\"]\npassword_files = [\"/etc/s1.pw\"]\n\
             password_shares = [\"/etc/s1.shares\"]\niterations = 1000\n[x]\ny = 1\n",
        )
        .unwrap();
        let c = cfg(&[("SCHSM_CONF", f.to_str().unwrap()), ("SCHSM_LOG", "trace")]);
        assert_eq!(c.log_level, log::LevelFilter::Trace);
        assert_eq!(c.log_file, Some(PathBuf::from("/var/log/s.log")));
        assert!(c.reader_wanted("Nitrokey Nitrokey HSM (DENK01) 00 00"));
        assert!(c.reader_wanted("Virtual PCD 00 00"));
        assert!(!c.reader_wanted("Other Reader"));
        assert_eq!(c.dkek_share_files, [PathBuf::from("/etc/s1.pbe")]);
        assert_eq!(c.dkek_password_files, [PathBuf::from("/etc/s1.pw")]);
        assert_eq!(c.dkek_password_shares, [PathBuf::from("/etc/s1.shares")]);
        assert_eq!(c.dkek_iterations, 1000);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        let _ = std::fs::remove_dir_all(&dir);
        let missing = cfg(&[("SCHSM_CONF", "/nonexistent/schsm.toml")]);
        assert_eq!(missing.warnings.len(), 1);
    }

    #[test]
    fn globbing() {
        assert!(glob("*", "anything"));
        assert!(glob("a*c", "abbbc"));
        assert!(!glob("a*c", "abbbd"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("", "x"));
    }
}
