//! Time windows: where a window starts, when it ends, and how much of the previous one still
//! counts in a rolling (sliding) window. All times are Unix seconds, UTC.

use crate::config::civil_from_days;

/// A window length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Minute,
    Hour,
    Day,
    /// A calendar month (calendar alignment) or 30 days (rolling).
    Month,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "minute" => Some(Period::Minute),
            "hour" => Some(Period::Hour),
            "day" => Some(Period::Day),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    fn fixed_len(self) -> u64 {
        match self {
            Period::Minute => 60,
            Period::Hour => 3_600,
            Period::Day => 86_400,
            Period::Month => 30 * 86_400,
        }
    }
}

/// A window: its period and whether it is calendar-aligned or rolling.
///
/// - **Calendar**: the count resets at each UTC minute/hour/day/month boundary.
/// - **Rolling**: a sliding window, approximated the usual way from two fixed buckets: the
///   current bucket's count plus the previous bucket's count weighted by the share of the
///   previous bucket still inside the window (rounded up). Rolling months are 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub period: Period,
    pub rolling: bool,
}

impl Window {
    /// Start of the bucket holding `now`.
    pub fn start(self, now: u64) -> u64 {
        if self.period == Period::Month && !self.rolling {
            let days = now / 86_400;
            let (y, m, _) = civil_from_days(days);
            return days_from_civil(y, m, 1) * 86_400;
        }
        let len = self.period.fixed_len();
        now - now % len
    }

    /// Start of the bucket after the one starting at `start`.
    pub fn end(self, start: u64) -> u64 {
        if self.period == Period::Month && !self.rolling {
            let (y, m, _) = civil_from_days(start / 86_400);
            let (y, m) = if m == 12 { (y.saturating_add(1), 1) } else { (y, m + 1) };
            return days_from_civil(y, m, 1).saturating_mul(86_400);
        }
        start.saturating_add(self.period.fixed_len())
    }

    /// Start of the bucket before the one starting at `start`.
    pub fn previous(self, start: u64) -> u64 {
        if self.period == Period::Month && !self.rolling {
            return self.start(start.saturating_sub(1));
        }
        start.saturating_sub(self.period.fixed_len())
    }

    /// The count that applies at `now`, given the current and previous buckets' counts.
    pub fn effective(self, start: u64, now: u64, current: u64, previous: u64) -> u64 {
        if !self.rolling {
            return current;
        }
        let len = self.period.fixed_len();
        let left = len.saturating_sub(now.saturating_sub(start));
        let weighted = (u128::from(previous) * u128::from(left)).div_ceil(u128::from(len));
        current.saturating_add(u64::try_from(weighted).unwrap_or(u64::MAX))
    }

    /// Seconds from `now` until `need` more fits under `limit`, given the buckets' counts.
    /// Calendar windows: until the window ends. Rolling: until the previous bucket's weight has
    /// decayed enough, else until the bucket ends (when the current count itself is in the way).
    pub fn retry_after(self, start: u64, now: u64, current: u64, previous: u64, limit: u64, need: u64) -> u64 {
        let to_end = self.end(start).saturating_sub(now).max(1);
        if !self.rolling || previous == 0 {
            return to_end;
        }
        let Some(room) = limit.checked_sub(current).and_then(|r| r.checked_sub(need)) else { return to_end };
        let len = self.period.fixed_len();
        // previous * left / len <= room  <=>  left <= room * len / previous
        let max_left = u128::from(room) * u128::from(len) / u128::from(previous);
        let left = u128::from(len.saturating_sub(now.saturating_sub(start)));
        let wait = u64::try_from(left.saturating_sub(max_left)).unwrap_or(u64::MAX);
        wait.clamp(1, to_end)
    }
}


/// Days since 1970-01-01 of a date on or after it.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y.saturating_sub(1) } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d.saturating_sub(1);
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const CAL: fn(Period) -> Window = |period| Window { period, rolling: false };

    #[test]
    fn calendar_windows_align_to_utc_boundaries() {
        // 2026-03-15T12:34:56Z
        let now = 1_773_578_096;
        assert_eq!(CAL(Period::Minute).start(now), 1_773_578_040);
        assert_eq!(CAL(Period::Hour).start(now), 1_773_576_000);
        assert_eq!(CAL(Period::Day).start(now), 1_773_532_800);
        let m = CAL(Period::Month);
        assert_eq!(m.start(now), 1_772_323_200, "2026-03-01");
        assert_eq!(m.end(m.start(now)), 1_775_001_600, "2026-04-01");
        assert_eq!(m.previous(m.start(now)), 1_769_904_000, "2026-02-01");
        let dec = 1_796_083_200; // 2026-12-01
        assert_eq!(m.end(dec), 1_798_761_600, "2027-01-01");
    }

    #[test]
    fn rolling_windows_weigh_the_previous_bucket() {
        let w = Window { period: Period::Minute, rolling: true };
        assert_eq!(w.effective(600, 600, 0, 60), 60, "whole previous bucket at the start");
        assert_eq!(w.effective(600, 630, 10, 60), 40, "half of it half-way");
        assert_eq!(w.effective(600, 660, 10, 60), 10);
        assert_eq!(CAL(Period::Minute).effective(600, 630, 10, 60), 10);
        // Limit 100, current 10, previous 60, need 40: room 50 → left <= 50 s → wait from left 60 at t=600.
        assert_eq!(w.retry_after(600, 600, 10, 60, 100, 40), 10);
        assert_eq!(w.retry_after(600, 600, 90, 60, 100, 40), 60, "the current bucket is in the way");
    }
}
