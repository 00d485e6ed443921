//! Counters of what the server did with creation requests, so a test can prove "no duplicates".

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// What the server did with `POST /v1/screening/adverse-media` requests, as counted by the server
/// ([`crate::MockServer::stats`], admin route `GET /__mock/stats`).
///
/// JSON form: `{"totalCreations", "replays", "rateLimited", "idempotencyConflicts", "maxCreationsPerKey",
/// "maxCreationsPerPerson", "byIdempotencyKey": {key: n}, "byPerson": {personKey: n}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// New jobs created by the API (answers `202`).
    pub total_creations: u64,
    /// Idempotent replays (answers `200`).
    pub replays: u64,
    /// Creations refused by the rate limit (answers `429`).
    pub rate_limited: u64,
    /// `Idempotency-Key`s reused with a different body (answers `422`).
    pub idempotency_conflicts: u64,
    /// The most new jobs created under one `Idempotency-Key` (more than 1 only after the first job expired).
    pub max_creations_per_key: u64,
    /// The most new jobs created for one person.
    pub max_creations_per_person: u64,
    /// New jobs per `Idempotency-Key` (creations without a key are not listed).
    pub by_idempotency_key: BTreeMap<String, u64>,
    /// New jobs per person: lower-cased email, `firstName`, `lastName` and `dateOfBirth` joined with `|`.
    pub by_person: BTreeMap<String, u64>,
}

/// The running counters (O(1) per request; copied out on demand).
#[derive(Default)]
pub(crate) struct StatsCounter {
    total_creations: u64,
    replays: u64,
    rate_limited: u64,
    idempotency_conflicts: u64,
    max_per_key: u64,
    max_per_person: u64,
    by_key: HashMap<String, u64>,
    by_person: HashMap<String, u64>,
}

impl StatsCounter {
    pub(crate) fn creation(&mut self, idempotency_key: Option<&str>, person: String) {
        self.total_creations += 1;
        if let Some(key) = idempotency_key {
            let n = bump(&mut self.by_key, key);
            self.max_per_key = self.max_per_key.max(n);
        }
        let n = bump(&mut self.by_person, &person);
        self.max_per_person = self.max_per_person.max(n);
    }

    pub(crate) fn replay(&mut self) {
        self.replays += 1;
    }

    pub(crate) fn rate_limited(&mut self) {
        self.rate_limited += 1;
    }

    pub(crate) fn idempotency_conflict(&mut self) {
        self.idempotency_conflicts += 1;
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let sorted = |m: &HashMap<String, u64>| m.iter().map(|(k, v)| (k.clone(), *v)).collect();
        Stats {
            total_creations: self.total_creations,
            replays: self.replays,
            rate_limited: self.rate_limited,
            idempotency_conflicts: self.idempotency_conflicts,
            max_creations_per_key: self.max_per_key,
            max_creations_per_person: self.max_per_person,
            by_idempotency_key: sorted(&self.by_key),
            by_person: sorted(&self.by_person),
        }
    }
}

fn bump(map: &mut HashMap<String, u64>, key: &str) -> u64 {
    match map.get_mut(key) {
        Some(n) => {
            *n += 1;
            *n
        }
        None => {
            map.insert(key.to_owned(), 1);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_maxima() {
        let mut c = StatsCounter::default();
        c.creation(Some("k1"), "a@x|A|B|2000-01-01".into());
        c.creation(Some("k1"), "a@x|A|B|2000-01-01".into());
        c.creation(None, "b@x|C|D|2000-01-01".into());
        c.replay();
        c.rate_limited();
        c.idempotency_conflict();
        let s = c.snapshot();
        assert_eq!(s.total_creations, 3);
        assert_eq!(s.max_creations_per_key, 2);
        assert_eq!(s.max_creations_per_person, 2);
        assert_eq!(s.by_idempotency_key.len(), 1);
        assert_eq!(s.by_person.len(), 2);
        assert_eq!(
            (s.replays, s.rate_limited, s.idempotency_conflicts),
            (1, 1, 1)
        );
        let json = serde_json::to_value(&s).unwrap();
        for field in [
            "totalCreations",
            "replays",
            "rateLimited",
            "idempotencyConflicts",
            "maxCreationsPerKey",
            "maxCreationsPerPerson",
            "byIdempotencyKey",
            "byPerson",
        ] {
            assert!(json.get(field).is_some(), "{field}");
        }
    }
}
