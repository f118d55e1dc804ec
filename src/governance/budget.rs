//! Spend budgets per key over UTC calendar periods (a day, an ISO week from
//! Monday, a month). A key is admitted while its spend in the current period
//! is below its budget; the call that crosses it is still served (its cost
//! is known only once it is done), the ones after it are refused until the
//! period rolls over.

use super::cost::Cost;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAY: u64 = 86_400;

/// A budget's period: calendar periods in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// Monday 00:00 UTC to the next Monday.
    Week,
    Month,
}

impl Period {
    /// Parses a `budget_period` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    /// The `budget_period` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// The period holding `unix` (seconds): its first day (days since the
    /// epoch) and its end (unix seconds).
    pub fn bounds(self, unix: u64) -> Window {
        let day = unix / DAY;
        let (start, end) = match self {
            Self::Day => (day, day + 1),
            Self::Week => {
                // 1970-01-01 was a Thursday: Monday is 3 days before.
                let monday = day - (day + 3) % 7;
                (monday, monday + 7)
            }
            Self::Month => {
                let (y, m, _) = civil_from_days(day);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                (days_from_civil(y, m, 1), days_from_civil(ny, nm, 1))
            }
        };
        Window {
            start_day: start,
            end: end * DAY,
        }
    }
}

/// One period of a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The period's first day, in days since 1970-01-01: names the period.
    pub start_day: u64,
    /// When the next period starts, in unix seconds.
    pub end: u64,
}

impl Window {
    /// Time left until the period rolls over, from `unix`.
    pub fn left(&self, unix: u64) -> Duration {
        Duration::from_secs(self.end.saturating_sub(unix))
    }
}

/// Seconds since the epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A key's budget: at most `limit` spent per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: Cost,
    pub period: Period,
}

/// A budgeted key's spend in this process: its own charges, and the shared
/// total as last seen in the store (with `store = "redis"`).
#[derive(Debug, Default)]
pub struct Spend(Mutex<(u64, Cost)>);

impl Spend {
    /// Spend in the period `w`.
    pub fn get(&self, w: Window) -> Cost {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if guard.0 == w.start_day {
            guard.1
        } else {
            Cost::ZERO
        }
    }

    /// Adds `cost` to the period `w` (a new period starts from zero).
    pub fn add(&self, w: Window, cost: Cost) {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if guard.0 != w.start_day {
            *guard = (w.start_day, Cost::ZERO);
        }
        guard.1 = guard.1.saturating_add(cost);
    }

    /// Takes the store's total for the period `w`.
    pub fn set(&self, w: Window, total: Cost) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = (w.start_day, total);
    }
}

/// (year, month 1-12, day 1-31) of a day number (Howard Hinnant's
/// algorithm, proleptic Gregorian).
fn civil_from_days(days: u64) -> (i64, u32, u32) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day number of a date (inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds of a UTC date and time.
    fn at(y: i64, m: u32, d: u32, secs: u64) -> u64 {
        days_from_civil(y, m, d) * DAY + secs
    }

    #[test]
    fn dates_round_trip_over_centuries_and_leap_days() {
        for day in [0, 59, 60, 365, 11_016, 19_782, 20_000, 60_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn days_roll_over_at_midnight_utc() {
        let w = Period::Day.bounds(at(2026, 12, 3, 86_399));
        assert_eq!(w.start_day, days_from_civil(2026, 12, 3));
        assert_eq!(w.end, at(2026, 12, 4, 0));
        assert_eq!(w.left(at(2026, 12, 3, 86_399)), Duration::from_secs(1));
        assert_ne!(Period::Day.bounds(at(2026, 12, 4, 0)), w);
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-12-03 is a Thursday; its week runs from Monday 2026-11-30.
        let w = Period::Week.bounds(at(2026, 12, 3, 5));
        assert_eq!(w.start_day, days_from_civil(2026, 11, 30));
        assert_eq!(w.end, at(2026, 12, 7, 0));
        assert_eq!(Period::Week.bounds(at(2026, 11, 30, 0)), w);
        assert_eq!(Period::Week.bounds(at(2026, 12, 6, 86_399)), w);
        assert_ne!(Period::Week.bounds(at(2026, 12, 7, 0)), w);
    }

    #[test]
    fn months_follow_the_calendar_including_december_and_february() {
        let dec = Period::Month.bounds(at(2026, 12, 31, 86_399));
        assert_eq!(dec.start_day, days_from_civil(2026, 12, 1));
        assert_eq!(dec.end, at(2027, 1, 1, 0));
        let feb = Period::Month.bounds(at(2028, 2, 29, 0));
        assert_eq!(feb.end, at(2028, 3, 1, 0));
    }

    #[test]
    fn spend_starts_from_zero_in_a_new_period() {
        let s = Spend::default();
        let this = Period::Day.bounds(at(2026, 12, 3, 0));
        let next = Period::Day.bounds(at(2026, 12, 4, 0));
        s.add(this, Cost::from_nanos(5));
        s.add(this, Cost::from_nanos(7));
        assert_eq!(s.get(this), Cost::from_nanos(12));
        assert_eq!(s.get(next), Cost::ZERO);
        s.add(next, Cost::from_nanos(1));
        assert_eq!(s.get(next), Cost::from_nanos(1));
        assert_eq!(s.get(this), Cost::ZERO);
    }
}
