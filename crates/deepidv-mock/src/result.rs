//! Deterministic adverse-media results derived from the screening input.

use serde_json::{Value, json};

/// The person a screening job is about (already validated).
#[derive(Clone, Debug)]
pub(crate) struct Subject {
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) email: String,
    pub(crate) date_of_birth: String,
    pub(crate) country: Option<String>,
}

/// What a job ends as.
#[derive(Clone, Debug)]
pub(crate) enum Ending {
    /// `ready`, with this `result` JSON.
    Ready(Box<serde_json::value::RawValue>),
    /// `failed`, with this `error`.
    Failed(String),
}

/// The nine exposure categories, in the order the server seeds them.
pub(crate) const CATEGORIES: [&str; 9] = [
    "financial_crime",
    "terrorism",
    "regulatory",
    "political",
    "organized_crime",
    "violent_crime",
    "criminal_legal",
    "reputational",
    "court_records",
];

/// 64-bit FNV-1a: stable across Rust versions and platforms.
pub(crate) fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// SplitMix64: a tiny deterministic generator.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // `below` is < len, and every list passed here is non-empty.
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        &items[i.min(items.len().saturating_sub(1))]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

impl Subject {
    fn seed(&self) -> u64 {
        let first = self.first_name.trim().to_lowercase();
        let last = self.last_name.trim().to_lowercase();
        let email = self.email.trim().to_lowercase();
        let country = self.country.as_deref().unwrap_or("").to_uppercase();
        fnv1a(&[&first, &last, &email, self.date_of_birth.trim(), &country])
    }

    /// A plausible subject for a job created through the admin route, derived from its id.
    pub(crate) fn from_job_id(id: &str) -> Subject {
        const FIRST: [&str; 8] = [
            "Alex", "Maria", "Wei", "Fatima", "John", "Priya", "Lucas", "Ana",
        ];
        const LAST: [&str; 8] = [
            "Morgan", "Silva", "Chen", "Haddad", "Smith", "Patel", "Dubois", "Novak",
        ];
        let mut rng = Rng::new(fnv1a(&[id]));
        let first = *rng.pick(&FIRST);
        let last = *rng.pick(&LAST);
        Subject {
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            email: format!(
                "{}.{}@example.com",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            date_of_birth: format!(
                "19{:02}-{:02}-{:02}",
                rng.range(50, 99),
                rng.range(1, 12),
                rng.range(1, 28)
            ),
            country: None,
        }
    }

    /// How the job ends: magic last name `Fail` fails it, anything else is ready with a result.
    pub(crate) fn ending(&self) -> Ending {
        if self.last_name.trim().eq_ignore_ascii_case("fail") {
            const ERRORS: [&str; 3] = [
                "Screening provider timed out after 3 attempts",
                "Upstream media index unavailable; please retry the screening later",
                "Subject could not be screened: data source returned an internal error",
            ];
            let mut rng = Rng::new(self.seed());
            return Ending::Failed((*rng.pick(&ERRORS)).to_owned());
        }
        let text = self.result().to_string();
        match serde_json::value::RawValue::from_string(text) {
            Ok(raw) => Ending::Ready(raw),
            // Unreachable: a serialized `Value` is valid JSON.
            Err(e) => Ending::Failed(format!("simulator could not build the result: {e}")),
        }
    }

    /// The adverse-media `result` object.
    pub(crate) fn result(&self) -> Value {
        let mut rng = Rng::new(self.seed());
        let name = format!("{} {}", self.first_name.trim(), self.last_name.trim());
        let clean = self.last_name.trim().eq_ignore_ascii_case("clean");
        let many = self.first_name.trim().eq_ignore_ascii_case("many");

        let score = if clean {
            rng.range(0, 9)
        } else if many {
            rng.range(85, 100)
        } else {
            rng.range(0, 100)
        };
        let level = risk_level(score);
        let count = if clean {
            0
        } else if many {
            50
        } else {
            match level {
                "LOW" => rng.range(0, 1),
                "MEDIUM" => rng.range(1, 3),
                "HIGH" => rng.range(3, 6),
                _ => rng.range(5, 10),
            }
        };

        let mut exposures = serde_json::Map::new();
        let mut per_category: Vec<(u64, Vec<Value>)> = vec![(0, Vec::new()); CATEGORIES.len()];
        let mut findings = Vec::new();
        let mut top_severity = 0usize;
        for i in 0..count {
            let severity_idx = match level {
                "LOW" | "MEDIUM" => 0,
                "HIGH" => usize::from(rng.chance(60)),
                // at least one CRITICAL finding for a CRITICAL subject
                _ if i == 0 => 2,
                _ => usize::try_from(rng.below(3)).unwrap_or(0),
            };
            top_severity = top_severity.max(severity_idx);
            let severity = ["MEDIUM", "HIGH", "CRITICAL"][severity_idx];
            let cat_idx =
                usize::try_from(rng.below(CATEGORIES.len() as u64)).unwrap_or(0) % CATEGORIES.len();
            let category = CATEGORIES[cat_idx];
            let source = rng.pick(&SOURCES);
            let (title, detail) = texts(&mut rng, category, &name, source.name);
            let date = if rng.chance(85) {
                Some(format!(
                    "{}-{:02}-{:02}",
                    rng.range(2008, 2025),
                    rng.range(1, 12),
                    rng.range(1, 28)
                ))
            } else {
                None
            };
            let slug: String = title
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
                .split('-')
                .filter(|s| !s.is_empty())
                .take(8)
                .collect::<Vec<_>>()
                .join("-");
            let url = format!(
                "https://{}/{}/{}-{}",
                source.domain,
                source.section,
                slug,
                rng.range(10_000, 99_999)
            );
            let confidence = rng.range(55, 99) as f64 / 100.0;
            let mut confirmed_by = vec![source.kind];
            for extra in ["news", "court-records", "watchlist-database"] {
                if extra != source.kind && rng.chance(30) {
                    confirmed_by.push(extra);
                }
            }
            findings.push(json!({
                "findingId": format!("fnd_{:016x}", rng.next_u64()),
                "severity": severity,
                "category": category,
                "title": title,
                "detail": detail,
                "sourceUrl": url,
                "sourceName": source.name,
                "articleDate": date,
                "confidence": confidence,
                "confirmedBy": confirmed_by,
            }));
            let slot = &mut per_category[cat_idx];
            slot.0 += 1;
            slot.1.push(json!({
                "timestamp": date.as_ref().map(|d| format!("{d}T00:00:00.000Z")),
                "headline": title,
                "sourceLink": url,
                "source": source.kind,
            }));
        }
        let mut categories_hit = 0;
        for (cat, (hits, articles)) in CATEGORIES.iter().zip(per_category) {
            if hits > 0 {
                categories_hit += 1;
            }
            exposures.insert(
                (*cat).to_owned(),
                json!({ "hits": hits, "articles": articles }),
            );
        }
        let summary = if count == 0 {
            format!("No adverse media found for {name}. Risk level {level} (score {score}).")
        } else {
            format!(
                "Found {count} adverse-media hit{} for {name} across {categories_hit} categor{}; highest severity \
                 {}. Risk level {level} (score {score}).",
                if count == 1 { "" } else { "s" },
                if categories_hit == 1 { "y" } else { "ies" },
                ["MEDIUM", "HIGH", "CRITICAL"][top_severity],
            )
        };
        json!({
            "totalHits": count,
            "riskLevel": level,
            "riskScore": score,
            "summary": summary,
            "findings": findings,
            "exposuresByCategory": exposures,
        })
    }
}

/// The risk level a score maps to: 0–24 LOW, 25–49 MEDIUM, 50–74 HIGH, 75–100 CRITICAL.
pub(crate) fn risk_level(score: u64) -> &'static str {
    match score {
        0..=24 => "LOW",
        25..=49 => "MEDIUM",
        50..=74 => "HIGH",
        _ => "CRITICAL",
    }
}

struct Source {
    name: &'static str,
    domain: &'static str,
    section: &'static str,
    kind: &'static str,
}

const SOURCES: [Source; 6] = [
    Source {
        name: "The Financial Ledger",
        domain: "ledger.example.com",
        section: "news",
        kind: "news",
    },
    Source {
        name: "Global Wire Service",
        domain: "globalwire.example.org",
        section: "world",
        kind: "news",
    },
    Source {
        name: "Metro Daily",
        domain: "metrodaily.example.net",
        section: "local",
        kind: "news",
    },
    Source {
        name: "District Court Records",
        domain: "courts.example.gov",
        section: "cases",
        kind: "court-records",
    },
    Source {
        name: "Regulatory Enforcement Digest",
        domain: "enforcement.example.org",
        section: "actions",
        kind: "news",
    },
    Source {
        name: "Consolidated Watchlist",
        domain: "watchlist.example.org",
        section: "entries",
        kind: "watchlist-database",
    },
];

fn texts(rng: &mut Rng, category: &str, name: &str, source: &str) -> (String, String) {
    let what: &[&str] = match category {
        "financial_crime" => &[
            "money laundering",
            "wire fraud",
            "tax evasion",
            "embezzlement",
        ],
        "terrorism" => &[
            "financing of a proscribed organization",
            "material support to an extremist group",
        ],
        "regulatory" => &[
            "a regulatory fine for reporting failures",
            "a trading ban",
            "a licence revocation",
        ],
        "political" => &[
            "undisclosed political donations",
            "a public-procurement conflict of interest",
        ],
        "organized_crime" => &[
            "links to an organized crime network",
            "smuggling operations",
        ],
        "violent_crime" => &["an assault charge", "a violent robbery investigation"],
        "criminal_legal" => &[
            "a criminal indictment",
            "a conviction for forgery",
            "an arrest warrant",
        ],
        "reputational" => &[
            "allegations of workplace misconduct",
            "a consumer-protection scandal",
        ],
        _ => &[
            "a civil lawsuit over unpaid debts",
            "a bankruptcy proceeding",
            "a contract-fraud claim",
        ],
    };
    let topic = *rng.pick(what);
    let title = match rng.below(3) {
        0 => format!("{name} named in report on {topic}"),
        1 => format!("Investigation into {topic} mentions {name}"),
        _ => format!("{name} linked to {topic}"),
    };
    let detail = format!(
        "{source} reports that {name} was mentioned in connection with {topic}. The match is based on the full \
         name{}; review the source before acting.",
        if rng.chance(50) {
            " and date of birth"
        } else {
            ""
        },
    );
    (title, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(first: &str, last: &str) -> Subject {
        Subject {
            first_name: first.into(),
            last_name: last.into(),
            email: "a@b.co".into(),
            date_of_birth: "1990-01-02".into(),
            country: Some("CA".into()),
        }
    }

    #[test]
    fn deterministic_and_consistent() {
        for (first, last) in [
            ("Jane", "Doe"),
            ("John", "Smith"),
            ("Many", "X"),
            ("A", "Clean"),
        ] {
            let a = subject(first, last).result();
            let b = subject(first, last).result();
            assert_eq!(a, b);
            let score = a["riskScore"].as_u64().unwrap();
            assert!(score <= 100);
            assert_eq!(a["riskLevel"], risk_level(score));
            let findings = a["findings"].as_array().unwrap();
            assert_eq!(a["totalHits"].as_u64().unwrap(), findings.len() as u64);
            let exposures = a["exposuresByCategory"].as_object().unwrap();
            assert_eq!(exposures.len(), 9);
            let hits: u64 = exposures
                .values()
                .map(|v| v["hits"].as_u64().unwrap())
                .sum();
            assert_eq!(hits, findings.len() as u64);
        }
        assert_eq!(
            subject("Many", "X").result()["findings"]
                .as_array()
                .unwrap()
                .len(),
            50
        );
        assert_eq!(subject("A", "clean").result()["totalHits"], 0);
        assert_eq!(subject("A", "clean").result()["riskLevel"], "LOW");
        assert!(matches!(subject("A", "FAIL").ending(), Ending::Failed(_)));
    }
}
