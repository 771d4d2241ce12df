//! `schsm-sim serve` against a fake vpcd: the vpcd protocol, reconnecting after vpcd goes away,
//! the session reset that comes with it, and a clean exit on SIGTERM.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use schsm_sim::{create, InitOptions, NewOptions, AID};

struct Fixture {
    dir: PathBuf,
    child: Option<Child>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits for the simulator to connect to our fake vpcd.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "serve did not connect");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// One vpcd message: 2-byte big-endian length, then the bytes.
fn send(s: &mut TcpStream, msg: &[u8]) {
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(msg);
    s.write_all(&framed).unwrap();
}

fn receive(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut msg).unwrap();
    msg
}

fn exchange(s: &mut TcpStream, apdu: &[u8]) -> Vec<u8> {
    send(s, apdu);
    receive(s)
}

#[test]
fn serve_speaks_vpcd_reconnects_and_stops_on_sigterm() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("schsm-sim-serve-{}-{nanos}", std::process::id()));
    let mut fx = Fixture {
        dir: dir.clone(),
        child: None,
    };
    let init = InitOptions {
        so_pin: *b"57621880",
        pin: b"648219".to_vec(),
        dkek_shares: None,
        retry: 3,
    };
    create(
        &dir,
        &NewOptions {
            firmware: "3.5".into(),
            serial: None,
            init: Some(init),
        },
    )
    .unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let log = dir.join("apdu.log");
    let child = Command::new(env!("CARGO_BIN_EXE_schsm-sim"))
        .args([
            "serve",
            dir.to_str().unwrap(),
            "--vpcd",
            &addr,
            "--apdu-log",
            log.to_str().unwrap(),
        ])
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let pid = child.id();
    fx.child = Some(child);

    let mut s = accept(&listener);
    send(&mut s, &[0x04]); // GetAtr
    let atr = receive(&mut s);
    assert_eq!(atr[..4], [0x3B, 0xDE, 0x18, 0xFF]);
    send(&mut s, &[0x01]); // PowerOn: no answer
    let mut select = vec![0x00, 0xA4, 0x04, 0x00, 0x0B];
    select.extend(AID);
    select.push(0x00);
    assert!(exchange(&mut s, &select).ends_with(&[0x90, 0x00]));
    assert_eq!(
        exchange(
            &mut s,
            &[0x00, 0x20, 0x00, 0x81, 0x06, b'6', b'4', b'8', b'2', b'1', b'9']
        ),
        [0x90, 0x00]
    );
    send(&mut s, &[0x02]); // Reset: logs out and deselects
    assert_eq!(exchange(&mut s, &[0x00, 0x20, 0x00, 0x81]), [0x6D, 0x00]);
    assert!(exchange(&mut s, &select).ends_with(&[0x90, 0x00]));
    assert_eq!(exchange(&mut s, &[0x00, 0x20, 0x00, 0x81]), [0x63, 0xC3]);

    // vpcd goes away: the simulator reconnects, with a fresh session.
    drop(s);
    let mut s = accept(&listener);
    assert_eq!(exchange(&mut s, &[0x00, 0x20, 0x00, 0x81]), [0x6D, 0x00]);

    // SIGTERM while blocked reading from vpcd: a clean, prompt exit.
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = fx.child.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("00200081 <6 bytes masked>"), "{text}");
}
