//! Timestamps in the /proc/ham shape: `YYYY/MM/DD HH:MM:SS:NNNNNNNNN`, UTC.

const NS_PER_SEC: i64 = 1_000_000_000;

/// Formats nanoseconds since the Unix epoch; 0 (never) is `-`.
pub fn timestamp(ns: i64) -> String {
    if ns == 0 {
        return "-".to_owned();
    }
    let secs = ns.div_euclid(NS_PER_SEC);
    let nanos = ns.rem_euclid(NS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}:{nanos:09}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn x5_timestamps() {
        assert_eq!(timestamp(0), "-");
        assert_eq!(timestamp(1), "1970/01/01 00:00:00:000000001");
        // The guide's example: 2001/08/30 23:04:49:930148650.
        assert_eq!(
            timestamp(999_212_689_930_148_650),
            "2001/08/30 23:04:49:930148650"
        );
        assert_eq!(
            timestamp(951_782_400_000_000_000),
            "2000/02/29 00:00:00:000000000"
        );
        assert_eq!(timestamp(-1), "1969/12/31 23:59:59:999999999");
    }
}
