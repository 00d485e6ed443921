//! Making server-sent text safe to show: one line, no control or bidi characters, no secrets.

use std::fmt::Write;

/// Longest server message kept, in characters.
const MAX_CHARS: usize = 300;

/// `bytes` with every occurrence of `secret` replaced by `[REDACTED]`; `None`
/// when there is nothing to replace (so callers can keep the original).
pub fn redact_bytes(bytes: &[u8], secret: &str) -> Option<Vec<u8>> {
    let needle = secret.as_bytes();
    if needle.is_empty() || !bytes.windows(needle.len()).any(|w| w == needle) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while rest.len() >= needle.len() {
        if rest.starts_with(needle) {
            out.extend_from_slice(b"[REDACTED]");
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out.extend_from_slice(rest);
    Some(out)
}

/// Escapes control and bidirectional-override characters, folds whitespace runs
/// (newlines included) into one space, truncates, and replaces `secret` if present.
pub fn terminal_safe(text: &str, secret: Option<&str>) -> String {
    let redacted;
    let text = match secret {
        Some(s) if !s.is_empty() && text.contains(s) => {
            redacted = text.replace(s, "[REDACTED]");
            redacted.as_str()
        }
        _ => text,
    };
    let mut out = String::with_capacity(text.len().min(MAX_CHARS + 8));
    let mut last_space = false;
    let mut count = 0; // characters written, escapes included
    for c in text.trim().chars() {
        if count >= MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                count += 1;
            }
            last_space = true;
            continue;
        }
        last_space = false;
        if c.is_control() || is_bidi_or_invisible(c) {
            let before = out.len();
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
            count += out.len() - before; // escapes are ASCII
        } else {
            out.push(c);
            count += 1;
        }
    }
    out
}

/// Characters that can reorder or hide text on a terminal (Trojan Source).
fn is_bidi_or_invisible(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}')
}

/// Reduces an HTML page to its `<title>` (gateways send these with 502/503/504);
/// `None` if there is no usable title.
pub(crate) fn html_title(body: &str) -> Option<&str> {
    let lower_start = find_ascii_ci(body, "<title")?;
    let after = &body[lower_start..];
    let open_end = after.find('>')? + 1;
    let rest = &after[open_end..];
    let close = find_ascii_ci(rest, "</title")?;
    let title = rest[..close].trim();
    (!title.is_empty()).then_some(title)
}

pub(crate) fn looks_like_html(body: &str) -> bool {
    let t = body.trim_start();
    if !t.starts_with('<') {
        return false;
    }
    let mut end = t.len().min(512);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    let head = &t[..end];
    ["<html", "<!doctype", "<head", "<body"]
        .iter()
        .any(|tag| find_ascii_ci(head, tag).is_some())
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bidi() {
        assert_eq!(terminal_safe("a\u{1b}[2Jb", None), "a\\u{1b}[2Jb");
        assert_eq!(terminal_safe("x\u{202E}y", None), "x\\u{202e}y");
        assert_eq!(terminal_safe(" line1\n\n line2\r\n", None), "line1 line2");
    }

    #[test]
    fn redacts_secret() {
        assert_eq!(
            terminal_safe("bad key sk_test_123 given", Some("sk_test_123")),
            "bad key [REDACTED] given"
        );
    }

    #[test]
    fn truncates_long_text() {
        let long = "x".repeat(1000);
        let s = terminal_safe(&long, None);
        assert_eq!(s.chars().count(), MAX_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn finds_html_title() {
        let page = "<!DOCTYPE html><HTML><head><TITLE> 502 Bad Gateway </title></head><body>x</body></html>";
        assert!(looks_like_html(page));
        assert_eq!(html_title(page), Some("502 Bad Gateway"));
        assert_eq!(html_title("<html><body>no title</body></html>"), None);
        assert!(!looks_like_html("{\"message\":\"<b>\"}"));
        // Found by proptest: a multi-byte character across the 512-byte window.
        let tricky = format!("<{}\u{20ac}<html>", "x".repeat(509));
        assert!(!looks_like_html(&tricky));
    }
}
