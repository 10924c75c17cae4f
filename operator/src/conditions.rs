//! Status conditions: setting one with Kubernetes semantics, and the `Ready` summary.
//!
//! Pure functions over `Vec<Condition>`: `lastTransitionTime` moves only when a condition's status
//! flips, so a pass that finds nothing new produces an identical list and the status is not written.

use dezky_crds::condition::{reasons, types};
use dezky_crds::{Condition, ConditionStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// A condition as a controller decides it, before bookkeeping (time, generation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The condition type, e.g. `IdentityReady`.
    pub type_: &'static str,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// One CamelCase word.
    pub reason: String,
    /// What a person should know; never a secret.
    pub message: String,
}

impl Verdict {
    /// A satisfied condition.
    pub fn ok(type_: &'static str, message: impl Into<String>) -> Self {
        Verdict {
            type_,
            status: ConditionStatus::True,
            reason: reasons::RECONCILED.into(),
            message: message.into(),
        }
    }
    /// An unsatisfied condition with its reason.
    pub fn failed(
        type_: &'static str,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Verdict {
            type_,
            status: ConditionStatus::False,
            reason: reason.into(),
            message: message.into(),
        }
    }
    /// A condition that cannot be decided now (first visit, upstream unreachable).
    pub fn unknown(
        type_: &'static str,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Verdict {
            type_,
            status: ConditionStatus::Unknown,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Sets `verdict` in `conditions` for `generation`. The transition time is `now` only when the
/// condition is new or its status changed; otherwise the old time is kept. Returns whether
/// anything changed.
pub fn set(
    conditions: &mut Vec<Condition>,
    verdict: Verdict,
    generation: Option<i64>,
    now: &Time,
) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == verdict.type_) {
        Some(existing) => {
            let transition = if existing.status == verdict.status {
                existing.last_transition_time.clone()
            } else {
                now.clone()
            };
            let updated = Condition {
                type_: verdict.type_.to_string(),
                status: verdict.status,
                reason: verdict.reason,
                message: verdict.message,
                last_transition_time: transition,
                observed_generation: generation,
            };
            if *existing == updated {
                return false;
            }
            *existing = updated;
            true
        }
        None => {
            conditions.push(Condition {
                type_: verdict.type_.to_string(),
                status: verdict.status,
                reason: verdict.reason,
                message: verdict.message,
                last_transition_time: now.clone(),
                observed_generation: generation,
            });
            true
        }
    }
}

/// Removes a condition type (e.g. `Stalled` once the problem is gone). Returns whether it was there.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    before != conditions.len()
}

/// Finds a condition by type.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The `Ready` summary: True only when every `required` condition is True for `generation`;
/// False with the first failing part's reason; Unknown while a part is unknown or was computed
/// for an older generation.
pub fn ready(conditions: &[Condition], required: &[&str], generation: Option<i64>) -> Verdict {
    let mut unknown = None;
    for type_ in required {
        match get(conditions, type_) {
            Some(c) if c.observed_generation != generation => {
                unknown.get_or_insert_with(|| {
                    format!("{type_} has not been checked for this generation yet")
                });
            }
            Some(c) if c.status == ConditionStatus::False => {
                return Verdict::failed(
                    types::READY,
                    c.reason.clone(),
                    format!("{type_}: {}", c.message),
                );
            }
            Some(c) if c.status == ConditionStatus::Unknown => {
                unknown.get_or_insert_with(|| format!("{type_}: {}", c.message));
            }
            Some(_) => {}
            None => {
                unknown.get_or_insert_with(|| format!("{type_} has not been checked yet"));
            }
        }
    }
    match unknown {
        Some(message) => Verdict::unknown(types::READY, reasons::RECONCILING, message),
        None => Verdict::ok(types::READY, "every part is provisioned"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(s: &str) -> Time {
        Time(s.parse().expect("timestamp"))
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let mut conds = Vec::new();
        let t0 = time("2026-01-01T00:00:00Z");
        let t1 = time("2026-01-01T00:05:00Z");
        assert!(set(
            &mut conds,
            Verdict::failed("IdentityReady", "Pending", "creating"),
            Some(1),
            &t0
        ));
        // same status, new message: changed, but the transition time stays
        assert!(set(
            &mut conds,
            Verdict::failed("IdentityReady", "UpstreamUnavailable", "down"),
            Some(1),
            &t1
        ));
        assert_eq!(conds[0].last_transition_time, t0);
        // identical verdict: nothing changes
        assert!(!set(
            &mut conds,
            Verdict::failed("IdentityReady", "UpstreamUnavailable", "down"),
            Some(1),
            &t1
        ));
        // flip: the time moves
        assert!(set(
            &mut conds,
            Verdict::ok("IdentityReady", "group exists"),
            Some(1),
            &t1
        ));
        assert_eq!(conds[0].last_transition_time, t1);
        assert_eq!(conds[0].status, ConditionStatus::True);
        // a new generation with the same verdict is a change (observedGeneration)
        assert!(set(
            &mut conds,
            Verdict::ok("IdentityReady", "group exists"),
            Some(2),
            &t1
        ));
        assert_eq!(conds[0].observed_generation, Some(2));
        assert_eq!(conds.len(), 1);
    }

    #[test]
    fn ready_needs_every_part_true_for_this_generation() {
        let t = time("2026-01-01T00:00:00Z");
        let mut conds = Vec::new();
        let required = ["IdentityReady", "FilesReady"];
        assert_eq!(
            ready(&conds, &required, Some(3)).status,
            ConditionStatus::Unknown
        );
        set(&mut conds, Verdict::ok("IdentityReady", "ok"), Some(3), &t);
        assert_eq!(
            ready(&conds, &required, Some(3)).status,
            ConditionStatus::Unknown,
            "FilesReady missing"
        );
        set(&mut conds, Verdict::ok("FilesReady", "ok"), Some(2), &t);
        assert_eq!(
            ready(&conds, &required, Some(3)).status,
            ConditionStatus::Unknown,
            "FilesReady is stale"
        );
        set(&mut conds, Verdict::ok("FilesReady", "ok"), Some(3), &t);
        assert_eq!(
            ready(&conds, &required, Some(3)).status,
            ConditionStatus::True
        );
        set(
            &mut conds,
            Verdict::failed("FilesReady", "QuotaRefused", "the space refused the quota"),
            Some(3),
            &t,
        );
        let verdict = ready(&conds, &required, Some(3));
        assert_eq!(verdict.status, ConditionStatus::False);
        assert_eq!(verdict.reason, "QuotaRefused");
        assert!(verdict.message.starts_with("FilesReady: "));
    }

    #[test]
    fn remove_drops_a_condition() {
        let t = time("2026-01-01T00:00:00Z");
        let mut conds = Vec::new();
        set(
            &mut conds,
            Verdict::failed(types::STALLED, "Forbidden", "403"),
            Some(1),
            &t,
        );
        assert!(remove(&mut conds, types::STALLED));
        assert!(!remove(&mut conds, types::STALLED));
        assert!(conds.is_empty());
    }
}
