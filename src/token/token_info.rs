//! CK_SLOT_INFO and CK_TOKEN_INFO, cheap after the first look at a card.
//!
//! The first C_GetTokenInfo of an insertion reads EF 2F02 (serial), EF 2F03 (label) and the
//! user PIN state (VERIFY 81 without data): three APDUs, then nothing more while the card
//! stays in the reader. Our own PIN operations update the cached PIN states from their status
//! words; C_InitToken empties the cache. PIN attempts made by other processes are not seen
//! until the card is re-inserted (the price of not sending APDUs per C_GetTokenInfo).
//!
//! The SO-PIN state is not asked for (one APDU per process saved, as sc-hsm-embedded does):
//! the CKF_SO_PIN_* flags show what this process's own SO logins met (a wrong SO-PIN sets
//! COUNT_LOW, a blocked one LOCKED), and are clear before the first SO login.

use cryptoki_sys::*;

use super::api::{SlotInfo, TokenInfo};
use super::card_error::CardOp;
use super::error::Result;
use super::library::Library;
use super::slot::Slot;
use super::token_state::Token;
use crate::card::{cvc, pkcs15, Fid, PinStatus};

/// Minimum user PIN length (the card's).
pub const MIN_PIN_LEN: usize = 6;
/// Longest user PIN we set: 15, OpenSC's limit, so that PINs set here work there too (the
/// card itself takes 16, and C_Login accepts 16 for PINs set by other tools).
pub const MAX_PIN_LEN: usize = 15;
/// The card's own maximum (accepted at C_Login).
pub const CARD_MAX_PIN_LEN: usize = 16;
/// SO-PIN retry counter of the SmartCard-HSM.
const SO_PIN_TRIES: u8 = 15;

/// What is known about a token without asking the card again.
#[derive(Debug, Clone, Default)]
pub struct InfoCache {
    pub serial: Option<String>,
    /// `Some("")` when EF 2F03 holds no label.
    pub label: Option<String>,
    /// `None` = ask the card at the next C_GetTokenInfo.
    pub pin: Option<PinStatus>,
    pub so_pin: Option<PinStatus>,
    /// The most user-PIN tries seen since insertion (the card never says its maximum).
    pub max_tries_seen: u8,
    /// After our C_InitToken the user PIN is a provisional one until C_InitPIN.
    pub provisional_pin: bool,
}

impl InfoCache {
    /// Records a user PIN state (from a status query or a VERIFY result).
    pub fn set_pin(&mut self, s: PinStatus) {
        if let PinStatus::NotVerified { tries_left } = s {
            self.max_tries_seen = self.max_tries_seen.max(tries_left);
        }
        self.pin = Some(s);
    }

    fn complete(&self) -> bool {
        self.serial.is_some() && self.label.is_some() && self.pin.is_some()
    }
}

/// Fills what the cache lacks (one card transaction), without holding a cache lock meanwhile.
pub fn ensure_info(token: &Token) -> Result<InfoCache> {
    let mut cached = token.info.read().clone();
    if cached.complete() {
        return Ok(cached);
    }
    // Serial and label as another process of this insertion read them (no APDU).
    let shared = token.insertion.as_deref();
    if cached.serial.is_none() || cached.label.is_none() {
        if let Some((serial, label)) = shared.and_then(super::info_store::load) {
            cached.serial.get_or_insert(serial);
            cached.label.get_or_insert(label);
        }
    }
    let from_card = cached.serial.is_none() || cached.label.is_none();
    let fresh = token.with_card(CardOp::Read, |dev| {
        let serial = match &cached.serial {
            Some(s) => s.clone(),
            None => match dev.read_file_if_exists(Fid::DEVICE_CERTIFICATE)? {
                Some(d) => cvc::device_serial(&d).unwrap_or_else(|e| {
                    log::warn!("EF 2F02: {e}; serial unknown");
                    String::new()
                }),
                None => String::new(),
            },
        };
        let label = match &cached.label {
            Some(l) => l.clone(),
            None => match dev.read_file_if_exists(Fid::TOKEN_INFO)? {
                Some(d) => match pkcs15::TokenInfo::decode(&d) {
                    Ok(ti) => ti.label.unwrap_or_default(),
                    Err(e) => {
                        log::warn!("EF 2F03: {e}; default label");
                        String::new()
                    }
                },
                None => String::new(),
            },
        };
        let pin = match cached.pin {
            Some(p) => p,
            None => dev.pin_status()?,
        };
        Ok((serial, label, pin))
    })?;
    if let (Some(id), true) = (shared, from_card) {
        super::info_store::save(id, &fresh.0, &fresh.1);
    }
    let mut info = token.info.write();
    info.serial.get_or_insert(fresh.0);
    info.label.get_or_insert(fresh.1);
    if info.pin.is_none() {
        info.set_pin(fresh.2);
    }
    Ok(info.clone())
}

pub fn slot_info(slot: &Slot, token_present: bool) -> SlotInfo {
    let mut flags = CKF_REMOVABLE_DEVICE;
    if !slot.is_simulated() {
        flags |= CKF_HW_SLOT;
    }
    if token_present {
        flags |= CKF_TOKEN_PRESENT;
    }
    SlotInfo {
        description: slot.description(),
        manufacturer: if slot.is_simulated() {
            "schsm-sim (simulated)".into()
        } else {
            "PC/SC".into()
        },
        flags,
        hardware_version: (0, 0),
        firmware_version: (0, 0),
    }
}

pub fn token_info(lib: &Library, token: &Token) -> Result<TokenInfo> {
    let info = ensure_info(token)?;
    let version = token.profile.version;
    let label = match info.label.as_deref() {
        Some(l) if !l.trim().is_empty() => l.to_string(),
        _ => "SmartCard-HSM".to_string(),
    };
    let (mut sessions, mut rw) = (0, 0);
    for s in lib.sessions_of(token.slot_id) {
        sessions += 1;
        if s.rw {
            rw += 1;
        }
    }
    let serial: String = info
        .serial
        .clone()
        .unwrap_or_default()
        .chars()
        .take(16)
        .collect();
    Ok(TokenInfo {
        label,
        manufacturer: if token.simulated {
            "CardContact (simulated)".into()
        } else {
            "CardContact (www.cardcontact.de)".into()
        },
        // "SmartCard-HSM 3.5" would be 17 characters, one more than the field holds: the model
        // stays what sc-hsm-embedded reports, the version is in firmware_version, and a
        // simulated device says so in the manufacturer (32 characters) and slot fields.
        model: "SmartCard-HSM".into(),
        serial,
        flags: flags(&info),
        max_session_count: CK_EFFECTIVELY_INFINITE,
        session_count: sessions,
        max_rw_session_count: CK_EFFECTIVELY_INFINITE,
        rw_session_count: rw,
        max_pin_len: MAX_PIN_LEN as CK_ULONG,
        min_pin_len: MIN_PIN_LEN as CK_ULONG,
        total_public_memory: None,
        free_public_memory: None,
        total_private_memory: None,
        free_private_memory: None,
        hardware_version: (token.profile.applet_type.unwrap_or(0), 0),
        firmware_version: (version.major, version.minor),
    })
}

/// The token flags from the cached PIN states (PROTOCOL.md §10.3).
pub fn flags(info: &InfoCache) -> CK_FLAGS {
    let mut f = CKF_RNG | CKF_LOGIN_REQUIRED;
    let pin = info.pin.unwrap_or(PinStatus::NotInitialized);
    let initialized = pin != PinStatus::NotInitialized;
    if initialized {
        f |= CKF_TOKEN_INITIALIZED;
        if !info.provisional_pin {
            f |= CKF_USER_PIN_INITIALIZED;
        }
    }
    match pin {
        PinStatus::NotVerified { tries_left } => {
            f |= match tries_left {
                0 => CKF_USER_PIN_LOCKED,
                1 => CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW,
                2 => CKF_USER_PIN_COUNT_LOW,
                n if n < info.max_tries_seen => CKF_USER_PIN_COUNT_LOW,
                _ => 0,
            }
        }
        PinStatus::Blocked => f |= CKF_USER_PIN_LOCKED,
        PinStatus::TransportPin => f |= CKF_USER_PIN_TO_BE_CHANGED,
        PinStatus::Verified | PinStatus::NotInitialized => {}
    }
    match info.so_pin {
        Some(PinStatus::NotVerified { tries_left }) => {
            f |= match tries_left {
                0 => CKF_SO_PIN_LOCKED,
                1 => CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_COUNT_LOW,
                n if n < SO_PIN_TRIES => CKF_SO_PIN_COUNT_LOW,
                _ => 0,
            }
        }
        Some(PinStatus::Blocked) => f |= CKF_SO_PIN_LOCKED,
        _ => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pin: PinStatus, so: PinStatus) -> CK_FLAGS {
        let mut i = InfoCache {
            so_pin: Some(so),
            max_tries_seen: 3,
            ..InfoCache::default()
        };
        i.set_pin(pin);
        flags(&i)
    }

    #[test]
    fn pin_flags() {
        let ok = PinStatus::NotVerified { tries_left: 15 };
        let base = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED;
        assert_eq!(with(PinStatus::NotVerified { tries_left: 3 }, ok), base);
        assert_eq!(
            with(PinStatus::NotVerified { tries_left: 2 }, ok),
            base | CKF_USER_PIN_COUNT_LOW
        );
        assert_eq!(
            with(PinStatus::NotVerified { tries_left: 1 }, ok),
            base | CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY
        );
        assert_eq!(with(PinStatus::Blocked, ok), base | CKF_USER_PIN_LOCKED);
        assert_eq!(
            with(PinStatus::TransportPin, ok),
            base | CKF_USER_PIN_TO_BE_CHANGED
        );
        assert_eq!(with(PinStatus::Verified, ok), base);
        assert_eq!(
            with(PinStatus::NotInitialized, PinStatus::NotInitialized),
            CKF_RNG | CKF_LOGIN_REQUIRED
        );
        assert_eq!(
            with(
                PinStatus::Verified,
                PinStatus::NotVerified { tries_left: 14 }
            ),
            base | CKF_SO_PIN_COUNT_LOW
        );
        assert_eq!(
            with(PinStatus::Verified, PinStatus::Blocked),
            base | CKF_SO_PIN_LOCKED
        );
        let mut i = InfoCache::default();
        i.set_pin(PinStatus::NotVerified { tries_left: 5 });
        i.set_pin(PinStatus::NotVerified { tries_left: 4 });
        assert_ne!(flags(&i) & CKF_USER_PIN_COUNT_LOW, 0);
    }
}
