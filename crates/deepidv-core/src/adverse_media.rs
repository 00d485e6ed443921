//! Adverse-media screening: the request that starts one, and the result of a ready job.
//!
//! Every enum here keeps values it does not know (`Other`), and every field the
//! server may leave out has a default, so a new value or a missing category never
//! fails a whole job. The raw JSON stays available on [`JobResult`](crate::JobResult).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $variant,)*
            /// A value this client does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The API's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(s) => s,
                }
            }

            /// Reads a value, case-insensitively; unknown ones become `Other`.
            pub fn parse(s: &str) -> Self {
                $(if s.eq_ignore_ascii_case($text) { return Self::$variant; })*
                Self::Other(s.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}

open_enum! {
    /// Overall risk of a screening.
    RiskLevel { /** Low. */ Low = "LOW", /** Medium. */ Medium = "MEDIUM", /** High. */ High = "HIGH", /** Critical. */ Critical = "CRITICAL" }
}

open_enum! {
    /// Severity of one finding.
    Severity { /** Low. */ Low = "LOW", /** Medium. */ Medium = "MEDIUM", /** High. */ High = "HIGH", /** Critical. */ Critical = "CRITICAL" }
}

open_enum! {
    /// An exposure category.
    Category {
        /** Financial crime. */ FinancialCrime = "financial_crime",
        /** Terrorism. */ Terrorism = "terrorism",
        /** Regulatory. */ Regulatory = "regulatory",
        /** Political. */ Political = "political",
        /** Organized crime. */ OrganizedCrime = "organized_crime",
        /** Violent crime. */ ViolentCrime = "violent_crime",
        /** Criminal or legal. */ CriminalLegal = "criminal_legal",
        /** Reputational. */ Reputational = "reputational",
        /** Court records. */ CourtRecords = "court_records",
    }
}

open_enum! {
    /// Where an article or a confirmation came from.
    Source { /** News. */ News = "news", /** Court records. */ CourtRecords = "court-records", /** A watchlist database. */ WatchlistDatabase = "watchlist-database" }
}

impl Category {
    /// The nine categories the server pre-seeds.
    pub const KNOWN: [Category; 9] = [
        Self::FinancialCrime,
        Self::Terrorism,
        Self::Regulatory,
        Self::Political,
        Self::OrganizedCrime,
        Self::ViolentCrime,
        Self::CriminalLegal,
        Self::Reputational,
        Self::CourtRecords,
    ];
}

/// The result of a ready adverse-media job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct AdverseMediaResult {
    /// Number of hits across all sources.
    pub total_hits: u64,
    /// Overall risk.
    #[serde(deserialize_with = "opt_enum")]
    pub risk_level: Option<RiskLevel>,
    /// Risk score, 0–100.
    pub risk_score: Option<f64>,
    /// A sentence or two for people.
    pub summary: String,
    /// Individual findings.
    #[serde(deserialize_with = "null_as_default")]
    pub findings: Vec<Finding>,
    /// Hits and articles per category (missing categories are simply absent).
    #[serde(deserialize_with = "null_as_default")]
    pub exposures_by_category: BTreeMap<Category, Exposure>,
}

impl AdverseMediaResult {
    /// The exposure for a category; a missing one reads as zero hits.
    pub fn exposure(&self, category: &Category) -> Exposure {
        self.exposures_by_category
            .get(category)
            .cloned()
            .unwrap_or_default()
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct Finding {
    /// Stable id of the finding.
    pub finding_id: String,
    /// How bad it is.
    #[serde(deserialize_with = "opt_enum")]
    pub severity: Option<Severity>,
    /// Usually one of the exposure categories.
    #[serde(deserialize_with = "opt_enum")]
    pub category: Option<Category>,
    /// Headline.
    pub title: String,
    /// Detail.
    pub detail: String,
    /// Where it was found.
    pub source_url: Option<String>,
    /// Name of the source.
    pub source_name: Option<String>,
    /// Date of the article, if known.
    pub article_date: Option<String>,
    /// Confidence, 0–1.
    pub confidence: Option<f64>,
    /// Sources that confirm it (`news`, `court-records`…).
    #[serde(deserialize_with = "null_as_default")]
    pub confirmed_by: Vec<Source>,
}

/// Hits and articles in one category.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Exposure {
    /// Number of hits.
    pub hits: u64,
    /// The articles.
    #[serde(deserialize_with = "null_as_default")]
    pub articles: Vec<Article>,
}

/// One article.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct Article {
    /// When, if known.
    pub timestamp: Option<String>,
    /// Headline.
    pub headline: String,
    /// Link, if any.
    pub source_link: Option<String>,
    /// Kind of source.
    #[serde(deserialize_with = "opt_enum")]
    pub source: Option<Source>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn opt_enum<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// The body of `POST /v1/screening/adverse-media`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdverseMediaRequest {
    first_name: String,
    last_name: String,
    email: String,
    date_of_birth: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<String>,
}

impl AdverseMediaRequest {
    /// Validates the fields: names 1–255 characters, an e-mail address, a real
    /// `YYYY-MM-DD` date, and an optional two-letter country (sent upper-case).
    pub fn new(
        first_name: &str,
        last_name: &str,
        email: &str,
        date_of_birth: &str,
        country: Option<&str>,
    ) -> Result<Self, Error> {
        let name = |field: &str, v: &str| -> Result<String, Error> {
            let v = v.trim();
            let n = v.chars().count();
            if n == 0 || n > 255 {
                return Err(Error::invalid_argument(format!(
                    "{field} must be 1–255 characters"
                )));
            }
            if v.chars().any(char::is_control) {
                return Err(Error::invalid_argument(format!(
                    "{field} contains control characters"
                )));
            }
            Ok(v.to_owned())
        };
        let first_name = name("first name", first_name)?;
        let last_name = name("last name", last_name)?;
        let email = email.trim();
        let valid_email = email.len() <= 254
            && email.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
            })
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid_email {
            return Err(Error::invalid_argument(format!(
                "email {:?} is not an e-mail address",
                crate::sanitize::terminal_safe(email, None)
            )));
        }
        let dob = date_of_birth.trim();
        let valid_dob = dob.len() == 10
            && dob.as_bytes()[4] == b'-'
            && dob.as_bytes()[7] == b'-'
            && dob.parse::<jiff::civil::Date>().is_ok();
        if !valid_dob {
            return Err(Error::invalid_argument(format!(
                "date of birth {:?} must be a real date written YYYY-MM-DD",
                crate::sanitize::terminal_safe(dob, None)
            )));
        }
        let country = match country.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(c.to_ascii_uppercase())
            }
            Some(c) => {
                return Err(Error::invalid_argument(format!(
                    "country {:?} must be a two-letter ISO 3166-1 code like US",
                    crate::sanitize::terminal_safe(c, None)
                )));
            }
        };
        Ok(Self {
            first_name,
            last_name,
            email: email.to_owned(),
            date_of_birth: dob.to_owned(),
            country,
        })
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The answer to a create request: `202` for a new job, `200` for a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreatedJob {
    /// The new (or replayed) job's id.
    pub job_id: String,
    /// Its status at the time of the answer (may be past `pending` on a replay).
    pub status: crate::JobStatus,
    /// The server's message.
    #[serde(default)]
    pub message: Option<String>,
    /// `true` when the server replayed an earlier job for the same idempotency key (`200`).
    #[serde(skip_deserializing, default)]
    pub replayed: bool,
}

impl CreatedJob {
    /// The job id, validated for use in the next request.
    pub fn id(&self) -> Result<crate::JobId, Error> {
        crate::JobId::new(self.job_id.clone())
    }
}

/// An `Idempotency-Key`: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A key given by the caller.
    pub fn new(key: impl Into<String>) -> Result<Self, Error> {
        let key = key.into();
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid_argument(
                "idempotency key must be 1–255 visible ASCII characters",
            ));
        }
        Ok(Self(key))
    }

    /// A fresh key (a UUID v4) from 16 random bytes the caller supplies.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        let mut b = bytes;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Self::from_uuid_bytes(b)
    }

    /// A key whose text is these 16 bytes in UUID form (`8-4-4-4-12` hex digits), as they are: for
    /// keys derived deterministically (a name-based UUID), where the caller sets the version bits.
    pub fn from_uuid_bytes(b: [u8; 16]) -> Self {
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        Self(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        ))
    }

    /// A fresh key from `fill`, a source of random bytes such as the OS CSPRNG
    /// (an adapter passes its CSPRNG's fill function); the core draws none itself. A failing source is an
    /// error of kind [`ErrorKind::Internal`](crate::ErrorKind::Internal): a key must
    /// never be guessable or repeated.
    pub fn generate<E: std::fmt::Display>(
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Self, crate::Error> {
        let mut bytes = [0u8; 16];
        fill(&mut bytes).map_err(|e| {
            crate::Error::new(
                crate::ErrorKind::Internal,
                format!("no randomness for an Idempotency-Key: {e}"),
            )
        })?;
        Ok(Self::from_random(bytes))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
