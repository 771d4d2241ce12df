//! The library API as the module's in-process transport and the `schsm-sim` binary use it.

use std::path::{Path, PathBuf};

use schsm_sim::{create, stat, Card, InitOptions, NewOptions, SimError, AID};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "schsm-sim-api-{tag}-{}-{nanos}",
            std::process::id()
        ));
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SO_PIN: [u8; 8] = *b"57621880";

fn init() -> InitOptions {
    InitOptions {
        so_pin: SO_PIN,
        pin: b"648219".to_vec(),
        dkek_shares: Some(1),
        retry: 3,
    }
}

fn sw(resp: &[u8]) -> u16 {
    u16::from_be_bytes([resp[resp.len() - 2], resp[resp.len() - 1]])
}

fn select(card: &mut Card) {
    let mut apdu = vec![0x00, 0xA4, 0x04, 0x00, 0x0B];
    apdu.extend(AID);
    apdu.push(0x00);
    assert_eq!(sw(&card.transmit(&apdu)), 0x9000);
}

#[test]
fn create_checks_its_options() {
    let dir = TempDir::new("opts");
    let opts = |firmware: &str, serial: Option<&str>, init: Option<InitOptions>| NewOptions {
        firmware: firmware.into(),
        serial: serial.map(String::from),
        init,
    };
    let err = create(dir.path(), &opts("4.0", None, None)).unwrap_err();
    assert!(matches!(err, SimError::UnknownFirmware(_)), "{err}");
    let err = create(dir.path(), &opts("3.1", Some("denk-1"), None)).unwrap_err();
    assert!(matches!(err, SimError::InvalidOption(_)), "{err}");
    let mut short_pin = init();
    short_pin.pin = b"123".to_vec();
    let err = create(dir.path(), &opts("3.1", None, Some(short_pin))).unwrap_err();
    assert!(err.to_string().contains("6 to 16"), "{err}");
    create(dir.path(), &opts("3.1", Some("DENK0100042"), Some(init()))).unwrap();
    let err = create(dir.path(), &opts("3.1", None, None)).unwrap_err();
    assert!(matches!(err, SimError::Exists(_)), "{err}");

    let text = stat(dir.path()).unwrap();
    for needle in [
        "3.1",
        "DENK0100042",
        "bug #168",
        "Initialized:   yes",
        "1 outstanding",
        "APDU counter:  0",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
}

#[test]
fn device_certificate_carries_the_serial() {
    let dir = TempDir::new("cert");
    let opts = NewOptions {
        firmware: "3.5".into(),
        serial: Some("DENK0199999".into()),
        init: None,
    };
    create(dir.path(), &opts).unwrap();
    let mut card = Card::open(dir.path()).unwrap();
    assert_eq!(card.atr().len(), 24);
    select(&mut card);
    let resp = card.transmit(&[
        0x00, 0xB1, 0x2F, 0x02, 0x00, 0x00, 0x04, 0x54, 0x02, 0x00, 0x00, 0x00, 0x00,
    ]);
    assert_eq!(sw(&resp), 0x9000);
    assert_eq!(resp[..2], [0x7F, 0x21], "a CV certificate");
    let chr = b"DENK019999900000";
    assert!(
        resp.windows(chr.len()).any(|w| w == chr),
        "device CHR = serial + 00000"
    );
    let count_line = stat(dir.path()).unwrap();
    assert!(count_line.contains("APDU counter:  2"), "{count_line}");
}

#[test]
fn apdu_log_masks_the_pin() {
    let dir = TempDir::new("log");
    let opts = NewOptions {
        firmware: "3.5".into(),
        serial: None,
        init: Some(init()),
    };
    create(dir.path(), &opts).unwrap();
    let log = dir.path().join("apdu.log");
    let mut card = Card::open(dir.path()).unwrap();
    card.set_apdu_log(&log).unwrap();
    select(&mut card);
    let resp = card.transmit(&[
        0x00, 0x20, 0x00, 0x81, 0x06, b'6', b'4', b'8', b'2', b'1', b'9',
    ]);
    assert_eq!(sw(&resp), 0x9000);
    card.reset();
    assert_eq!(
        sw(&card.transmit(&[0x00, 0x20, 0x00, 0x81])),
        0x6D00,
        "reset deselects the applet"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("00200081 <6 bytes masked>"), "{text}");
    assert!(!text.contains("363438323139"), "{text}");
}
