//! Date formatting without a date crate: the RFC 7231 `Date` header and
//! the access-log timestamp (eventlet's `log_date_time_string`, in UTC).

use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

struct Civil {
    year: i64,
    month: usize,
    day: u32,
    hh: u64,
    mm: u64,
    ss: u64,
    weekday: usize,
}

fn civil(t: SystemTime) -> Civil {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (year, month, day) = civil_from_days(days);
    let month = month as usize;
    Civil {
        year,
        month,
        day,
        hh: rem / 3600,
        mm: rem % 3600 / 60,
        ss: rem % 60,
        weekday: (days.rem_euclid(7)) as usize,
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month 1-12, day)
/// (Howard Hinnant's algorithm). The one calendar routine every layer uses.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
pub fn http_date(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[c.weekday],
        c.day,
        MONTHS[c.month - 1],
        c.year,
        c.hh,
        c.mm,
        c.ss
    )
}

/// `21/Nov/2026 14:10:01`
pub fn log_date(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{:02}/{}/{:04} {:02}:{:02}:{:02}",
        c.day,
        MONTHS[c.month - 1],
        c.year,
        c.hh,
        c.mm,
        c.ss
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        // 2024-02-29 23:59:59 UTC (leap day)
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(http_date(t), "Thu, 29 Feb 2024 23:59:59 GMT");
        assert_eq!(log_date(t), "29/Feb/2024 23:59:59");
    }
}
