//! Fault injection: the simulated card misbehaving on purpose, so that tests can show the
//! module answers a broken card with a clean error (no panic, no hang, no half-written card).
//!
//! A spec is one or more rules separated by `;`, each `ACTION[@COND[,COND...]]`:
//!
//! | action | effect |
//! |---|---|
//! | `sw:XXXX` | the command is not executed; the answer is the status word XXXX alone |
//! | `truncate[:K]` | executed; the answer is cut to its first K bytes (default: half, at least 1) |
//! | `overlong[:K]` | executed; K junk bytes (default 300) are put before the status word |
//! | `delay:MS` | wait MS milliseconds, then execute and answer normally |
//! | `drop` | the command is not executed; the connection is dropped (card pulled) |
//! | `drop-after` | executed, then the connection is dropped before the answer |
//!
//! | condition | matches |
//! |---|---|
//! | `INS=XX` | commands with this INS byte (hex) |
//! | `n=N` | only the Nth APDU of this connection's card (1-based) |
//! | `from=N` | the Nth APDU and every later one |
//! | `times=K` | at most K times in all (default: every match; with `n=` once) |
//! | `skip=K` | let the first K matching APDUs through (e.g. the 2nd UPDATE BINARY of a file) |
//!
//! Examples: `sw:6F00@INS=68`, `truncate@n=5`, `delay:2000@INS=46`, `drop@n=20`,
//! `drop-after@INS=46,times=1`. In-process (a module using SCHSM_SIM) the same spec is read from
//! the environment variable `SCHSM_SIM_FAULT`; a dropped connection there is an empty answer.

use std::time::Duration;

pub const ENV: &str = "SCHSM_SIM_FAULT";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Sw(u16),
    Truncate(Option<usize>),
    Overlong(usize),
    Delay(Duration),
    Drop,
    DropAfter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub ins: Option<u8>,
    pub nth: Option<u64>,
    pub from: Option<u64>,
    pub times: Option<u64>,
    pub skip: u64,
    /// APDUs that met the conditions (skipped ones included) and faults injected by this rule.
    seen: u64,
    fired: u64,
}

/// What the card does with one APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send this answer.
    Answer(Vec<u8>),
    /// Drop the connection (after the command ran, or without running it).
    Drop,
}

/// The rules of a spec and the APDU counter they see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    rules: Vec<Rule>,
    count: u64,
    injected: u64,
}

impl Faults {
    pub fn parse(spec: &str) -> Result<Faults, String> {
        let rules = spec
            .split(';')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(parse_rule)
            .collect::<Result<Vec<_>, _>>()?;
        if rules.is_empty() {
            return Err(format!("fault spec {spec:?} has no rule"));
        }
        Ok(Faults {
            rules,
            ..Faults::default()
        })
    }

    /// The spec in `SCHSM_SIM_FAULT`, if any; a bad spec is reported and ignored.
    pub fn from_env() -> Option<Faults> {
        let spec = std::env::var(ENV).ok().filter(|s| !s.trim().is_empty())?;
        match Faults::parse(&spec) {
            Ok(f) => Some(f),
            Err(e) => {
                log::error!("{ENV}: {e}; no fault injected");
                None
            }
        }
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> u64 {
        self.injected
    }

    /// Runs one APDU through the rules: `execute` is the card's normal processing.
    pub fn apply(&mut self, apdu: &[u8], execute: impl FnOnce(&[u8]) -> Vec<u8>) -> Outcome {
        self.count += 1;
        let n = self.count;
        let ins = apdu.get(1).copied();
        let Some(rule) = self
            .rules
            .iter_mut()
            .filter(|r| r.matches(n, ins))
            .find_map(|r| r.past_skip().then_some(r))
        else {
            return Outcome::Answer(execute(apdu));
        };
        rule.fired += 1;
        self.injected += 1;
        log::warn!(
            "fault injected on APDU #{n} (INS {ins:02X?}): {:?}",
            rule.action
        );
        match rule.action.clone() {
            Action::Sw(sw) => Outcome::Answer(sw.to_be_bytes().to_vec()),
            Action::Truncate(keep) => {
                let mut answer = execute(apdu);
                let keep = keep.unwrap_or(answer.len() / 2).max(1);
                answer.truncate(keep.min(answer.len().saturating_sub(1)).max(1));
                Outcome::Answer(answer)
            }
            Action::Overlong(extra) => {
                let mut answer = execute(apdu);
                let at = answer.len().saturating_sub(2);
                answer.splice(at..at, std::iter::repeat_n(0xA5, extra));
                Outcome::Answer(answer)
            }
            Action::Delay(d) => {
                std::thread::sleep(d);
                Outcome::Answer(execute(apdu))
            }
            Action::Drop => Outcome::Drop,
            Action::DropAfter => {
                let _ = execute(apdu);
                Outcome::Drop
            }
        }
    }
}

impl Rule {
    /// Counts a matching APDU; false while the first `skip` ones go through.
    fn past_skip(&mut self) -> bool {
        self.seen += 1;
        self.seen > self.skip
    }

    fn matches(&self, n: u64, ins: Option<u8>) -> bool {
        let limit = self.times.or(self.nth.map(|_| 1));
        self.ins.is_none_or(|want| ins == Some(want))
            && self.nth.is_none_or(|want| n == want)
            && self.from.is_none_or(|first| n >= first)
            && limit.is_none_or(|max| self.fired < max)
    }
}

fn parse_rule(text: &str) -> Result<Rule, String> {
    let (action, conds) = text.split_once('@').unwrap_or((text, ""));
    let (name, arg) = match action.split_once(':') {
        Some((n, a)) => (n.trim(), Some(a.trim())),
        None => (action.trim(), None),
    };
    let number = |a: Option<&str>| -> Result<Option<u64>, String> {
        a.map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("{text:?}: {v:?} is not a number"))
        })
        .transpose()
    };
    let action = match name {
        "sw" => {
            let v = arg.ok_or_else(|| format!("{text:?}: sw needs a status word, e.g. sw:6F00"))?;
            if v.len() != 4 {
                return Err(format!("{text:?}: the status word is 4 hex digits"));
            }
            Action::Sw(u16::from_str_radix(v, 16).map_err(|_| format!("{text:?}: bad hex {v:?}"))?)
        }
        "truncate" => Action::Truncate(number(arg)?.map(|k| k as usize)),
        "overlong" => Action::Overlong(number(arg)?.unwrap_or(300) as usize),
        "delay" => {
            Action::Delay(Duration::from_millis(number(arg)?.ok_or_else(|| {
                format!("{text:?}: delay needs milliseconds, e.g. delay:2000")
            })?))
        }
        "drop" if arg.is_none() => Action::Drop,
        "drop-after" if arg.is_none() => Action::DropAfter,
        other => {
            return Err(format!(
            "{text:?}: unknown fault {other:?} (sw, truncate, overlong, delay, drop, drop-after)"
        ))
        }
    };
    let mut rule = Rule {
        action,
        ins: None,
        nth: None,
        from: None,
        times: None,
        skip: 0,
        seen: 0,
        fired: 0,
    };
    for cond in conds.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let (key, value) = cond
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: condition {cond:?} is not KEY=VALUE"))?;
        let bad = || format!("{text:?}: bad value in {cond:?}");
        match key.trim() {
            "INS" | "ins" => {
                rule.ins = Some(u8::from_str_radix(value.trim(), 16).map_err(|_| bad())?)
            }
            "n" => rule.nth = Some(value.trim().parse().map_err(|_| bad())?),
            "from" => rule.from = Some(value.trim().parse().map_err(|_| bad())?),
            "times" => rule.times = Some(value.trim().parse().map_err(|_| bad())?),
            "skip" => rule.skip = value.trim().parse().map_err(|_| bad())?,
            other => {
                return Err(format!(
                    "{text:?}: unknown condition {other:?} (INS, n, from, times, skip)"
                ))
            }
        }
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(apdu: &[u8]) -> Vec<u8> {
        let mut v = apdu.to_vec();
        v.extend_from_slice(&[0x90, 0x00]);
        v
    }

    #[test]
    fn parses_the_documented_examples() {
        for spec in [
            "sw:6F00@INS=68",
            "truncate@n=5",
            "delay:2000@INS=46",
            "drop@n=20",
            "drop-after@INS=46,times=1",
            "overlong:10@from=3; sw:6982@INS=20",
        ] {
            Faults::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        }
        for bad in [
            "",
            "sw",
            "sw:6F",
            "boom@n=1",
            "drop@x=1",
            "delay",
            "truncate@n=a",
            "drop:3",
        ] {
            assert!(Faults::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn status_word_on_one_instruction() {
        let mut f = Faults::parse("sw:6F00@INS=68").unwrap();
        assert_eq!(
            f.apply(&[0, 0xA4, 0, 0], echo),
            Outcome::Answer(vec![0, 0xA4, 0, 0, 0x90, 0])
        );
        let mut ran = false;
        let out = f.apply(&[0x80, 0x68, 0, 0], |a| {
            ran = true;
            echo(a)
        });
        assert_eq!((out, ran), (Outcome::Answer(vec![0x6F, 0x00]), false));
        assert_eq!(f.injected(), 1);
    }

    #[test]
    fn nth_fires_once_and_truncates() {
        let mut f = Faults::parse("truncate:3@n=2").unwrap();
        let apdu = [0u8, 0xB1, 0, 0, 1, 2, 3, 4];
        assert_eq!(f.apply(&apdu, echo), Outcome::Answer(echo(&apdu)));
        assert_eq!(f.apply(&apdu, echo), Outcome::Answer(vec![0, 0xB1, 0]));
        assert_eq!(f.apply(&apdu, echo), Outcome::Answer(echo(&apdu)));
        // A 2-byte answer keeps 1 byte: always shorter than a status word.
        let mut f = Faults::parse("truncate").unwrap();
        assert_eq!(
            f.apply(&[], |_| vec![0x90, 0x00]),
            Outcome::Answer(vec![0x90])
        );
    }

    #[test]
    fn overlong_drop_and_times() {
        let mut f =
            Faults::parse("overlong:2@INS=B0;drop@from=3,times=1;drop-after@INS=46").unwrap();
        assert_eq!(
            f.apply(&[0, 0xB0], echo),
            Outcome::Answer(vec![0, 0xB0, 0xA5, 0xA5, 0x90, 0])
        );
        assert_eq!(
            f.apply(&[0, 0xA4], echo),
            Outcome::Answer(vec![0, 0xA4, 0x90, 0])
        );
        assert_eq!(f.apply(&[0, 0xA4], echo), Outcome::Drop);
        assert_eq!(
            f.apply(&[0, 0xA4], echo),
            Outcome::Answer(vec![0, 0xA4, 0x90, 0])
        );
        let mut ran = false;
        let out = f.apply(&[0, 0x46], |a| {
            ran = true;
            echo(a)
        });
        assert_eq!((out, ran), (Outcome::Drop, true));
    }

    #[test]
    fn skip_lets_the_first_matches_through() {
        let mut f = Faults::parse("sw:6581@INS=D7,skip=1,times=1").unwrap();
        let apdu = [0u8, 0xD7, 0, 0];
        assert_eq!(f.apply(&[0, 0xA4], echo), Outcome::Answer(echo(&[0, 0xA4])));
        assert_eq!(f.apply(&apdu, echo), Outcome::Answer(echo(&apdu)));
        assert_eq!(f.apply(&apdu, echo), Outcome::Answer(vec![0x65, 0x81]));
        assert_eq!(f.apply(&apdu, echo), Outcome::Answer(echo(&apdu)));
    }
}
