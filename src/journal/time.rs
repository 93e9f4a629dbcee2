//! The journal's times: written as RFC 3339 UTC, read back (and taken from `--since`) as a day
//! or an RFC 3339 time with any offset (RFC 3339 §5.6).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::JournalError;
use crate::day::Day;

/// A moment, unix seconds, written into journal lines as RFC 3339 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_time(self.0))
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Time, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_time(&text).map(Time).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_time(self.0))
    }
}

/// `seconds` (unix time) as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(seconds: i64) -> String {
    let day = Day::from_unix_seconds(seconds);
    let rest = seconds.rem_euclid(86_400);
    format!("{day}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

/// `YYYY-MM-DD` (its midnight UTC) or `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (`T` may be a
/// space or `t`) as unix seconds.
pub fn parse_time(text: &str) -> Result<i64, JournalError> {
    let bad = || JournalError::BadTime(text.to_owned());
    let text = text.trim();
    let (date, clock) = match text.char_indices().nth(10) {
        Some((at, 'T' | 't' | ' ')) => (text.get(..at).ok_or_else(bad)?, text.get(at + 1..)),
        Some(_) => return Err(bad()),
        None => (text, None),
    };
    let day: Day = date.parse().map_err(|_| bad())?;
    let midnight = day.0 * 86_400;
    let Some(clock) = clock else { return Ok(midnight) };
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = clock.get(range)?;
        digits.bytes().all(|b| b.is_ascii_digit()).then(|| digits.parse().ok())?
    };
    let (h, m, s) = (number(0..2), number(3..5), number(6..8));
    let (Some(h), Some(m), Some(s)) = (h, m, s) else { return Err(bad()) };
    if clock.get(2..3) != Some(":") || clock.get(5..6) != Some(":") || h > 23 || m > 59 || s > 60 {
        return Err(bad());
    }
    let mut zone = clock.get(8..).ok_or_else(bad)?;
    if let Some(frac) = zone.strip_prefix('.') {
        zone = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.get(..1) {
                Some("+") => 1,
                Some("-") => -1,
                _ => return Err(bad()),
            };
            let zone = zone.get(1..).unwrap_or("");
            let (oh, om) = zone.split_once(':').ok_or_else(bad)?;
            let (Ok(oh), Ok(om)) = (oh.parse::<i64>(), om.parse::<i64>()) else { return Err(bad()) };
            if oh > 23 || om > 59 || zone.len() != 5 {
                return Err(bad());
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Ok(midnight + h * 3600 + m * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forms() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_795_279_987), "2026-11-21T16:53:07Z");
        assert_eq!(parse_time("2026-11-21T16:53:07Z").unwrap(), 1_795_279_987);
        assert_eq!(parse_time("2026-11-21 17:53:07.25+01:00").unwrap(), 1_795_279_987);
        assert_eq!(parse_time("2026-11-21T16:53:07-00:30").unwrap(), 1_795_279_987 + 1800);
        assert_eq!(parse_time("2026-11-21").unwrap(), 1_795_279_987 - (16 * 3600 + 53 * 60 + 7));
        for bad in [
            "",
            "yesterday",
            "2026-11-21T",
            "2026-11-21T16:53Z",
            "2026-11-21T16:53:07",
            "2026-11-21T25:00:00Z",
            "2026-11-21x",
            "2026-11-21T16:53:07+1:00",
            "2026-11-é1",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
