//! `schsm-sim serve`: the device as a card in vsmartcard's vpcd virtual reader.
//!
//! vpcd (loaded by pcscd) listens on TCP 35963; we connect to it through the `vpicc` crate and
//! answer its power and APDU messages. When vpcd goes away (pcscd restarted) we reconnect with
//! a growing back-off; SIGTERM or SIGINT ends the loop cleanly: a signal thread shuts the socket
//! down, which makes the blocking read return.

use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::card::Card;
use crate::error::SimError;
use crate::fault::Faults;

pub const DEFAULT_VPCD: &str = "127.0.0.1:35963";
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const STOP_POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// host:port of vpcd.
    pub vpcd: String,
    pub apdu_log: Option<PathBuf>,
    /// Faults to inject (`--fault SPEC`, see [`crate::fault`]).
    pub faults: Option<Faults>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            vpcd: DEFAULT_VPCD.to_string(),
            apdu_log: None,
            faults: None,
        }
    }
}

/// The card as vpicc sees it. Power off, power on and reset all end the session (logout).
struct VirtualCard<'a> {
    card: &'a mut Card,
    atr: Vec<u8>,
    /// To hang up when a fault drops the connection (vpcd then reports the card removed).
    socket: Option<TcpStream>,
}

/// vpcd writes each message as two `send()`s (length, then payload) with Nagle's algorithm on,
/// so its second write waits for our ACK of the first, which Linux delays by up to 40 ms: about
/// 45 ms per APDU. Asking for an immediate ACK before reading the next message removes the stall.
/// The kernel drops back to delayed ACKs whenever we answer, so this is re-armed before each read.
#[cfg(target_os = "linux")]
fn quick_ack(socket: &TcpStream) {
    let _ = socket2::SockRef::from(socket).set_tcp_quickack(true);
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_socket: &TcpStream) {}

impl vpicc::VSmartCard for VirtualCard<'_> {
    fn atr(&self) -> &[u8] {
        &self.atr
    }
    fn power_on(&mut self) {
        log::debug!("power on");
        self.card.reset();
    }
    fn power_off(&mut self) {
        log::debug!("power off");
        self.card.reset();
    }
    fn reset(&mut self) {
        log::debug!("reset");
        self.card.reset();
    }
    fn execute(&mut self, apdu: &[u8]) -> Vec<u8> {
        let answer = self.card.transmit(apdu);
        if self.card.take_dropped() {
            log::warn!("fault: dropping the connection to vpcd");
            if let Some(s) = &self.socket {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        answer
    }
}

/// Serves the device in `dir` until SIGTERM or SIGINT.
pub fn serve(dir: &Path, opts: &ServeOptions) -> Result<(), SimError> {
    let mut card = Card::open(dir)?;
    if let Some(path) = &opts.apdu_log {
        card.set_apdu_log(path)?;
    }
    if opts.faults.is_some() {
        card.set_faults(opts.faults.clone());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let current: Arc<Mutex<Option<TcpStream>>> = Arc::new(Mutex::new(None));
    install_signal_thread(stop.clone(), current.clone())?;
    log::info!("serving {} on vpcd {}", dir.display(), opts.vpcd);

    let mut backoff = FIRST_BACKOFF;
    let mut announced_wait = false;
    while !stop.load(Ordering::SeqCst) {
        let stream = match TcpStream::connect(&opts.vpcd) {
            Ok(s) => s,
            Err(e) => {
                if !announced_wait {
                    log::warn!("vpcd at {} not reachable ({e}); retrying", opts.vpcd);
                    announced_wait = true;
                }
                sleep_unless_stopped(backoff, &stop);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = FIRST_BACKOFF;
        announced_wait = false;
        if let Ok(clone) = stream.try_clone() {
            *lock(&current) = Some(clone);
        }
        // A signal that came before the clone was registered would otherwise be missed.
        if stop.load(Ordering::SeqCst) {
            break;
        }
        log::info!("connected to vpcd at {}", opts.vpcd);
        // Our answers go out at once too (no Nagle delay on the length/payload pair).
        let _ = stream.set_nodelay(true);
        let socket = stream.try_clone().ok();
        let mut connection = vpicc::Connection::from(stream);
        let mut vcard = VirtualCard {
            atr: card.atr(),
            card: &mut card,
            socket: socket.as_ref().and_then(|s| s.try_clone().ok()),
        };
        let end = loop {
            if let Some(s) = &socket {
                quick_ack(s);
            }
            if let Err(e) = connection.poll(&mut vcard) {
                break e;
            }
        };
        *lock(&current) = None;
        card.reset();
        if !stop.load(Ordering::SeqCst) {
            log::warn!("vpcd connection lost ({end}); reconnecting");
        }
    }
    log::info!("stopped");
    Ok(())
}

fn lock(m: &Mutex<Option<TcpStream>>) -> std::sync::MutexGuard<'_, Option<TcpStream>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let mut left = total;
    while !left.is_zero() && !stop.load(Ordering::SeqCst) {
        let step = left.min(STOP_POLL);
        std::thread::sleep(step);
        left -= step;
    }
}

fn install_signal_thread(
    stop: Arc<AtomicBool>,
    current: Arc<Mutex<Option<TcpStream>>>,
) -> Result<(), SimError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| SimError::io("signal handler", e))?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            log::info!("signal {sig}: stopping");
            stop.store(true, Ordering::SeqCst);
            if let Some(s) = lock(&current).as_ref() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    });
    Ok(())
}
