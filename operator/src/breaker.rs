//! The circuit breaker on upstream deletions: at most N per minute, all controllers together, so a
//! bug or a bad bulk edit can never wipe many customers' data at once.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refusal of a deletion because too many happened in the last minute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("upstream deletions paused: {limit} already in the last minute; retry in {retry_in:?}")]
pub struct BreakerOpen {
    /// The configured limit per minute.
    pub limit: usize,
    /// When the oldest deletion leaves the window.
    pub retry_in: Duration,
}

/// A sliding one-minute window of upstream deletions.
#[derive(Debug)]
pub struct DeletionBreaker {
    limit: usize,
    window: Duration,
    recent: Mutex<VecDeque<Instant>>,
}

impl DeletionBreaker {
    /// At most `per_minute` deletions in any minute.
    pub fn new(per_minute: usize) -> Self {
        DeletionBreaker {
            limit: per_minute,
            window: Duration::from_secs(60),
            recent: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes one deletion out of the budget at `now`, or refuses.
    pub fn acquire(&self, now: Instant) -> Result<(), BreakerOpen> {
        let mut recent = self.recent.lock().expect("breaker lock");
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            recent.pop_front();
        }
        if recent.len() >= self.limit {
            let oldest = recent.front().copied().unwrap_or(now);
            return Err(BreakerOpen {
                limit: self.limit,
                retry_in: self.window.saturating_sub(now.duration_since(oldest)),
            });
        }
        recent.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_recovers_after_the_window() {
        let breaker = DeletionBreaker::new(3);
        let t0 = Instant::now();
        for i in 0..3 {
            breaker
                .acquire(t0 + Duration::from_secs(i))
                .expect("within budget");
        }
        let refused = breaker
            .acquire(t0 + Duration::from_secs(10))
            .expect_err("fourth in a minute");
        assert_eq!(refused.limit, 3);
        assert_eq!(refused.retry_in, Duration::from_secs(50));
        // the first deletion leaves the window at t0+60s
        breaker
            .acquire(t0 + Duration::from_secs(60))
            .expect("a slot freed");
        assert!(
            breaker.acquire(t0 + Duration::from_secs(60)).is_err(),
            "still three in the window"
        );
    }

    #[test]
    fn zero_means_no_deletions_at_all() {
        assert!(DeletionBreaker::new(0).acquire(Instant::now()).is_err());
    }
}
