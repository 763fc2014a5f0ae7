//! The days the City of Vancouver's offices close: British Columbia's statutory holidays
//! (Employment Standards Act, s. 1 "statutory holiday"), and Boxing Day, which the City
//! observes; computed for any year, with the weekday a weekend holiday is observed on.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use std::collections::BTreeSet;

/// The `n`th `weekday` of a month (n from 1).
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).expect("a valid date")
}

/// Easter Sunday (the Gregorian computus, Meeus/Jones/Butcher).
fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("a valid date")
}

/// The holidays of `year` and the weekdays they are observed on when they fall on a weekend.
pub fn of_year(year: i32) -> BTreeSet<NaiveDate> {
    let date = |m, d| NaiveDate::from_ymd_opt(year, m, d).expect("a valid date");
    let mut days = vec![
        date(1, 1),
        easter(year) - Duration::days(2), // Good Friday
        // Victoria Day: the Monday before May 25.
        (1..=7)
            .map(|back| date(5, 25) - Duration::days(back))
            .find(|d| d.weekday() == Weekday::Mon)
            .expect("a Monday in the week before"),
        date(7, 1),
        nth_weekday(year, 8, Weekday::Mon, 1), // British Columbia Day
        nth_weekday(year, 9, Weekday::Mon, 1), // Labour Day
        nth_weekday(year, 10, Weekday::Mon, 2), // Thanksgiving
        date(11, 11),
        date(12, 25),
        date(12, 26),
    ];
    // Family Day from 2013: the second Monday of February, the third from 2019.
    if year >= 2019 {
        days.push(nth_weekday(year, 2, Weekday::Mon, 3));
    } else if year >= 2013 {
        days.push(nth_weekday(year, 2, Weekday::Mon, 2));
    }
    // National Day for Truth and Reconciliation, a statutory holiday in BC from 2023 (the
    // City closed for it from 2021).
    if year >= 2021 {
        days.push(date(9, 30));
    }
    let mut out: BTreeSet<NaiveDate> = days.iter().copied().collect();
    // A holiday on a weekend is observed on the next weekday that is not a holiday itself.
    for d in days
        .into_iter()
        .filter(|d| d.weekday().num_days_from_monday() >= 5)
    {
        let mut observed = d + Duration::days(1);
        while observed.weekday().num_days_from_monday() >= 5 || out.contains(&observed) {
            observed += Duration::days(1);
        }
        out.insert(observed);
    }
    out
}

/// Is `day` a holiday, or the day one is observed on?
pub fn is_holiday(day: NaiveDate) -> bool {
    of_year(day.year()).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Against the province's published lists (gov.bc.ca, "Statutory holidays in B.C.").
    #[test]
    fn the_provinces_published_holidays() {
        let y2024: Vec<String> = of_year(2024).iter().map(|d| d.to_string()).collect();
        assert_eq!(
            y2024,
            [
                "2024-01-01",
                "2024-02-19",
                "2024-03-29",
                "2024-05-20",
                "2024-07-01",
                "2024-08-05",
                "2024-09-02",
                "2024-09-30",
                "2024-10-14",
                "2024-11-11",
                "2024-12-25",
                "2024-12-26"
            ]
        );
        assert_eq!(easter(2025), day("2025-04-20"));
        // Christmas 2021 on a Saturday, Boxing Day on Sunday: observed Monday and Tuesday.
        assert!(is_holiday(day("2021-12-27")) && is_holiday(day("2021-12-28")));
        // Family Day moved from the second Monday to the third in 2019.
        assert!(is_holiday(day("2018-02-12")) && is_holiday(day("2019-02-18")));
        assert!(!is_holiday(day("2012-02-13")));
    }
}
