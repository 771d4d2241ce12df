//! The DKEK objects: one CKO_SECRET_KEY per key domain whose DKEK is complete (PROTOCOL.md
//! §4.6, §8.7), read where `load.rs` asks for the DKEK status.
//!
//! Discovery: domain 0 is asked on every device (one APDU, as before key domains). Only on
//! firmware with key domains (`FirmwareProfile::key_domains`, fw >= 3.0) and only when domain 0
//! has a DKEK, P2 = 1, 2, ... are asked until the card answers 6A86 (beyond the configured
//! number of domains), 6A88 (a domain without DKEK), any other error, or [`MAX_DOMAINS`] is
//! reached. So an HSM 1 / 2.x device, and a 3.x device without DKEK, cost no extra APDU; a 3.x
//! device with a DKEK in domain 0 and no other domain costs one (the 6A86).
//!
//! Stopping at the first domain without DKEK is a choice: KeyManager sets domains up in order,
//! and asking all 32 possible domains of a device that has only domain 0 would cost 31 APDUs
//! at the first secret-key find. A DKEK in a domain after a gap (domain deleted with P1 03) is
//! not shown.

use super::model::{Body, DkekObject, Identity};
use super::store::ObjectStore;
use crate::card::dkek::DomainDkek;
use crate::card::{self, Device};
use crate::token::token_state::Token;

/// Highest key domain probed (P2); pico-hsm's compile-time maximum is 32, KeyManager's UI
/// offers far fewer.
pub const MAX_DOMAINS: u8 = 16;

/// What the card says about its DKEKs: the status of every domain that has one (complete or
/// not), in domain order.
pub type DomainStatuses = Vec<(u8, card::DkekStatus)>;

/// Asks the card (inside the caller's card transaction). Transport errors end the load;
/// any other refusal means "no (further) DKEK".
pub fn probe(dev: &mut Device) -> card::Result<DomainStatuses> {
    let mut found = Vec::new();
    let with_domains = dev.profile().key_domains;
    for domain in 0..=MAX_DOMAINS {
        match dev.dkek_status_of(domain) {
            Ok(DomainDkek::Dkek(s)) => found.push((domain, s)),
            // 6A88 / 6A86: no DKEK here, and none looked for beyond.
            Ok(DomainDkek::NoDkek | DomainDkek::NoSuchDomain) => break,
            Err(e @ card::Error::Transport(_)) => return Err(e),
            // 6D00 (firmware without DKEK) or anything unexpected.
            Err(e) => {
                log::debug!("DKEK status of key domain {domain}: {e}");
                break;
            }
        }
        if !with_domains {
            break;
        }
    }
    Ok(found)
}

/// Puts one object per domain with a complete DKEK into the store and drops those of domains
/// that no longer have one. Only a complete DKEK can wrap: while shares are outstanding the
/// domain has no object.
pub fn apply(st: &mut ObjectStore, token: &Token, statuses: &DomainStatuses) {
    for domain in 0..=MAX_DOMAINS {
        let complete = statuses
            .iter()
            .find(|(d, s)| *d == domain && s.is_complete())
            .map(|(_, s)| s);
        match complete {
            Some(s) => {
                st.upsert(
                    Identity::Dkek(domain),
                    None,
                    Body::Dkek(DkekObject {
                        domain,
                        kcv: s.kcv,
                        total_shares: s.total_shares,
                        outstanding_shares: s.outstanding_shares,
                    }),
                    || token.new_handle(),
                );
            }
            None => st.remove(Identity::Dkek(domain)),
        }
    }
}

/// The DKEK object of the domain whose DKEK has this KCV, if the store has one.
pub fn domain_of_kcv(st: &ObjectStore, kcv: &[u8]) -> Option<u8> {
    (0..=MAX_DOMAINS).find(|&d| match st.by_identity(Identity::Dkek(d)) {
        Some(o) => matches!(&o.body, Body::Dkek(k) if k.kcv == kcv),
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::device::tests::mock_device;

    fn status(outstanding: u8) -> String {
        format!("01{outstanding:02X} 1865C00831E73F7E 9000")
    }

    #[test]
    fn hsm1_and_2x_ask_domain_0_only() {
        let (mut d, m) = mock_device(2, 6);
        m.expect_hex("8052000000", &status(0));
        assert_eq!(probe(&mut d).unwrap().len(), 1);
        m.assert_done();
    }

    #[test]
    fn no_dkek_in_domain_0_stops_at_once() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("8052000000", "6A88");
        assert!(probe(&mut d).unwrap().is_empty());
        m.expect_hex("8052000000", "6D00");
        assert!(probe(&mut d).unwrap().is_empty());
        m.assert_done();
    }

    #[test]
    fn domains_until_6a86_or_6a88() {
        let (mut d, m) = mock_device(3, 5);
        m.expect_hex("8052000000", &status(0));
        m.expect_hex("8052000100", &status(1));
        m.expect_hex("8052000200", "6A86");
        let found = probe(&mut d).unwrap();
        assert_eq!(
            found
                .iter()
                .map(|(d, s)| (*d, s.is_complete()))
                .collect::<Vec<_>>(),
            [(0, true), (1, false)]
        );
        m.expect_hex("8052000000", &status(0));
        m.expect_hex("8052000100", "6A88");
        assert_eq!(probe(&mut d).unwrap().len(), 1);
        m.assert_done();
    }

    #[test]
    fn at_most_max_domains() {
        let (mut d, m) = mock_device(3, 5);
        for p2 in 0..=MAX_DOMAINS {
            m.expect_hex(&format!("805200{p2:02X}00"), &status(0));
        }
        assert_eq!(probe(&mut d).unwrap().len(), usize::from(MAX_DOMAINS) + 1);
        m.assert_done();
    }
}
