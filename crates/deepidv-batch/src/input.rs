//! Reading the people of a batch: CSV with a header row, or JSON lines, streamed
//! row by row (never loaded whole), each row validated with the same rules as one
//! screening ([`AdverseMediaRequest::new`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use deepidv_core::AdverseMediaRequest;
use sha2::{Digest, Sha256};

use crate::Error;

/// The columns (CSV) or fields (JSON lines) of a person.
pub const COLUMNS: [&str; 6] = [
    "firstName",
    "lastName",
    "email",
    "dateOfBirth",
    "country",
    "ref",
];
const REQUIRED: [&str; 4] = ["firstName", "lastName", "email", "dateOfBirth"];
/// The longest `ref` accepted, in characters.
pub const MAX_REF_CHARS: usize = 255;

/// How an input file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row naming the columns.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

/// One person of the input, validated: the fields as given (trimmed), where the
/// row was, and the caller's own `ref` if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The line of the input the person was read from (1 is the first line; in
    /// CSV, line 1 is the header). Unique within a batch.
    pub line: u64,
    /// The caller's own id, echoed in the export.
    pub reference: Option<String>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// E-mail address.
    pub email: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Optional two-letter country code.
    pub country: Option<String>,
}

impl Person {
    /// The request that screens this person (the same validation as one screening).
    pub fn request(&self) -> Result<AdverseMediaRequest, deepidv_core::Error> {
        AdverseMediaRequest::new(
            &self.first_name,
            &self.last_name,
            &self.email,
            &self.date_of_birth,
            self.country.as_deref(),
        )
    }
}

/// A row that cannot be screened, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The line of the input.
    pub line: u64,
    /// The row's `ref`, when it could be read.
    pub reference: Option<String>,
    /// Why, in one line.
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// An input file.
#[derive(Debug, Clone)]
pub struct Input {
    path: PathBuf,
    format: Format,
}

impl Input {
    /// Opens `path` (to check it is readable) and decides its format: `.csv` is CSV;
    /// `.jsonl`, `.ndjson` and `.json` are JSON lines; otherwise a file whose first
    /// non-blank byte is `{` is JSON lines, and anything else CSV.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let mut file = File::open(&path).map_err(|e| Error::input(&path, e))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let format = match ext.as_deref() {
            Some("csv") => Format::Csv,
            Some("jsonl" | "ndjson" | "json") => Format::JsonLines,
            _ => {
                let mut head = [0u8; 512];
                let n = file.read(&mut head).map_err(|e| Error::input(&path, e))?;
                match head[..n].iter().find(|b| !b.is_ascii_whitespace()) {
                    Some(b'{') => Format::JsonLines,
                    _ => Format::Csv,
                }
            }
        };
        Ok(Self { path, format })
    }

    /// [`Input::open`] with the format given.
    pub fn with_format(path: impl AsRef<Path>, format: Format) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        File::open(&path).map_err(|e| Error::input(&path, e))?;
        Ok(Self { path, format })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// A SHA-256 of the file's bytes (hex), read in chunks: what ties a state to
    /// its input, so resuming with another file is refused.
    pub fn fingerprint(&self) -> Result<String, Error> {
        let mut file = File::open(&self.path).map_err(|e| Error::input(&self.path, e))?;
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| Error::input(&self.path, e))?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
        }
        Ok(hex(&hash.finalize()))
    }

    /// The rows, one at a time: each a valid [`Person`] or a [`RowError`]. A
    /// missing required CSV column is an error before any row.
    pub fn rows(&self) -> Result<Rows, Error> {
        let file = File::open(&self.path).map_err(|e| Error::input(&self.path, e))?;
        let inner = match self.format {
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(false)
                    .from_reader(BufReader::with_capacity(64 * 1024, file));
                let headers = reader.headers().map_err(|e| {
                    Error::InvalidInput(format!(
                        "{}: cannot read the CSV header row: {}",
                        self.path.display(),
                        one_line(&e.to_string())
                    ))
                })?;
                let columns = columns(headers.iter(), &self.path)?;
                RowsInner::Csv {
                    records: reader.into_records(),
                    columns,
                }
            }
            Format::JsonLines => RowsInner::Json {
                lines: BufReader::with_capacity(64 * 1024, file),
                line: 0,
                buf: String::new(),
            },
        };
        Ok(Rows {
            inner,
            refs: HashMap::new(),
        })
    }

    /// Reads every row once, keeping only the bad ones: what a run checks before
    /// anything is sent.
    pub fn validate(&self) -> Result<Validation, Error> {
        let mut v = Validation::default();
        for row in self.rows()? {
            match row {
                Ok(_) => v.valid += 1,
                Err(e) => v.invalid.push(e),
            }
        }
        Ok(v)
    }
}

/// What [`Input::validate`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    /// Rows that can be screened.
    pub valid: u64,
    /// Rows that cannot, in input order.
    pub invalid: Vec<RowError>,
}

/// Maps header names onto the known columns (case-insensitive, trimmed); a missing
/// required column is an error naming it.
fn columns<'a>(
    headers: impl Iterator<Item = &'a str>,
    path: &Path,
) -> Result<[Option<usize>; 6], Error> {
    let mut idx = [None; 6];
    let mut seen = Vec::new();
    for (i, h) in headers.enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}');
        seen.push(h.to_owned());
        if let Some(c) = COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(h)) {
            idx[c].get_or_insert(i);
        }
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .enumerate()
        .filter(|(i, _)| idx[*i].is_none())
        .map(|(_, c)| *c)
        .collect();
    if !missing.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: missing column{} {} (the header row has: {}; expected {})",
            path.display(),
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            one_line(&seen.join(", ")),
            COLUMNS.join(", ")
        )));
    }
    Ok(idx)
}

/// The rows of an [`Input`]; see [`Input::rows`].
pub struct Rows {
    inner: RowsInner,
    /// `ref` → the line it was first seen on (duplicates are row errors).
    refs: HashMap<String, u64>,
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows").finish_non_exhaustive()
    }
}

enum RowsInner {
    Csv {
        records: csv::StringRecordsIntoIter<BufReader<File>>,
        columns: [Option<usize>; 6],
    },
    Json {
        lines: BufReader<File>,
        line: u64,
        buf: String,
    },
    /// After a read error.
    Done,
}

/// The raw fields of one row, before validation.
#[derive(Default)]
struct Raw {
    fields: [Option<String>; 6],
}

impl Iterator for Rows {
    type Item = Result<Person, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line, raw) = match &mut self.inner {
            RowsInner::Done => return None,
            RowsInner::Csv { records, columns } => {
                let record = records.next()?;
                match record {
                    Ok(r) => {
                        let line = r.position().map_or(0, |p| p.line());
                        let mut raw = Raw::default();
                        for (c, i) in columns.iter().enumerate() {
                            raw.fields[c] = i.and_then(|i| r.get(i)).map(str::to_owned);
                        }
                        (line, raw)
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        let reason = match e.kind() {
                            csv::ErrorKind::UnequalLengths {
                                expected_len, len, ..
                            } => format!(
                                "malformed CSV: {len} fields where the header row has {expected_len}"
                            ),
                            csv::ErrorKind::Utf8 { .. } => "malformed CSV: not UTF-8".to_owned(),
                            _ => format!("malformed CSV: {}", one_line(&e.to_string())),
                        };
                        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                            // A read error ends the input: report it once, then stop.
                            self.inner = RowsInner::Done;
                        }
                        return Some(Err(RowError {
                            line,
                            reference: None,
                            reason,
                        }));
                    }
                }
            }
            RowsInner::Json { lines, line, buf } => loop {
                buf.clear();
                *line += 1;
                match lines.read_line(buf) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => {
                        let at = *line;
                        // Invalid UTF-8 on this line: skip to its end and report it.
                        if e.kind() == std::io::ErrorKind::InvalidData {
                            let mut skip = Vec::new();
                            let _ = lines.read_until(b'\n', &mut skip);
                            return Some(Err(RowError {
                                line: at,
                                reference: None,
                                reason: "not UTF-8".to_owned(),
                            }));
                        }
                        return Some(Err(RowError {
                            line: at,
                            reference: None,
                            reason: format!("cannot read: {}", one_line(&e.to_string())),
                        }));
                    }
                }
                if buf.trim().is_empty() {
                    continue;
                }
                let at = *line;
                match json_row(buf) {
                    Ok(raw) => break (at, raw),
                    Err(reason) => {
                        return Some(Err(RowError {
                            line: at,
                            reference: None,
                            reason,
                        }));
                    }
                }
            },
        };
        Some(self.check(line, raw))
    }
}

fn json_row(text: &str) -> Result<Raw, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("malformed JSON: {}", one_line(&e.to_string())))?;
    let serde_json::Value::Object(map) = value else {
        return Err("malformed JSON: a row must be an object".to_owned());
    };
    let mut raw = Raw::default();
    for (i, name) in COLUMNS.iter().enumerate() {
        raw.fields[i] = match map.get(*name) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            // A numeric ref (a customer number) is fine as text.
            Some(serde_json::Value::Number(n)) if *name == "ref" => Some(n.to_string()),
            Some(_) => return Err(format!("{name} must be a string")),
        };
    }
    Ok(raw)
}

impl Rows {
    fn check(&mut self, line: u64, raw: Raw) -> Result<Person, RowError> {
        let [first, last, email, dob, country, reference] = raw.fields;
        let reference = reference
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        let fail = |reason: String| RowError {
            line,
            reference: reference.clone(),
            reason,
        };
        let mut missing = Vec::new();
        for (name, v) in REQUIRED.iter().zip([&first, &last, &email, &dob]) {
            if v.as_deref().is_none_or(|s| s.trim().is_empty()) {
                missing.push(*name);
            }
        }
        if !missing.is_empty() {
            return Err(fail(format!("missing {}", missing.join(", "))));
        }
        if let Some(r) = &reference
            && (r.chars().count() > MAX_REF_CHARS || r.chars().any(char::is_control))
        {
            return Err(fail(format!(
                "ref must be 1–{MAX_REF_CHARS} characters without control characters"
            )));
        }
        let person = Person {
            line,
            reference: reference.clone(),
            first_name: first.unwrap_or_default().trim().to_owned(),
            last_name: last.unwrap_or_default().trim().to_owned(),
            email: email.unwrap_or_default().trim().to_owned(),
            date_of_birth: dob.unwrap_or_default().trim().to_owned(),
            country: country
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty()),
        };
        if let Err(e) = person.request() {
            return Err(fail(e.message().to_owned()));
        }
        if let Some(r) = &reference {
            if let Some(first) = self.refs.get(r) {
                return Err(fail(format!(
                    "duplicate ref {:?} (first on line {first})",
                    deepidv_core::sanitize::terminal_safe(r, None)
                )));
            }
            self.refs.insert(r.clone(), line);
        }
        Ok(person)
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A message on one line (newlines and control characters replaced).
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("deepidv-batch-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn rows(path: &Path) -> Vec<Result<Person, RowError>> {
        Input::open(path).unwrap().rows().unwrap().collect()
    }

    #[test]
    fn csv_header_is_matched_loosely_and_cells_trimmed() {
        let p = write(
            "loose.csv",
            "\u{feff}Email, FIRSTNAME ,lastName,dateOfBirth,extra\n ada@example.com ,Ada,Lovelace,1815-12-10,x\n",
        );
        let input = Input::open(&p).unwrap();
        assert_eq!(input.format(), Format::Csv);
        let got = rows(&p);
        let person = got[0].as_ref().unwrap();
        assert_eq!(person.line, 2);
        assert_eq!(person.email, "ada@example.com");
        assert_eq!(person.first_name, "Ada");
        assert_eq!(
            (person.reference.as_deref(), person.country.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn json_lines_are_sniffed_and_read() {
        let p = write(
            "people.txt",
            "\n{\"ref\": 42, \"firstName\":\"Ada\",\"lastName\":\"L\",\"email\":\"a@example.com\",\"dateOfBirth\":\"1815-12-10\",\"country\":\"gb\"}\n\
             {\"firstName\":\"Bob\",\"lastName\":\"S\",\"email\":\"b@example.com\"}\n\
             {\"firstName\":7}\n\
             [1]\n\
             not json\n",
        );
        assert_eq!(Input::open(&p).unwrap().format(), Format::JsonLines);
        let got = rows(&p);
        assert_eq!(got.len(), 5);
        let ada = got[0].as_ref().unwrap();
        assert_eq!((ada.line, ada.reference.as_deref()), (2, Some("42")));
        assert_eq!(ada.request().unwrap().to_json(), br#"{"firstName":"Ada","lastName":"L","email":"a@example.com","dateOfBirth":"1815-12-10","country":"GB"}"#);
        let reasons: Vec<String> = got[1..]
            .iter()
            .map(|r| r.as_ref().unwrap_err().to_string())
            .collect();
        assert_eq!(reasons[0], "line 3: missing dateOfBirth");
        assert_eq!(reasons[1], "line 4: firstName must be a string");
        assert_eq!(
            reasons[2],
            "line 5: malformed JSON: a row must be an object"
        );
        assert!(
            reasons[3].starts_with("line 6: malformed JSON: "),
            "{}",
            reasons[3]
        );
    }

    #[test]
    fn validation_lists_every_bad_row_once() {
        let p = write(
            "v.csv",
            "ref,firstName,lastName,email,dateOfBirth,country\n\
             a,Ada,L,a@example.com,1815-12-10,GB\n\
             a,Ada,L,a@example.com,1815-12-10,GB\n\
             c,Cy,T,c@example.com,1990-13-01,\n\
             d,Di,U,d@example.com,1990-01-01,USA\n",
        );
        let v = Input::open(&p).unwrap().validate().unwrap();
        assert_eq!(v.valid, 1);
        let lines: Vec<u64> = v.invalid.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert!(v.invalid[0].reason.contains("duplicate ref"));
        assert!(v.invalid[2].reason.contains("country"));
    }

    #[test]
    fn the_fingerprint_follows_the_bytes() {
        let a = Input::open(write("f1.csv", "x\n"))
            .unwrap()
            .fingerprint()
            .unwrap();
        let b = Input::open(write("f2.csv", "x\n"))
            .unwrap()
            .fingerprint()
            .unwrap();
        let c = Input::open(write("f3.csv", "y\n"))
            .unwrap()
            .fingerprint()
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }
}
