//! Limits a caller cannot exceed (HAM-CONTRACT P7), with defaults a large deployment never
//! hits, and the count of each caller's open streams.
//!
//! ```toml
//! [limits]
//! request_bytes = 4194304          # largest request message (RESOURCE_EXHAUSTED / ENOMEM)
//! entities_per_node = 100000       # entities in one node's context
//! conditions_per_entity = 1024
//! actions_per_condition = 1024     # actions and action-fails of one condition
//! streams_per_caller = 1024        # open streams (heartbeat streams, pulse channels) per caller,
//!                                  # and HTTP/2 streams per connection
//! ```
//!
//! The counts that depend on the state are checked at the API edge, against the local replica,
//! rather than in the model's apply: they are per-node configuration, and a replicated check
//! with settings that differ between nodes would make the nodes disagree. A write raced past
//! the check by a concurrent one overshoots by at most the writes in flight.

use super::caller::Principal;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub request_bytes: usize,
    pub entities_per_node: usize,
    pub conditions_per_entity: usize,
    pub actions_per_condition: usize,
    pub streams_per_caller: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            request_bytes: 4 << 20,
            entities_per_node: 100_000,
            conditions_per_entity: 1024,
            actions_per_condition: 1024,
            streams_per_caller: 1024,
        }
    }
}

impl Limits {
    /// Refuses limits that would make every call fail.
    pub fn validate(&self) -> anyhow::Result<()> {
        let fields = [
            ("request_bytes", self.request_bytes),
            ("entities_per_node", self.entities_per_node),
            ("conditions_per_entity", self.conditions_per_entity),
            ("actions_per_condition", self.actions_per_condition),
            ("streams_per_caller", self.streams_per_caller),
        ];
        for (name, v) in fields {
            if v == 0 {
                anyhow::bail!("limits.{name} must be at least 1");
            }
        }
        if u32::try_from(self.streams_per_caller).is_err() {
            anyhow::bail!("limits.streams_per_caller is too large");
        }
        Ok(())
    }
}

/// Open streams per caller. A caller's count is kept while one of its streams is open.
#[derive(Debug, Clone, Default)]
pub struct Streams {
    open: Arc<Mutex<HashMap<Principal, usize>>>,
}

/// One open stream; closing it (dropping this) gives its place back.
#[derive(Debug)]
pub struct StreamSlot {
    open: Arc<Mutex<HashMap<Principal, usize>>>,
    who: Principal,
}

impl Streams {
    /// A place for one more stream of `who`, unless it has `max` open already.
    pub fn open(&self, who: &Principal, max: usize) -> Option<StreamSlot> {
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = g.entry(who.clone()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            open: self.open.clone(),
            who: who.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = g.get_mut(&self.who) {
            *n -= 1;
            if *n == 0 {
                g.remove(&self.who);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p7_streams_are_counted_per_caller() {
        let s = Streams::default();
        let a = Principal::Local {
            uid: 1000,
            gid: 1000,
            pid: 7,
        };
        let b = Principal::Anonymous;
        let one = s.open(&a, 2).unwrap();
        let two = s.open(&a, 2).unwrap();
        assert!(s.open(&a, 2).is_none(), "a is at its limit");
        let other = s.open(&b, 2);
        assert!(other.is_some(), "b is not disturbed");
        drop(one);
        let three = s.open(&a, 2);
        assert!(three.is_some(), "a closed one");
        drop((two, three, other));
        assert!(s.open.lock().unwrap().is_empty());
    }

    #[test]
    fn p7_limits_parse_with_defaults_and_zero_is_refused() {
        let l: Limits = toml::from_str("entities_per_node = 3").unwrap();
        assert_eq!(l.entities_per_node, 3);
        assert_eq!(l.request_bytes, 4 << 20);
        l.validate().unwrap();
        let zero: Limits = toml::from_str("conditions_per_entity = 0").unwrap();
        assert!(zero.validate().is_err());
        assert!(toml::from_str::<Limits>("surprise = 1").is_err());
    }
}
