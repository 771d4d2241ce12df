//! C_Login and C_Logout, and the PIN rules shared with `admin.rs`.
//!
//! - CKU_USER → VERIFY 81 with the PIN (ASCII). The status word also updates the cached PIN
//!   state, so C_GetTokenInfo shows COUNT_LOW / FINAL_TRY / LOCKED without asking the card.
//! - CKU_SO → the SO-PIN as 16 hex characters = 8 bytes, checked with VERIFY 88 at login (so a
//!   wrong SO-PIN fails here and counts down, unlike OpenSC, which only stores it). It is kept
//!   (zeroizing) only while the SO is logged in, for C_InitPIN and C_SetPIN.
//! - CKU_CONTEXT_SPECIFIC → the card has no per-key PIN: re-verify the user PIN.
//! - C_Logout → SELECT the applet, which drops every verified PIN on the card.

use cryptoki_sys::{CKU_CONTEXT_SPECIFIC, CKU_SO, CKU_USER, CK_SESSION_HANDLE, CK_USER_TYPE};

use super::card_error::CardOp;
use super::error::{Error, Result};
use super::session::{session_ref, SessionRef};
use super::token_info::{CARD_MAX_PIN_LEN, MIN_PIN_LEN};
use super::token_state::LoginState;
use crate::card::{self, PinStatus, SoPin};

pub fn login(session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: Option<&[u8]>) -> Result<()> {
    let s = session_ref(session)?;
    // No PIN pad support: CKF_PROTECTED_AUTHENTICATION_PATH is never set, so NULL is bad.
    let pin = pin.ok_or(Error::ArgumentsBad)?;
    match user {
        CKU_USER => login_user(&s, pin, false),
        CKU_CONTEXT_SPECIFIC => login_user(&s, pin, true),
        CKU_SO => login_so(&s, pin),
        _ => Err(Error::UserTypeInvalid),
    }
}

fn login_user(s: &SessionRef, pin: &[u8], context_specific: bool) -> Result<()> {
    match (s.login_state(), context_specific) {
        (LoginState::User, false) => return Err(Error::UserAlreadyLoggedIn),
        (LoginState::So, false) => return Err(Error::UserAnotherAlreadyLoggedIn),
        (LoginState::User, true) => {}
        (_, true) => return Err(Error::UserNotLoggedIn),
        (LoginState::Public, false) => {}
    }
    check_pin_len(pin, CARD_MAX_PIN_LEN)?;
    let token = s.token();
    let result = token.with_card(CardOp::Login, |dev| match dev.verify_pin(pin) {
        Ok(()) => Ok(Ok(())),
        // Status words that say something about the PIN are answers, not failures.
        Err(
            e @ (card::Error::PinIncorrect { .. }
            | card::Error::AuthenticationBlocked
            | card::Error::ReferenceDataNotUsable
            | card::Error::ReferencedDataNotFound),
        ) => Ok(Err(e)),
        Err(e) => Err(e),
    })?;
    let status = match &result {
        Ok(()) => PinStatus::Verified,
        Err(card::Error::PinIncorrect { tries_left: 0 }) => PinStatus::Blocked,
        Err(card::Error::PinIncorrect { tries_left }) => PinStatus::NotVerified {
            tries_left: *tries_left,
        },
        Err(card::Error::AuthenticationBlocked) => PinStatus::Blocked,
        Err(card::Error::ReferenceDataNotUsable) => PinStatus::TransportPin,
        Err(_) => PinStatus::NotInitialized,
    };
    token.info.write().set_pin(status);
    match result {
        Ok(()) => {
            if !context_specific {
                token.set_login(LoginState::User, None);
                log::info!("slot {}: user logged in", s.slot_id());
                // Keys left without description (interrupted key generations) get theirs now,
                // descriptions left without key (interrupted unwraps) go.
                super::objects::finish_orphan_keys(token);
                super::objects::clear_ghost_descriptions(token);
            }
            Ok(())
        }
        Err(e) => Err(super::card_error::map_card_error(e, CardOp::Login)),
    }
}

fn login_so(s: &SessionRef, pin: &[u8]) -> Result<()> {
    match s.login_state() {
        LoginState::So => return Err(Error::UserAlreadyLoggedIn),
        LoginState::User => return Err(Error::UserAnotherAlreadyLoggedIn),
        LoginState::Public => {}
    }
    let token = s.token();
    let read_only_exists = s
        .lib
        .sessions_of(s.slot_id())
        .iter()
        .any(|x| !x.rw && std::sync::Arc::ptr_eq(&x.token, token));
    if read_only_exists {
        return Err(Error::SessionReadOnlyExists);
    }
    let so = parse_so_pin(pin)?;
    let result = token.with_card(CardOp::SoLogin, |dev| match dev.verify_so_pin(&so) {
        Ok(()) => Ok(Ok(())),
        Err(e @ (card::Error::PinIncorrect { .. } | card::Error::AuthenticationBlocked)) => {
            Ok(Err(e))
        }
        Err(e) => Err(e),
    })?;
    let status = match &result {
        Ok(()) => PinStatus::Verified,
        Err(card::Error::PinIncorrect { tries_left: 0 }) => PinStatus::Blocked,
        Err(card::Error::PinIncorrect { tries_left }) => PinStatus::NotVerified {
            tries_left: *tries_left,
        },
        Err(_) => PinStatus::Blocked,
    };
    token.info.write().so_pin = Some(status);
    match result {
        Ok(()) => {
            token.set_login(LoginState::So, Some(so));
            log::info!("slot {}: SO logged in", s.slot_id());
            Ok(())
        }
        Err(e) => Err(super::card_error::map_card_error(e, CardOp::SoLogin)),
    }
}

pub fn logout(session: CK_SESSION_HANDLE) -> Result<()> {
    let s = session_ref(session)?;
    if s.login_state() == LoginState::Public {
        return Err(Error::UserNotLoggedIn);
    }
    let token = s.token();
    let r = token.with_card(CardOp::Logout, |dev| dev.logout());
    token.forget_login();
    // The PIN is no longer verified; its state is asked again when needed.
    token.info.write().pin = None;
    log::info!("slot {}: logged out", s.slot_id());
    r
}

/// User PIN length rule: 6..=`max` bytes, else `PinLenRange` (nothing is sent to the card).
pub fn check_pin_len(pin: &[u8], max: usize) -> Result<()> {
    if (MIN_PIN_LEN..=max).contains(&pin.len()) {
        Ok(())
    } else {
        Err(Error::PinLenRange)
    }
}

/// The SO-PIN as PKCS#11 applications give it: 16 hex characters (the 8-byte code).
pub fn parse_so_pin(pin: &[u8]) -> Result<SoPin> {
    if pin.len() != 16 {
        return Err(Error::PinLenRange);
    }
    let text = std::str::from_utf8(pin).map_err(|_| Error::PinIncorrect)?;
    SoPin::from_hex(text).map_err(|_| Error::PinIncorrect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn so_pin_rules() {
        assert!(parse_so_pin(b"3537363231383830").is_ok());
        assert_eq!(
            parse_so_pin(b"353736323138383").err(),
            Some(Error::PinLenRange)
        );
        assert_eq!(
            parse_so_pin(b"353736323138383Z").err(),
            Some(Error::PinIncorrect)
        );
        assert_eq!(check_pin_len(b"12345", 15), Err(Error::PinLenRange));
        assert_eq!(check_pin_len(b"123456", 15), Ok(()));
        assert_eq!(check_pin_len(&[b'1'; 16], 15), Err(Error::PinLenRange));
    }
}
