//! PINs, SO-PINs and share passwords: from a file, from a prompt without echo, or (only when
//! the user insists with an `--*-insecure` flag) from argv. Never printed; wiped after use.
//! Also the slow part of share files (3 × 10 million KDF rounds) behind a progress bar.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use schsm_pkcs11::card::dkek::{Dkek, DkekShare};
use schsm_pkcs11::card::{share_file, SecretBytes, SoPin};
use schsm_pkcs11::token::dkek_holder;
use zeroize::Zeroizing;

use crate::args::Global;
use crate::output::{explain, Failure, Outcome};

/// A file's content without the final line break(s).
pub fn read_secret_file(path: &Path, what: &str) -> Outcome<SecretBytes> {
    let raw = Zeroizing::new(std::fs::read(path).map_err(|e| {
        Failure::new(format!(
            "cannot read the {what} file {}: {e}",
            path.display()
        ))
    })?);
    let mut bytes: &[u8] = &raw;
    while let Some((b'\n' | b'\r', rest)) = bytes.split_last() {
        bytes = rest;
    }
    if bytes.is_empty() {
        return Err(Failure::new(format!(
            "the {what} file {} is empty",
            path.display()
        )));
    }
    Ok(SecretBytes::from_slice(bytes))
}

/// Prompts on the terminal without echo.
pub fn prompt(label: &str, flag_hint: &str) -> Outcome<SecretBytes> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(format!(
            "{label} needed and no terminal to ask on: use {flag_hint}"
        )));
    }
    let text = Zeroizing::new(
        rpassword::prompt_password(format!("{label}: "))
            .map_err(|e| Failure::new(format!("cannot read the {label}: {e}")))?,
    );
    Ok(SecretBytes::from_slice(text.as_bytes()))
}

fn from_sources(
    file: Option<&Path>,
    insecure: Option<&String>,
    label: &str,
    flag_hint: &str,
) -> Outcome<SecretBytes> {
    if let Some(f) = file {
        return read_secret_file(f, label);
    }
    if let Some(v) = insecure {
        return Ok(SecretBytes::from_slice(v.as_bytes()));
    }
    prompt(label, flag_hint)
}

/// The user PIN `init` sets: asked twice at a prompt, since a typo would set a PIN nobody knows.
pub fn new_user_pin(g: &Global) -> Outcome<SecretBytes> {
    if g.pin_file.is_some() || g.pin_insecure.is_some() {
        return user_pin(g);
    }
    let first = prompt("New user PIN", "--pin-file FILE")?;
    let again = prompt("Repeat the new user PIN", "--pin-file FILE")?;
    if first.expose() != again.expose() {
        return Err(Failure::new(
            "the two user PINs differ; the device was not touched",
        ));
    }
    Ok(first)
}

pub fn user_pin(g: &Global) -> Outcome<SecretBytes> {
    from_sources(
        g.pin_file.as_deref(),
        g.pin_insecure.as_ref(),
        "User PIN",
        "--pin-file FILE",
    )
}

pub fn so_pin(g: &Global) -> Outcome<SoPin> {
    let text = from_sources(
        g.so_pin_file.as_deref(),
        g.so_pin_insecure.as_ref(),
        "SO-PIN",
        "--so-pin-file FILE",
    )?;
    let s = std::str::from_utf8(text.expose())
        .map_err(|_| Failure::new("the SO-PIN must be 16 hexadecimal digits"))?;
    SoPin::from_hex(s).map_err(|e| Failure::new(explain(&e)))
}

/// The password of the `index`-th share file: `--password-file`, `--pwd-shares-file`,
/// `--password-insecure` (each taken in order), else a prompt naming the file.
pub fn share_password(g: &Global, index: usize, file: &Path) -> Outcome<SecretBytes> {
    if let Some(p) = g.password_file.get(index) {
        return read_secret_file(p, "password");
    }
    if let Some(p) = g.pwd_shares_file.get(index) {
        let text = Zeroizing::new(std::fs::read_to_string(p).map_err(|e| {
            Failure::new(format!(
                "cannot read the password shares {}: {e}",
                p.display()
            ))
        })?);
        return dkek_holder::parse_split(&normalize_shares(&text))
            .map_err(|e| Failure::new(format!("password shares {}: {e}", p.display())));
    }
    if let Some(v) = g.password_insecure.get(index) {
        return Ok(SecretBytes::from_slice(v.as_bytes()));
    }
    prompt(
        &format!("Password of {}", file.display()),
        "--password-file FILE (one per share file)",
    )
}

/// Password shares as lines `<prime hex> <id> <value hex>`, from either that form or what
/// sc-hsm-tool (and `dkek create`) print: blocks of "Prime : dc:54:…", "Share ID : 1",
/// "Share value : 32:fa:…". Colons between hex bytes are dropped.
fn normalize_shares(text: &str) -> Zeroizing<String> {
    let printout = text
        .lines()
        .any(|l| l.trim_start().starts_with("Share value"));
    // Never longer than the input (plus a last newline): `out` never grows, so no freed copy of
    // a share value is left behind; the temporaries are wiped too.
    let mut out = Zeroizing::new(String::with_capacity(text.len() + 1));
    let no_colons = |s: &str| Zeroizing::new(s.replace(':', ""));
    let (mut prime, mut id) = (None::<Zeroizing<String>>, None::<Zeroizing<String>>);
    for line in text.lines().map(str::trim) {
        if !printout {
            out.push_str(&no_colons(line));
            out.push('\n');
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = no_colons(value.trim());
        match key.trim().to_ascii_lowercase().as_str() {
            "prime" => prime = Some(value),
            "share id" => id = Some(value),
            "share value" => {
                if let (Some(p), Some(i)) = (&prime, id.take()) {
                    for part in [p.as_str(), " ", i.as_str(), " ", value.as_str(), "\n"] {
                        out.push_str(part);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A new share file's password, asked twice at a prompt.
pub fn new_password(g: &Global) -> Outcome<SecretBytes> {
    if !g.password_file.is_empty() || !g.password_insecure.is_empty() {
        return share_password(g, 0, Path::new("the new share file"));
    }
    let first = prompt("New share file password", "--password-file FILE")?;
    let again = prompt("Repeat the password", "--password-file FILE")?;
    if first.expose() != again.expose() {
        return Err(Failure::new("the passwords differ; nothing written"));
    }
    Ok(first)
}

/// A progress bar for the share-file KDF (3 × iterations MD5 rounds); `tick` feeds it.
pub fn kdf_bar(message: &str, iterations: u32) -> ProgressBar {
    let total = 3 * u64::from(iterations);
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {percent:>3}% (ETA {eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_string());
    bar
}

/// Decrypts the `index`-th share file with its password.
pub fn open_share(g: &Global, index: usize, path: &Path) -> Outcome<DkekShare> {
    let content = std::fs::read(path).map_err(|e| {
        Failure::new(format!(
            "cannot read the share file {}: {e}",
            path.display()
        ))
    })?;
    if content.len() != share_file::FILE_LEN || &content[..8] != share_file::MAGIC {
        return Err(Failure::new(format!(
            "{} is not a DKEK share file (64 bytes starting with \"Salted__\")",
            path.display()
        )));
    }
    let password = share_password(g, index, path)?;
    let bar = kdf_bar(&format!("opening {}", path.display()), g.iterations);
    let share = share_file::decrypt_share_file_with_progress(
        &content,
        password.expose(),
        g.iterations,
        &mut |done, _| bar.set_position(done),
    );
    bar.finish_and_clear();
    share.map_err(|e| match e {
        schsm_pkcs11::card::Error::WrongPassword => Failure::new(format!(
            "{}: wrong password (or another --iterations than the file was made with)",
            path.display()
        )),
        e => Failure::new(format!("{}: {}", path.display(), explain(&e))),
    })
}

/// The DKEK of share files, for tools that need it on the host.
pub fn host_dkek(g: &Global, files: &[impl AsRef<Path>]) -> Outcome<Dkek> {
    let mut shares = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        shares.push(open_share(g, i, f.as_ref())?);
    }
    Ok(Dkek::from_shares(&shares))
}

/// Asks a yes/no question; `--yes` answers yes, no terminal answers no.
pub fn confirm(g: &Global, question: &str) -> Outcome<bool> {
    if g.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(format!(
            "{question}: refusing without a terminal to ask on; add --yes to proceed"
        )));
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::new(format!("cannot read the answer: {e}")))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sc_hsm_tool_printout_becomes_share_lines() {
        let printout = "Share 1 of 3\n\nPrime       : dc:54:a6:93:54:44:36:5b\nShare ID    : 1\n\
                        Share value : 32:fa:1b:15:e9:5b:b2:01\n\nShare 3 of 3\n\
                        Prime       : dc:54:a6:93:54:44:36:5b\nShare ID    : 3\n\
                        Share value : b6:8e:f5:62:94:6d:3c:2c\n";
        assert_eq!(
            normalize_shares(printout).as_str(),
            "dc54a6935444365b 1 32fa1b15e95bb201\ndc54a6935444365b 3 b68ef562946d3c2c\n"
        );
        assert_eq!(normalize_shares("AB 1 CD\n").as_str(), "AB 1 CD\n");
    }
}
