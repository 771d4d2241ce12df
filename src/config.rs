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
//! The file is TOML (read with the `toml` crate); the keys are those DESIGN.md shows, plus
//! `[dkek] count` (as SCHSM_DKEK_SHARES), `password_shares` and `iterations`.

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

    /// The `SCHSM_CONF` file. A file that is not valid TOML is ignored as a whole (with a
    /// warning giving toml's line and column): half a configuration could point the #168 shim at
    /// the wrong shares. Unknown sections and keys, and values of the wrong type, are skipped with
    /// a warning each.
    fn apply_file(&mut self, text: &str) {
        let table = match text.parse::<toml::Table>() {
            Ok(t) => t,
            Err(e) => {
                let at = e.span().map_or(String::new(), |span| {
                    // `get`: never slice inside a character, whatever the span says.
                    let before = text.get(..span.start).unwrap_or(text);
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!(" at line {line}, column {column}")
                });
                let msg = e.message().trim().replace('\n', "; ");
                self.warnings.push(format!(
                    "SCHSM_CONF is not valid TOML{at}: {msg}; file ignored"
                ));
                return;
            }
        };
        for (section, value) in &table {
            let Some(keys) = value.as_table() else {
                self.warnings.push(format!(
                    "SCHSM_CONF: top-level key {section:?} is not a [section]; ignored"
                ));
                continue;
            };
            for (key, value) in keys {
                self.apply_key(section, key, value);
            }
        }
    }

    fn apply_key(&mut self, section: &str, key: &str, value: &toml::Value) {
        let name = format!("{section}.{key}");
        let paths = |this: &mut Self| -> Vec<PathBuf> {
            strings(this, &name, value)
                .into_iter()
                .map(PathBuf::from)
                .collect()
        };
        match (section, key) {
            ("log", "level") => {
                if let Some(s) = self.string(&name, value) {
                    self.set_level(&s)
                }
            }
            ("log", "file") => {
                if let Some(s) = self.string(&name, value) {
                    self.log_file = Some(PathBuf::from(s))
                }
            }
            ("readers", "include") => self.reader_include = strings(self, &name, value),
            ("dkek", "shares") => self.dkek_share_files = paths(self),
            ("dkek", "password_files") => self.dkek_password_files = paths(self),
            ("dkek", "password_shares") => self.dkek_password_shares = paths(self),
            ("dkek", "count") => match value.as_integer().map(u8::try_from) {
                Some(Ok(n)) => self.dkek_shares = Some(n),
                _ => self.wrong_type(&name, "a number 0..255"),
            },
            ("dkek", "iterations") => match value.as_integer().map(u32::try_from) {
                Some(Ok(n)) if n > 0 => self.dkek_iterations = n,
                _ => self.wrong_type(&name, "a positive count"),
            },
            _ => self
                .warnings
                .push(format!("SCHSM_CONF: unknown key {name}; ignored")),
        }
    }

    fn string(&mut self, name: &str, value: &toml::Value) -> Option<String> {
        let s = value.as_str().map(str::to_string);
        if s.is_none() {
            self.wrong_type(name, "a string");
        }
        s
    }

    fn wrong_type(&mut self, name: &str, what: &str) {
        self.warnings
            .push(format!("SCHSM_CONF: {name} must be {what}; ignored"));
    }

    pub fn reader_wanted(&self, name: &str) -> bool {
        self.reader_include.is_empty() || self.reader_include.iter().any(|p| glob(p, name))
    }

    /// Whether a path is one of the simulated devices.
    pub fn is_sim_dir(&self, p: &Path) -> bool {
        self.sim_dirs.iter().any(|d| d == p)
    }
}

/// A list of strings (a single string is taken as a list of one); other values are skipped.
fn strings(c: &mut Config, name: &str, value: &toml::Value) -> Vec<String> {
    let items: Vec<&toml::Value> = match value {
        toml::Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    let mut out = Vec::new();
    for item in items {
        match item.as_str() {
            Some(s) if !s.is_empty() => out.push(s.to_string()),
            Some(_) => {}
            None => c.wrong_type(name, "a list of strings"),
        }
    }
    out
}

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
    fn config_file_and_env_wins() {
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
        let missing = cfg(&[("SCHSM_CONF", "/nonexistent/schsm.toml")]);
        assert_eq!(missing.warnings.len(), 1);

        // Not TOML: the whole file is ignored, and the warning says where it broke.
        std::fs::write(
            &f,
            "[dkek]\nshares = [\"/etc/s1.pbe\"\n[log]\nlevel = \"info\"\n",
        )
        .unwrap();
        let broken = cfg(&[("SCHSM_CONF", f.to_str().unwrap())]);
        assert!(broken.dkek_share_files.is_empty());
        assert_eq!(broken.log_level, log::LevelFilter::Warn);
        assert_eq!(broken.warnings.len(), 1);
        assert!(
            broken.warnings[0].contains("at line 3, column 1"),
            "{:?}",
            broken.warnings
        );

        // Wrong types are skipped one by one; the rest of the file still counts.
        std::fs::write(
            &f,
            "top = 1\n[log]\nlevel = 3\n[dkek]\nshares = \"/etc/one.pbe\"\n\
             password_files = [\"/etc/one.pw\", 7]\niterations = -1\ncount = 2\n",
        )
        .unwrap();
        let typed = cfg(&[("SCHSM_CONF", f.to_str().unwrap())]);
        assert_eq!(typed.dkek_share_files, [PathBuf::from("/etc/one.pbe")]);
        assert_eq!(typed.dkek_password_files, [PathBuf::from("/etc/one.pw")]);
        assert_eq!(
            typed.dkek_iterations,
            crate::card::share_file::DEFAULT_ITERATIONS
        );
        assert_eq!(typed.dkek_shares, Some(2));
        assert_eq!(typed.warnings.len(), 4, "{:?}", typed.warnings);
        let _ = std::fs::remove_dir_all(&dir);
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
