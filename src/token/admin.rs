//! C_InitToken, C_InitPIN, C_SetPIN.
//!
//! C_InitToken → INITIALIZE DEVICE (options 0001 = RESET RETRY COUNTER enabled, so C_InitPIN
//! works; retry counter 3; no DKEK unless `SCHSM_DKEK_SHARES=n` says how many shares, 0 = a
//! random DKEK), then EF 2F03 with the label. INITIALIZE needs a user PIN, which PKCS#11 does
//! not give: like OpenSC we use the first 6 bytes of the binary SO-PIN. That serves users:
//! the provisional PIN is secret (only the SO-PIN holder can derive it), the PKCS#11 flow
//! (C_InitToken, SO login, C_InitPIN) replaces it anyway, a token initialised by OpenSC or by
//! us behaves the same, and there is no well-known default PIN left on a card whose owner
//! forgot C_InitPIN. Until C_InitPIN, C_GetTokenInfo reports CKF_USER_PIN_INITIALIZED clear
//! (in this process).

use cryptoki_sys::{CK_SESSION_HANDLE, CK_SLOT_ID};

use super::card_error::CardOp;
use super::error::{Error, Result};
use super::library;
use super::login::{check_pin_len, parse_so_pin};
use super::session::session_ref;
use super::slots::present_token;
use super::token_info::{CARD_MAX_PIN_LEN, MAX_PIN_LEN};
use super::token_state::LoginState;
use crate::card::{pkcs15, Fid, InitParams, PinStatus, SecretBytes};

pub fn init_token(slot: CK_SLOT_ID, so_pin: &[u8], label: &[u8]) -> Result<()> {
    let lib = library::get()?;
    let token = present_token(&lib, slot)?;
    if !lib.sessions_of(slot).is_empty() {
        return Err(Error::SessionExists);
    }
    let so = parse_so_pin(so_pin)?;
    let label = String::from_utf8_lossy(label)
        .trim_end_matches([' ', '\0'])
        .to_string();
    // Part of the SO-PIN: wiped when done.
    let provisional = SecretBytes::from_slice(&so.expose()[..6]);
    let mut params = InitParams::new(so.clone(), provisional.expose());
    params.dkek_shares = lib.config.dkek_shares;
    log::info!(
        "slot {slot}: initialising the token (label {label:?}, DKEK shares {:?})",
        params.dkek_shares
    );
    let r = token.with_card(CardOp::InitToken, |dev| {
        dev.initialize(&params)?;
        // Writing 2F03 needs the user PIN.
        dev.verify_pin(provisional.expose())?;
        dev.write_file(
            Fid::TOKEN_INFO,
            &pkcs15::TokenInfo::with_label(&label).encode(),
        )?;
        dev.logout()
    });
    if let Err(e) = r {
        // A wrong SO-PIN counted down, or the card was initialised and a later step failed:
        // read everything again next time.
        token.forget_login();
        token.clear_caches();
        return Err(e);
    }
    token.forget_login();
    token.clear_caches();
    {
        let mut info = token.info.write();
        info.label = Some(label);
        info.provisional_pin = true;
    }
    Ok(())
}

pub fn init_pin(session: CK_SESSION_HANDLE, pin: Option<&[u8]>) -> Result<()> {
    let s = session_ref(session)?;
    if s.login_state() != LoginState::So {
        return Err(Error::UserNotLoggedIn);
    }
    s.require_rw()?;
    if let Some(p) = pin {
        check_pin_len(p, MAX_PIN_LEN)?;
    }
    let so = s.token().so_pin().ok_or(Error::UserNotLoggedIn)?;
    s.with_card(CardOp::InitPin, |dev| dev.reset_retry_counter(&so, pin))?;
    let mut info = s.token().info.write();
    info.pin = None;
    info.provisional_pin = false;
    log::info!(
        "slot {}: user PIN {}",
        s.slot_id(),
        if pin.is_some() { "set" } else { "unblocked" }
    );
    Ok(())
}

pub fn set_pin(session: CK_SESSION_HANDLE, old: Option<&[u8]>, new: Option<&[u8]>) -> Result<()> {
    let s = session_ref(session)?;
    let (old, new) = match (old, new) {
        (Some(o), Some(n)) => (o, n),
        // Protected authentication path (PIN pad) is not supported.
        _ => return Err(Error::ArgumentsBad),
    };
    s.require_rw()?;
    let token = s.token();
    if s.login_state() == LoginState::So {
        let (old_so, new_so) = (parse_so_pin(old)?, parse_so_pin(new)?);
        let r = s.with_card(CardOp::ChangePin, |dev| dev.change_so_pin(&old_so, &new_so));
        token.info.write().so_pin = None;
        r?;
        token.set_login(LoginState::So, Some(new_so));
        log::info!("slot {}: SO-PIN changed", s.slot_id());
        return Ok(());
    }
    check_pin_len(old, CARD_MAX_PIN_LEN)?;
    check_pin_len(new, MAX_PIN_LEN)?;
    let r = s.with_card(CardOp::ChangePin, |dev| dev.change_pin(old, new));
    let mut info = token.info.write();
    match &r {
        Ok(()) => {
            info.pin = None;
            info.provisional_pin = false;
            log::info!("slot {}: user PIN changed", s.slot_id());
        }
        Err(Error::PinLocked) => info.set_pin(PinStatus::Blocked),
        Err(_) => info.pin = None,
    }
    r
}
