//! Times as the normalized event writes them: RFC 3339 in UTC with a `Z`,
//! sub-second digits kept as given. No calendar crate: the conversions are
//! the few lines of Howard Hinnant's civil-date algorithms.

/// A timestamp a signature scheme signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedTime {
    /// Unix seconds.
    Seconds(i64),
    /// Unix milliseconds.
    Millis(i64),
}

impl SignedTime {
    /// RFC 3339 UTC (`2024-03-26T00:00:00Z`, or `.123Z` for milliseconds).
    pub fn to_rfc3339(self) -> Option<String> {
        match self {
            SignedTime::Seconds(s) => format_unix(s, None),
            SignedTime::Millis(ms) => {
                let frac = format!("{:03}", ms.rem_euclid(1000));
                format_unix(ms.div_euclid(1000), Some(&frac))
            }
        }
    }
}

/// Unix seconds (or milliseconds, for values of 10^11 and more, which as
/// seconds would lie past the year 5000) as RFC 3339 UTC.
pub fn from_unix_number(value: i64) -> Option<String> {
    if value.unsigned_abs() >= 100_000_000_000 {
        SignedTime::Millis(value).to_rfc3339()
    } else {
        SignedTime::Seconds(value).to_rfc3339()
    }
}

/// An RFC 3339 date-time (`T` or a space between date and time, `Z` or an
/// offset) rewritten in UTC with a `Z`, fraction digits kept as given.
/// `None` when it is not one.
pub fn normalize_rfc3339(text: &str) -> Option<String> {
    rewrite_rfc3339(text).map(|rewritten| rewritten.unwrap_or_else(|| text.to_owned()))
}

/// [`normalize_rfc3339`], with `Some(None)` when `text` is already written
/// as it would be rewritten (UTC, `T` and `Z`), so that it need not be
/// copied.
pub fn rewrite_rfc3339(text: &str) -> Option<Option<String>> {
    let b = text.as_bytes();
    if b.len() < 20 || !b.is_ascii() {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let separators = b[4] == b'-' && b[7] == b'-' && b[13] == b':' && b[16] == b':';
    if !separators || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut fraction = None;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        fraction = Some(after_dot.get(..len)?);
        rest = after_dot.get(len..)?;
    }
    let offset_seconds = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    if b[10] == b'T' && rest == "Z" {
        return Some(None);
    }
    let local = days_from_civil(i64::from(year), month, day) * 86_400
        + i64::from(hour * 3600 + minute * 60 + second);
    format_unix(local - offset_seconds, fraction).map(Some)
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix seconds as RFC 3339 UTC, with `fraction` digits after the seconds.
/// `None` outside the years 0000-9999.
fn format_unix(seconds: i64, fraction: Option<&str>) -> Option<String> {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    if !(0..=9999).contains(&year) {
        return None;
    }
    let secs = seconds.rem_euclid(86_400);
    let (hour, minute, second) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::with_capacity(21 + fraction.map_or(0, str::len));
    let mut digits = |value: i64, width: u32, after: char| {
        for place in (0..width).rev() {
            let digit = value / 10_i64.pow(place) % 10;
            out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
        }
        out.push(after);
    };
    digits(year, 4, '-');
    digits(i64::from(month), 2, '-');
    digits(i64::from(day), 2, 'T');
    digits(hour, 2, ':');
    digits(minute, 2, ':');
    digits(second, 2, 'Z');
    out.pop();
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out.push('Z');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_is_kept_and_offsets_are_applied() {
        let n = |t| normalize_rfc3339(t);
        assert_eq!(
            n("2026-03-25T18:30:00Z").as_deref(),
            Some("2026-03-25T18:30:00Z")
        );
        assert_eq!(
            n("2022-06-24T19:35:46.825Z").as_deref(),
            Some("2022-06-24T19:35:46.825Z")
        );
        assert_eq!(
            n("2026-03-25 18:30:00+02:00").as_deref(),
            Some("2026-03-25T16:30:00Z")
        );
        assert_eq!(
            n("2026-01-01T00:30:00.5-01:00").as_deref(),
            Some("2026-01-01T01:30:00.5Z")
        );
        assert_eq!(
            n("2024-02-29T23:59:59z").as_deref(),
            Some("2024-02-29T23:59:59Z")
        );
        assert_eq!(
            n("2026-03-01T00:00:00+00:30").as_deref(),
            Some("2026-02-28T23:30:00Z")
        );
    }

    #[test]
    fn non_dates_are_refused() {
        for text in [
            "",
            "...",
            "2026-03-25",
            "2026-03-25T18:30:00",
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-03-25T24:00:00Z",
            "2026-03-25T18:30:00.Z",
            "2026-03-25T18:30:00+2:00",
            "2026-03-25T18:30:00Zjunk",
            "２０２６-03-25T18:30:00Z",
        ] {
            assert_eq!(normalize_rfc3339(text), None, "{text}");
        }
    }

    #[test]
    fn unix_seconds_and_milliseconds() {
        assert_eq!(
            from_unix_number(1711411200).as_deref(),
            Some("2024-03-26T00:00:00Z")
        );
        assert_eq!(
            from_unix_number(1639710054089).as_deref(),
            Some("2021-12-17T03:00:54.089Z")
        );
        assert_eq!(from_unix_number(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            from_unix_number(-1).as_deref(),
            Some("1969-12-31T23:59:59Z")
        );
        assert_eq!(from_unix_number(i64::MAX), None);
    }

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 10_957, 19_808, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
