//! The replay guard: remembers the ids of webhook events already applied (bounded in count and
//! age), so a replayed or re-delivered event is not applied twice.
//!
//! An id is first *claimed* (in progress) and then either *completed* (remembered) or *released*
//! (forgotten, so Stripe's retry of a delivery we failed to apply is accepted). A signature older
//! than the tolerance window is refused before the guard is asked, so remembering ids for at
//! least that window is what stops an attacker's replay; remembering them longer (the retention)
//! also absorbs Stripe's own re-deliveries, which are harmless anyway since applying is idempotent.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the guard says about an event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Not seen: the caller applies it, then calls `complete` or `release`.
    New,
    /// Already applied: refuse it.
    Seen,
    /// Another delivery of it is being applied right now: refuse it for now.
    InProgress,
}

#[derive(Debug)]
struct Entry {
    done: bool,
    at: Instant,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Ids in claim order, for eviction (may hold ids already released).
    order: VecDeque<(String, Instant)>,
}

/// A bounded memory of applied event ids.
#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    retention: Duration,
    state: Mutex<State>,
}

impl ReplayGuard {
    /// Remembers at most `capacity` ids, each for at most `retention`.
    pub fn new(capacity: usize, retention: Duration) -> ReplayGuard {
        ReplayGuard {
            capacity: capacity.max(1),
            retention,
            state: Mutex::new(State::default()),
        }
    }

    /// Claims an event id.
    pub fn claim(&self, id: &str) -> Claim {
        self.claim_at(id, Instant::now())
    }

    fn claim_at(&self, id: &str, now: Instant) -> Claim {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.evict(&mut state, now);
        if let Some(entry) = state.entries.get(id) {
            return if entry.done {
                Claim::Seen
            } else {
                Claim::InProgress
            };
        }
        state.entries.insert(
            id.to_owned(),
            Entry {
                done: false,
                at: now,
            },
        );
        state.order.push_back((id.to_owned(), now));
        Claim::New
    }

    /// Marks a claimed id as applied.
    pub fn complete(&self, id: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = state.entries.get_mut(id) {
            entry.done = true;
        }
    }

    /// Forgets a claimed id whose application failed, so a later delivery is accepted.
    pub fn release(&self, id: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.entries.get(id).is_some_and(|e| !e.done) {
            state.entries.remove(id);
        }
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .len()
    }

    /// True when no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn evict(&self, state: &mut State, now: Instant) {
        while let Some((id, at)) = state.order.front() {
            let expired = now.saturating_duration_since(*at) > self.retention;
            if !expired && state.order.len() < self.capacity {
                break;
            }
            // only drop the entry this order slot refers to (a released id may have been
            // claimed again later, with a newer slot)
            if state.entries.get(id).is_some_and(|e| e.at == *at) {
                state.entries.remove(id);
            }
            state.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_applied_id_is_refused_until_it_ages_out() {
        let guard = ReplayGuard::new(100, Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(guard.claim_at("evt_1", t0), Claim::New);
        assert_eq!(guard.claim_at("evt_1", t0), Claim::InProgress);
        guard.complete("evt_1");
        assert_eq!(
            guard.claim_at("evt_1", t0 + Duration::from_secs(30)),
            Claim::Seen
        );
        assert_eq!(
            guard.claim_at("evt_1", t0 + Duration::from_secs(61)),
            Claim::New
        );
    }

    #[test]
    fn a_failed_application_can_be_retried() {
        let guard = ReplayGuard::new(100, Duration::from_secs(60));
        assert_eq!(guard.claim("evt_1"), Claim::New);
        guard.release("evt_1");
        assert_eq!(guard.claim("evt_1"), Claim::New);
        guard.complete("evt_1");
        guard.release("evt_1");
        assert_eq!(guard.claim("evt_1"), Claim::Seen);
    }

    #[test]
    fn memory_is_bounded() {
        let guard = ReplayGuard::new(10, Duration::from_secs(3600));
        let now = Instant::now();
        for i in 0..1000 {
            let id = format!("evt_{i}");
            assert_eq!(guard.claim_at(&id, now), Claim::New);
            guard.complete(&id);
            assert!(guard.len() <= 10, "{} ids remembered", guard.len());
        }
        // the newest are still refused
        assert_eq!(guard.claim_at("evt_999", now), Claim::Seen);
        // churn of claims and releases does not grow the order queue without bound
        for _ in 0..1000 {
            assert_eq!(guard.claim_at("evt_x", now), Claim::New);
            guard.release("evt_x");
        }
        let order = guard.state.lock().expect("lock").order.len();
        assert!(order <= 10, "{order}");
    }
}
