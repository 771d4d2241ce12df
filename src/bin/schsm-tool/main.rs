//! schsm-tool: administration of SmartCard-HSM / Nitrokey HSM devices through the card layer
//! (not PKCS#11): status, init, the DKEK ceremony and key domains, backup/restore, key import
//! and generation. See
//! docs/schsm-tool.md.
//!
//! Every command checks what it can on the host before it sends a changing APDU, so that a
//! refused command leaves the device as it was.

mod args;
mod backup;
mod dkek;
mod domains;
mod generate;
mod import;
mod init;
mod key_formats;
mod keys;
mod output;
mod secrets;
mod status;

use std::process::ExitCode;

use clap::Parser;
use schsm_pkcs11::card::Device;
use schsm_pkcs11::transport::{pcsc, PcscTransport, SimTransport, Transport, TransportError};

use args::{Cli, Command, DkekCommand, DomainCommand, Global};
use output::{explain, Doing, Failure, Outcome};

fn main() -> ExitCode {
    quiet_broken_pipe();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("schsm-tool: {f}");
            ExitCode::from(f.code)
        }
    }
}

/// `schsm-tool list | head` closes stdout early: end quietly as other Unix tools do (141 =
/// SIGPIPE) instead of printing println!'s panic.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map_or("", String::as_str);
        if msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn run(cli: Cli) -> Outcome {
    let g = &cli.global;
    match cli.command {
        Command::Readers => readers(),
        Command::Status => status::run(g),
        Command::Init(a) => init::run(g, &a),
        Command::List => keys::list(g),
        Command::Delete(a) => keys::delete(g, &a),
        Command::Dkek(DkekCommand::Create(a)) => dkek::create(g, &a),
        Command::Dkek(DkekCommand::Import(a)) => dkek::import(g, &a),
        Command::Dkek(DkekCommand::Check(a)) => dkek::check(g, &a),
        Command::Dkek(DkekCommand::Domain(DomainCommand::Create(a))) => domains::create(g, &a),
        Command::Dkek(DkekCommand::Domain(DomainCommand::Delete(a))) => domains::delete(g, &a),
        Command::Backup(a) => backup::backup(g, &a),
        Command::Restore(a) => backup::restore(g, &a),
        Command::Import(a) => import::run(g, &a),
        Command::Generate(a) => generate::run(g, &a),
    }
}

fn readers() -> Outcome {
    let readers = pcsc::readers_with_cards().map_err(|e| Failure::new(reader_error(&e)))?;
    if readers.is_empty() {
        println!("(no readers)");
    }
    for (i, (name, card)) in readers.iter().enumerate() {
        println!("{i}: {name}{}", if *card { "" } else { " (no card)" });
    }
    Ok(())
}

fn reader_error(e: &TransportError) -> String {
    explain(&schsm_pkcs11::card::Error::Transport(e.clone()))
}

/// The device chosen by `--sim DIR` or `--reader NAME|INDEX` (default: the first reader).
pub fn open_device(g: &Global) -> Outcome<Device> {
    let transport: Box<dyn Transport> = match (&g.sim, &g.reader) {
        (Some(dir), _) => {
            if !dir.join("state.json").exists() && !dir.is_dir() {
                return Err(Failure::new(format!(
                    "no simulated device in {} (make one with `schsm-sim new {}`)",
                    dir.display(),
                    dir.display()
                )));
            }
            Box::new(SimTransport::open(dir).map_err(|e| Failure::new(reader_error(&e)))?)
        }
        (None, choice) => {
            let names = pcsc::list_readers().map_err(|e| Failure::new(reader_error(&e)))?;
            let name = pick_reader(&names, choice.as_deref())?;
            Box::new(
                PcscTransport::connect(&name)
                    .map_err(|e| Failure::new(format!("{name}: {}", reader_error(&e))))?,
            )
        }
    };
    Device::open(transport).doing("select the SmartCard-HSM applet (is this a SmartCard-HSM?)")
}

fn pick_reader(names: &[String], choice: Option<&str>) -> Outcome<String> {
    let found = match choice {
        None => names.first(),
        Some(c) => match c.parse::<usize>() {
            Ok(i) => names.get(i),
            Err(_) => names
                .iter()
                .find(|n| *n == c)
                .or_else(|| names.iter().find(|n| n.contains(c))),
        },
    };
    found.cloned().ok_or_else(|| {
        Failure::new(format!(
            "no reader {:?}; readers: {}",
            choice.unwrap_or("0"),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ))
    })
}

/// A device with the user PIN verified; logged out again (applet re-selected) when dropped, so
/// that the tool leaves no open session on a card other applications share.
pub struct LoggedIn(Device);

impl std::ops::Deref for LoggedIn {
    type Target = Device;
    fn deref(&self) -> &Device {
        &self.0
    }
}

impl std::ops::DerefMut for LoggedIn {
    fn deref_mut(&mut self) -> &mut Device {
        &mut self.0
    }
}

impl Drop for LoggedIn {
    fn drop(&mut self) {
        let _ = self.0.logout();
    }
}

/// Opens the device and verifies the user PIN.
pub fn open_logged_in(g: &Global) -> Outcome<LoggedIn> {
    log_in(open_device(g)?, g)
}

/// Verifies the user PIN on an open device.
pub fn log_in(mut dev: Device, g: &Global) -> Outcome<LoggedIn> {
    let pin = secrets::user_pin(g)?;
    dev.verify_pin(pin.expose()).doing("verify the user PIN")?;
    Ok(LoggedIn(dev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_by_index_and_name() {
        let names = vec![
            "Virtual PCD 00 00".to_string(),
            "Nitrokey HSM 01 00".to_string(),
        ];
        assert_eq!(pick_reader(&names, None).unwrap(), names[0]);
        assert_eq!(pick_reader(&names, Some("1")).unwrap(), names[1]);
        assert_eq!(pick_reader(&names, Some("Nitrokey")).unwrap(), names[1]);
        assert!(pick_reader(&names, Some("7")).is_err());
        assert!(pick_reader(&[], None).is_err());
    }
}
