//! Per-object exponential backoff with jitter, kept in the controller context (kube-runtime has none).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

/// The backoff settings of one controller: an external API gets a longer one.
#[derive(Debug, Clone, Copy)]
pub struct BackoffPolicy {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
    /// Random spread added, as a fraction of the delay (0.0 to 1.0).
    pub jitter: f64,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
            jitter: 0.2,
        }
    }
}

impl BackoffPolicy {
    /// The delay before retry number `attempt` (0 = first failure), without jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Failure counts per object key, and the next delay for each.
#[derive(Debug)]
pub struct Backoffs<K> {
    policy: BackoffPolicy,
    attempts: Mutex<HashMap<K, u32>>,
}

impl<K: Eq + Hash + Clone> Backoffs<K> {
    /// A tracker with `policy`.
    pub fn new(policy: BackoffPolicy) -> Self {
        Backoffs {
            policy,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Records one more failure of `key` and returns how long to wait before retrying: the
    /// exponential delay with jitter, but never less than an upstream's `Retry-After`.
    pub fn failure(&self, key: &K, retry_after: Option<Duration>) -> Duration {
        let attempt = {
            let mut attempts = self.attempts.lock().expect("backoff lock");
            let n = attempts.entry(key.clone()).or_insert(0);
            let attempt = *n;
            *n = n.saturating_add(1);
            attempt
        };
        let delay = self.policy.delay(attempt);
        let spread = delay.as_secs_f64() * self.policy.jitter.clamp(0.0, 1.0);
        let jittered = delay + Duration::from_secs_f64(rand::rng().random_range(0.0..=spread));
        jittered.max(retry_after.unwrap_or_default())
    }

    /// Forgets `key`'s failures after a success.
    pub fn success(&self, key: &K) {
        self.attempts.lock().expect("backoff lock").remove(key);
    }

    /// How many objects are currently backing off (a metric).
    pub fn in_backoff(&self) -> usize {
        self.attempts.lock().expect("backoff lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_max() {
        let p = BackoffPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
            jitter: 0.0,
        };
        let d: Vec<u64> = (0..6).map(|a| p.delay(a).as_secs()).collect();
        assert_eq!(d, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn failures_grow_per_key_and_success_resets() {
        let b = Backoffs::new(BackoffPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.5,
        });
        let first = b.failure(&"a", None);
        assert!(
            first >= Duration::from_secs(1) && first <= Duration::from_millis(1500),
            "{first:?}"
        );
        let second = b.failure(&"a", None);
        assert!(
            second >= Duration::from_secs(2) && second <= Duration::from_secs(3),
            "{second:?}"
        );
        // another key starts from the beginning
        assert!(b.failure(&"b", None) <= Duration::from_millis(1500));
        assert_eq!(b.in_backoff(), 2);
        b.success(&"a");
        assert_eq!(b.in_backoff(), 1);
        assert!(b.failure(&"a", None) <= Duration::from_millis(1500));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let b = Backoffs::new(BackoffPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.0,
        });
        assert_eq!(
            b.failure(&"a", Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
    }
}
