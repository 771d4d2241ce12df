//! `schsm-sim`: make, serve and inspect simulated SmartCard-HSM devices.

use std::path::PathBuf;
use std::process::ExitCode;

use schsm_sim::fault::Faults;
use schsm_sim::serve::{self, ServeOptions};
use schsm_sim::{create, profile, stat, InitOptions, NewOptions};

const DEFAULT_FIRMWARE: &str = "3.5";
/// Factory defaults of Nitrokey / CardContact devices.
const DEFAULT_SO_PIN: &str = "3537363231383830";
const DEFAULT_PIN: &str = "648219";

fn usage() -> String {
    format!(
        "schsm-sim: a simulated CardContact SmartCard-HSM / Nitrokey HSM

USAGE:
  schsm-sim new DIR [--firmware VERSION] [--serial SERIAL]
                    [--init [--so-pin HEX16] [--pin PIN] [--dkek-shares N] [--retry N]]
      Make a new device in DIR (fails if one exists there).
      --firmware   firmware profile: {} (default {DEFAULT_FIRMWARE})
      --serial     5-11 upper-case letters/digits, e.g. DENK0100001 (default: DENK01 + 5 random digits)
      --init       initialise it at once (options 0001: RESET RETRY COUNTER enabled)
      --so-pin     SO-PIN as 16 hex digits (default {DEFAULT_SO_PIN})
      --pin        user PIN, 6-16 characters (default {DEFAULT_PIN})
      --dkek-shares N   DKEK shares to import (0 = random DKEK; default: no DKEK)
      --retry N    user PIN retry counter 1-15 (default 3)

  schsm-sim serve DIR [--vpcd HOST:PORT] [--apdu-log FILE] [--fault SPEC]
      Present the device as a card in vsmartcard's vpcd reader (pcscd), default {}.
      Reconnects when vpcd restarts; stops on SIGTERM/SIGINT. RUST_LOG=debug for more output.
      --apdu-log   append every APDU and response to FILE (PINs and DKEK shares masked)
      --fault      misbehave on purpose: rules ACTION[@COND,...] separated by ';'
                   actions: sw:XXXX (answer only this SW, command not run), truncate[:K]
                   (cut the answer to K bytes, default half), overlong[:K] (K junk bytes
                   before the SW, default 300), delay:MS, drop (hang up, command not run),
                   drop-after (run the command, then hang up; vpcd sees the card removed,
                   we reconnect as after a vpcd restart)
                   conditions: INS=XX, n=N (the Nth APDU, once), from=N, times=K,
                   skip=K (let the first K matching APDUs through)
                   e.g. sw:6F00@INS=68  truncate@n=5  delay:2000@INS=46  drop@n=20
                   (in-process devices, SCHSM_SIM: the same spec in SCHSM_SIM_FAULT)

  schsm-sim stat DIR
      Print what is on the device and its APDU counter.
",
        profile::names().join(", "),
        serve::DEFAULT_VPCD
    )
}

/// A command-line mistake: message for stderr, exit code 2.
struct Usage(String);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") || args[0] == "help" {
        print!("{}", usage());
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("schsm-sim: {e}");
            ExitCode::from(1)
        }
        Err(Usage(msg)) => {
            eprintln!("schsm-sim: {msg}\nTry `schsm-sim --help`.");
            ExitCode::from(2)
        }
    }
}

type RunResult = Result<Result<(), schsm_sim::SimError>, Usage>;

fn run(args: &[String]) -> RunResult {
    let (command, rest) = args
        .split_first()
        .ok_or_else(|| Usage("no command".into()))?;
    let mut parser = Args::new(rest);
    match command.as_str() {
        "new" => cmd_new(&mut parser),
        "serve" => cmd_serve(&mut parser),
        "stat" => {
            let dir = parser.dir()?;
            parser.finish()?;
            Ok(stat(&dir).map(|text| print!("{text}")))
        }
        other => Err(Usage(format!(
            "unknown command {other:?} (new, serve, stat)"
        ))),
    }
}

fn cmd_new(p: &mut Args) -> RunResult {
    let dir = p.dir()?;
    let firmware = p
        .value("--firmware")?
        .unwrap_or_else(|| DEFAULT_FIRMWARE.into());
    if profile::by_name(&firmware).is_none() {
        return Err(Usage(format!(
            "unknown firmware {firmware:?} (known: {})",
            profile::names().join(", ")
        )));
    }
    let serial = p.value("--serial")?;
    let init = p.flag("--init");
    let so_pin = p.value("--so-pin")?;
    let pin = p.value("--pin")?;
    let shares = p.value("--dkek-shares")?;
    let retry = p.value("--retry")?;
    p.finish()?;
    let init = if init {
        let so_hex = so_pin.unwrap_or_else(|| DEFAULT_SO_PIN.into());
        let so_pin: [u8; 8] = hex::decode(&so_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Usage("--so-pin needs exactly 16 hex digits".into()))?;
        let dkek_shares = shares
            .map(|s| {
                s.parse::<u8>()
                    .map_err(|_| Usage(format!("--dkek-shares {s:?}: 0-255")))
            })
            .transpose()?;
        let retry = match retry {
            None => 3,
            Some(r) => r
                .parse()
                .map_err(|_| Usage(format!("--retry {r:?}: 1-15")))?,
        };
        let pin = pin.unwrap_or_else(|| DEFAULT_PIN.into()).into_bytes();
        Some(InitOptions {
            so_pin,
            pin,
            dkek_shares,
            retry,
        })
    } else {
        if so_pin.is_some() || pin.is_some() || shares.is_some() || retry.is_some() {
            return Err(Usage(
                "--so-pin, --pin, --dkek-shares and --retry need --init".into(),
            ));
        }
        None
    };
    let opts = NewOptions {
        firmware,
        serial,
        init,
    };
    Ok(create(&dir, &opts).map(|()| {
        if let Ok(text) = stat(&dir) {
            print!("{text}");
        }
    }))
}

fn cmd_serve(p: &mut Args) -> RunResult {
    let dir = p.dir()?;
    let vpcd = p
        .value("--vpcd")?
        .unwrap_or_else(|| serve::DEFAULT_VPCD.into());
    let apdu_log = p.value("--apdu-log")?.map(PathBuf::from);
    let faults = p
        .value("--fault")?
        .map(|spec| Faults::parse(&spec))
        .transpose()
        .map_err(|e| Usage(format!("--fault: {e}")))?;
    p.finish()?;
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    Ok(serve::serve(
        &dir,
        &ServeOptions {
            vpcd,
            apdu_log,
            faults,
        },
    ))
}

/// Hand-rolled option parsing: one positional DIR, `--name value` options and flags.
struct Args {
    items: Vec<Option<String>>,
}

impl Args {
    fn new(args: &[String]) -> Args {
        Args {
            items: args.iter().cloned().map(Some).collect(),
        }
    }

    /// The first positional argument.
    fn dir(&mut self) -> Result<PathBuf, Usage> {
        let mut i = 0;
        while i < self.items.len() {
            match self.items[i].as_deref() {
                Some(a) if a.starts_with("--") => i += if a == "--init" { 1 } else { 2 },
                Some(_) => return Ok(PathBuf::from(self.items[i].take().unwrap_or_default())),
                None => i += 1,
            }
        }
        Err(Usage("missing DIR".into()))
    }

    fn flag(&mut self, name: &str) -> bool {
        let found = self.items.iter().position(|a| a.as_deref() == Some(name));
        if let Some(i) = found {
            self.items[i] = None;
        }
        found.is_some()
    }

    fn value(&mut self, name: &str) -> Result<Option<String>, Usage> {
        let Some(i) = self.items.iter().position(|a| a.as_deref() == Some(name)) else {
            return Ok(None);
        };
        self.items[i] = None;
        match self.items.get_mut(i + 1).and_then(Option::take) {
            Some(v) if !v.starts_with("--") => Ok(Some(v)),
            _ => Err(Usage(format!("{name} needs a value"))),
        }
    }

    /// Anything not consumed is a mistake.
    fn finish(&self) -> Result<(), Usage> {
        match self.items.iter().flatten().next() {
            Some(extra) => Err(Usage(format!("unexpected argument {extra:?}"))),
            None => Ok(()),
        }
    }
}
