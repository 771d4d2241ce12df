//! A scripted transport for unit tests: each expected command APDU is answered with a canned
//! response, in order. Clones share the script, so a test keeps one clone to check that every
//! expectation was used after handing the other to a `Device`.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Transport, TransportError};

#[derive(Debug)]
enum Expect {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
}

#[derive(Debug, Default)]
struct Script {
    steps: VecDeque<(Expect, Result<Vec<u8>, TransportError>)>,
    sent: Vec<Vec<u8>>,
    transaction_depth: i32,
    mismatch: Option<String>,
}

/// The scripted transport. Unexpected commands get an `Other` error and are remembered;
/// [`MockTransport::assert_done`] reports them.
#[derive(Debug, Clone, Default)]
pub struct MockTransport {
    script: Arc<Mutex<Script>>,
}

impl MockTransport {
    pub fn new() -> Self {
        Self::default()
    }

    /// Expects exactly `command`; answers `response` (data ‖ SW).
    pub fn expect(&self, command: &[u8], response: &[u8]) -> &Self {
        self.push(Expect::Exact(command.to_vec()), Ok(response.to_vec()))
    }

    /// Like [`MockTransport::expect`] with hex strings (spaces allowed).
    pub fn expect_hex(&self, command: &str, response: &str) -> &Self {
        self.expect(&from_hex(command), &from_hex(response))
    }

    /// Expects a command starting with `prefix` (for commands with random content).
    pub fn expect_prefix(&self, prefix: &[u8], response: &[u8]) -> &Self {
        self.push(Expect::Prefix(prefix.to_vec()), Ok(response.to_vec()))
    }

    /// Expects `command` and fails it at transport level.
    pub fn expect_error(&self, command: &[u8], error: TransportError) -> &Self {
        self.push(Expect::Exact(command.to_vec()), Err(error))
    }

    fn push(&self, e: Expect, r: Result<Vec<u8>, TransportError>) -> &Self {
        self.script.lock().steps.push_back((e, r));
        self
    }

    /// Every command sent so far.
    pub fn sent(&self) -> Vec<Vec<u8>> {
        self.script.lock().sent.clone()
    }

    /// Panics (it is a test helper) unless every expectation was consumed, no unexpected
    /// command came, and transactions are balanced.
    pub fn assert_done(&self) {
        let s = self.script.lock();
        if let Some(m) = &s.mismatch {
            panic!("mock transport: {m}");
        }
        assert!(
            s.steps.is_empty(),
            "mock transport: {} expectations left: {:?}",
            s.steps.len(),
            s.steps
        );
        assert_eq!(
            s.transaction_depth, 0,
            "mock transport: unbalanced transactions"
        );
    }
}

impl Transport for MockTransport {
    fn name(&self) -> &str {
        "mock"
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut s = self.script.lock();
        s.sent.push(command.to_vec());
        let Some((expect, response)) = s.steps.pop_front() else {
            let m = format!("unexpected command {} (script empty)", hex(command));
            s.mismatch.get_or_insert(m.clone());
            return Err(TransportError::Other(m));
        };
        let ok = match &expect {
            Expect::Exact(e) => e == command,
            Expect::Prefix(p) => command.starts_with(p),
        };
        if !ok {
            let m = format!("expected {:?}, got {}", expect_hex(&expect), hex(command));
            s.mismatch.get_or_insert(m.clone());
            return Err(TransportError::Other(m));
        }
        response
    }

    fn begin_transaction(&mut self) -> Result<(), TransportError> {
        self.script.lock().transaction_depth += 1;
        Ok(())
    }

    fn end_transaction(&mut self) -> Result<(), TransportError> {
        self.script.lock().transaction_depth -= 1;
        Ok(())
    }

    fn is_card_present(&mut self) -> Result<bool, TransportError> {
        Ok(true)
    }

    fn atr(&mut self) -> Result<Vec<u8>, TransportError> {
        Ok(from_hex("3BDE18FF8191FE1FC38031815448534D3173802140810718"))
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

fn expect_hex(e: &Expect) -> String {
    match e {
        Expect::Exact(b) => hex(b),
        Expect::Prefix(b) => format!("{}...", hex(b)),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Hex to bytes, ignoring whitespace; invalid digits are skipped (test input only).
pub fn from_hex(s: &str) -> Vec<u8> {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(16)).collect();
    digits
        .chunks_exact(2)
        .map(|p| (p[0] * 16 + p[1]) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_exchange() {
        let m = MockTransport::new();
        m.expect_hex("00 84 00 00 08", "0102030405060708 9000");
        m.expect_prefix(&[0x80, 0x52], &[0x90, 0x00]);
        let mut t: Box<dyn Transport> = Box::new(m.clone());
        assert_eq!(t.transmit(&from_hex("0084000008")).unwrap().len(), 10);
        assert_eq!(t.transmit(&[0x80, 0x52, 0, 0, 0]).unwrap(), [0x90, 0]);
        m.assert_done();
    }

    #[test]
    #[should_panic(expected = "expected")]
    fn mismatch_is_reported() {
        let m = MockTransport::new();
        m.expect(&[1, 2, 3, 4], &[0x90, 0]);
        let mut t = m.clone();
        assert!(t.transmit(&[9, 9, 9, 9]).is_err());
        m.assert_done();
    }
}
