//! What goes on stdout: jobs as text for people, or as the API's JSON for scripts.
//!
//! Every piece of server-sent text passes through [`terminal_safe`] (control and bidi
//! characters escaped, the API key redacted); JSON output has the key redacted too.

use std::fmt::Write as _;

use deepidv_core::sanitize::terminal_safe;
use deepidv_core::{AdverseMediaResult, CreatedJob, Job, JobResult, JobState};

/// How to write text: which secret to redact, whether to colour.
#[derive(Debug, Clone)]
pub struct Style {
    /// The API key, never to be printed.
    pub secret: Option<String>,
    /// ANSI colours (stdout is a terminal and `NO_COLOR` is unset).
    pub color: bool,
}

impl Style {
    /// Made safe for a terminal, one line, key redacted.
    pub fn safe(&self, text: &str) -> String {
        terminal_safe(text, self.secret.as_deref())
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Removes the key from a whole document (JSON output). Keys shorter than 8
    /// characters are not real keys and are left alone rather than mangle the output.
    pub fn redact(&self, text: String) -> String {
        match self.secret.as_deref() {
            Some(k) if k.len() >= 8 && text.contains(k) => text.replace(k, "[REDACTED]"),
            _ => text,
        }
    }
}

/// The job as one JSON document, in the API's field names.
pub fn job_json(job: &Job, style: &Style) -> String {
    style.redact(job.to_json())
}

/// The create answer as one JSON document, in the API's field names.
pub fn created_json(created: &CreatedJob, style: &Style) -> String {
    let mut doc = serde_json::Map::new();
    doc.insert("jobId".into(), created.job_id.clone().into());
    doc.insert("status".into(), created.status.as_str().into());
    if let Some(m) = &created.message {
        doc.insert("message".into(), m.clone().into());
    }
    style.redact(serde_json::Value::Object(doc).to_string())
}

/// `job <id>: <status>`, coloured by status.
pub fn status_line(job: &Job, style: &Style) -> String {
    let status = style.safe(job.status_str());
    let painted = match job.state {
        JobState::Ready(_) => style.paint("1;32", &status),
        JobState::Failed(_) => style.paint("1;31", &status),
        _ => style.paint("1;33", &status),
    };
    format!("job {}: {painted}", style.safe(&job.job_id))
}

/// A status line with a short summary of a terminal state, for `watch`.
pub fn watch_line(job: &Job, style: &Style) -> String {
    let mut line = status_line(job, style);
    match &job.state {
        JobState::Ready(result) => {
            if let Some(am) = adverse_media(result) {
                let _ = write!(
                    line,
                    " (risk {}, score {}, {} hits)",
                    am.risk_level
                        .as_ref()
                        .map_or_else(|| "unknown".to_owned(), |r| style.safe(r.as_str())),
                    score(&am),
                    am.total_hits
                );
            }
        }
        JobState::Failed(reason) => {
            let _ = write!(line, ": {}", style.safe(reason));
        }
        _ => {}
    }
    line
}

/// The job for people: a status line, then the result summarized or the failure reason.
pub fn job_text(job: &Job, style: &Style) -> String {
    let mut out = status_line(job, style);
    out.push('\n');
    match &job.state {
        JobState::Ready(result) => match adverse_media(result) {
            Some(am) => adverse_media_text(&am, style, &mut out),
            None => {
                let _ = writeln!(out, "result: {}", style.safe(result.raw_json()));
            }
        },
        JobState::Failed(reason) => {
            let _ = writeln!(out, "reason: {}", style.safe(reason));
        }
        _ => {}
    }
    out
}

/// The create answer for people.
pub fn created_text(created: &CreatedJob, style: &Style) -> String {
    let mut out = format!(
        "job {}: {}\n",
        style.safe(&created.job_id),
        style.paint("1;33", &style.safe(created.status.as_str()))
    );
    if created.replayed {
        out.push_str("note: replayed the screening already started with this idempotency key\n");
    }
    out
}

/// The result read as an adverse-media result, if it looks like one (any object
/// would parse, every field having a default, so look for its fields first).
fn adverse_media(result: &JobResult) -> Option<AdverseMediaResult> {
    let value = result.to_value();
    let obj = value.as_object()?;
    ["riskLevel", "riskScore", "totalHits", "findings"]
        .iter()
        .any(|k| obj.contains_key(*k))
        .then(|| result.adverse_media())
        .flatten()
}

fn score(am: &AdverseMediaResult) -> String {
    match am.risk_score {
        Some(s) if s.fract() == 0.0 && s.abs() < 1e15 => format!("{}", s as i64),
        Some(s) => format!("{s}"),
        None => "unknown".to_owned(),
    }
}

fn adverse_media_text(am: &AdverseMediaResult, style: &Style, out: &mut String) {
    let level = am
        .risk_level
        .as_ref()
        .map_or_else(|| "unknown".to_owned(), |r| style.safe(r.as_str()));
    let code = match level.as_str() {
        "LOW" => "1;32",
        "MEDIUM" => "1;33",
        _ => "1;31",
    };
    let _ = writeln!(out, "risk level: {}", style.paint(code, &level));
    let _ = writeln!(out, "risk score: {}", score(am));
    let _ = writeln!(out, "total hits: {}", am.total_hits);
    if !am.summary.trim().is_empty() {
        let _ = writeln!(out, "summary: {}", style.safe(&am.summary));
    }
    let _ = writeln!(out, "findings: {}", am.findings.len());
    for f in &am.findings {
        let severity = f
            .severity
            .as_ref()
            .map_or_else(|| "?".to_owned(), |s| style.safe(s.as_str()));
        let category = f
            .category
            .as_ref()
            .map_or_else(|| "uncategorized".to_owned(), |c| style.safe(c.as_str()));
        let source = f
            .source_name
            .as_deref()
            .or(f.source_url.as_deref())
            .map(|s| format!(" ({})", style.safe(s)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  - [{severity}] {category}: {}{source}",
            style.safe(&f.title)
        );
    }
    let exposed: Vec<_> = am
        .exposures_by_category
        .iter()
        .filter(|(_, e)| e.hits > 0)
        .collect();
    if !exposed.is_empty() {
        out.push_str("exposures:\n");
        for (category, e) in exposed {
            let _ = writeln!(
                out,
                "  {}: {} hit{}",
                style.safe(category.as_str()),
                e.hits,
                if e.hits == 1 { "" } else { "s" }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Style {
        Style {
            secret: Some("sk_test_topsecret".into()),
            color: false,
        }
    }

    #[test]
    fn ready_adverse_media_summarized() {
        let job = Job::from_json(br#"{"jobId":"job_1","status":"ready","createdAt":1717593600000,
            "result":{"totalHits":2,"riskLevel":"HIGH","riskScore":63,"summary":"two\nhits \u001b[2J",
            "findings":[{"findingId":"f1","severity":"HIGH","category":"financial_crime","title":"Fraud \u202e case","sourceName":"Daily"}],
            "exposuresByCategory":{"financial_crime":{"hits":2,"articles":[]},"terrorism":{"hits":0,"articles":[]}}}}"#).unwrap();
        let text = job_text(&job, &plain());
        assert!(text.starts_with("job job_1: ready\n"), "{text}");
        assert!(text.contains("risk level: HIGH\n"));
        assert!(text.contains("risk score: 63\n"));
        assert!(text.contains("total hits: 2\n"));
        assert!(text.contains("summary: two hits \\u{1b}[2J\n"), "{text}");
        assert!(
            text.contains("  - [HIGH] financial_crime: Fraud \\u{202e} case (Daily)\n"),
            "{text}"
        );
        assert!(text.contains("  financial_crime: 2 hits\n"));
        assert!(!text.contains("terrorism"));
        assert!(!text.contains('\u{1b}'));
        assert_eq!(
            watch_line(&job, &plain()),
            "job job_1: ready (risk HIGH, score 63, 2 hits)"
        );
    }

    #[test]
    fn failed_and_other_results() {
        let job = Job::from_json(
            br#"{"jobId":"job_2","status":"failed","createdAt":1,"error":"boom sk_test_topsecret"}"#,
        )
        .unwrap();
        let text = job_text(&job, &plain());
        assert_eq!(text, "job job_2: failed\nreason: boom [REDACTED]\n");
        let job =
            Job::from_json(br#"{"jobId":"job_3","status":"ready","createdAt":1,"result":{"x":1}}"#)
                .unwrap();
        assert_eq!(
            job_text(&job, &plain()),
            "job job_3: ready\nresult: {\"x\":1}\n"
        );
        let json = job_json(
            &Job::from_json(
                br#"{"jobId":"job_4","status":"failed","createdAt":1,"error":"sk_test_topsecret"}"#,
            )
            .unwrap(),
            &plain(),
        );
        assert!(!json.contains("topsecret"));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["jobId"], "job_4");
    }

    #[test]
    fn colour_only_when_asked() {
        let job = Job::from_json(br#"{"jobId":"j","status":"pending","createdAt":1}"#).unwrap();
        let colored = Style {
            secret: None,
            color: true,
        };
        assert!(status_line(&job, &colored).contains("\x1b[1;33mpending\x1b[0m"));
        assert_eq!(status_line(&job, &plain()), "job j: pending");
    }
}
