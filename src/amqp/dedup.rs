//! Redelivery detection: which processed messages may come back from the broker.
//!
//! The consumer ([`super::consume`]) acknowledges a delivery only once the worker has
//! processed it, so a lost connection between the two (or a lost acknowledgement) makes
//! the broker deliver the message again. [`Dedup`] remembers recent acknowledgements and
//! which of them are in doubt, so the copy is acknowledged without being counted twice. It
//! is kept apart because it is pure bookkeeping — no lapin, no I/O — and unit-tested as
//! such.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Acknowledgements sent this long before a connection was lost may not have reached the
/// broker: their messages can come back and must not be counted twice.
const ACK_DOUBT: Duration = Duration::from_secs(2);
/// Processed messages remembered for redelivery detection.
const RECENT_ACKS: usize = 16_384;

/// Which processed messages may come back from the broker.
///
/// A message is acknowledged only after it has been processed. If the connection drops
/// between the two, or the acknowledgement is lost with it, the broker delivers the message
/// again and it must not be counted twice. A processed message is "in doubt" when its
/// acknowledgement failed, was sent on a connection already lost, or was sent shortly
/// before the connection was lost; a later delivery with the same body takes one doubt
/// instead of being processed. (The `redelivered` flag is not relied on: a broker restart
/// does not always keep it.)
#[derive(Debug, Default)]
pub(super) struct Dedup {
    recent: VecDeque<Processed>,
    in_doubt: HashMap<(String, u64), u32>,
    /// The newest connection generation known to be lost.
    lost_up_to: u64,
    next_token: u64,
}

/// A processed message whose acknowledgement is being sent or was sent.
#[derive(Debug)]
struct Processed {
    token: u64,
    generation: u64,
    at: Instant,
    connector_id: String,
    hash: u64,
    doubted: bool,
}

impl Dedup {
    /// Records a processed message about to be acknowledged on connection `generation`.
    pub(super) fn processed(&mut self, connector_id: &str, generation: u64, hash: u64) -> u64 {
        self.next_token += 1;
        let mut entry = Processed {
            token: self.next_token,
            generation,
            at: Instant::now(),
            connector_id: connector_id.to_string(),
            hash,
            doubted: false,
        };
        // An acknowledgement sent on a connection already lost never reaches the broker.
        if generation <= self.lost_up_to {
            self.doubt(&mut entry);
        }
        if self.recent.len() >= RECENT_ACKS {
            self.recent.pop_front();
        }
        self.recent.push_back(entry);
        self.next_token
    }

    fn doubt_entry(in_doubt: &mut HashMap<(String, u64), u32>, entry: &mut Processed) {
        if !entry.doubted {
            entry.doubted = true;
            *in_doubt.entry((entry.connector_id.clone(), entry.hash)).or_default() += 1;
        }
    }

    fn doubt(&mut self, entry: &mut Processed) {
        Dedup::doubt_entry(&mut self.in_doubt, entry);
    }

    /// The acknowledgement of `token` failed.
    pub(super) fn ack_failed(&mut self, token: u64) {
        let Dedup { recent, in_doubt, .. } = self;
        if let Some(entry) = recent.iter_mut().rev().find(|e| e.token == token) {
            Dedup::doubt_entry(in_doubt, entry);
        }
    }

    pub(super) fn connection_lost(&mut self, generation: u64) {
        self.lost_up_to = self.lost_up_to.max(generation);
        let horizon = Instant::now().checked_sub(ACK_DOUBT);
        let Dedup { recent, in_doubt, .. } = self;
        for entry in recent.iter_mut() {
            if entry.generation <= generation && horizon.is_none_or(|h| entry.at >= h) {
                Dedup::doubt_entry(in_doubt, entry);
            }
        }
    }

    pub(super) fn take_in_doubt(&mut self, connector_id: &str, hash: u64) -> bool {
        if self.in_doubt.is_empty() {
            return false;
        }
        let key = (connector_id.to_string(), hash);
        match self.in_doubt.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                self.in_doubt.remove(&key);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_ack_makes_the_redelivery_a_duplicate() {
        let mut d = Dedup::default();
        let token = d.processed("c", 1, 42);
        assert!(!d.take_in_doubt("c", 42), "not in doubt while its ack may succeed");
        d.ack_failed(token);
        d.ack_failed(token);
        assert!(d.take_in_doubt("c", 42));
        assert!(!d.take_in_doubt("c", 42), "each doubt is taken once");
    }

    #[test]
    fn acks_just_before_a_lost_connection_are_in_doubt() {
        let mut d = Dedup::default();
        d.processed("c", 1, 7);
        d.processed("c", 2, 8);
        d.connection_lost(1);
        d.connection_lost(1);
        assert!(d.take_in_doubt("c", 7));
        assert!(!d.take_in_doubt("c", 7), "doubted once");
        assert!(!d.take_in_doubt("c", 8), "acked on another connection");
        assert!(!d.take_in_doubt("other", 7));
        d.processed("c", 1, 9);
        assert!(d.take_in_doubt("c", 9), "acknowledged on a connection already lost");
    }
}
