//! The one duration syntax of every command-line flag (the CLI's and the simulator's).

use std::time::Duration;

/// Parses a duration such as `500ms`, `2s`, `10m`, `1h30m` or `0` (jiff's friendly format, ISO 8601 such as
/// `PT2S` too); surrounding whitespace is ignored.
///
/// Negative, empty or unreadable input is an error: a one-line message naming the input.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(deepidv_core::parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(deepidv_core::parse_duration("soon").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let d: jiff::SignedDuration = t
        .parse()
        .map_err(|_| format!("expected a duration like 500ms, 2s or 10m, not {t:?}"))?;
    Duration::try_from(d).map_err(|_| format!("a duration must not be negative: {t:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("0ms").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration(" 2s ").unwrap(), Duration::from_secs(2));
        assert_eq!(
            parse_duration("1200ms").unwrap(),
            Duration::from_millis(1200)
        );
    }

    #[test]
    fn refused_with_a_message_naming_the_input() {
        for bad in ["-1s", "soon", "", "5"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains(&format!("{:?}", bad.trim())), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
