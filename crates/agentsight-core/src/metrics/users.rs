//! Users over time (`docs/metrics.md`, *Users over time*): new and returning users by day or
//! week, active users by day, week and month, and the weekly retention cohorts, computed from
//! one fact per conversation in range — its user and local day — and each user's first day.
//! Every engine gathers those facts its own way and answers through [`UsersBuilder`].

use std::collections::HashMap;

use agentsight_protocol::metrics::{
    ActiveUsers, ActiveUsersPoint, AgentRef, CohortRow, NewReturningPoint, UsersResponse, UsersTotals,
};
use chrono::{Datelike, Duration, NaiveDate};

use super::query::MetricsQuery;
use super::series::Interval;
use crate::error::ValidationErrors;
use crate::limits::USER_COHORT_WEEKS;

/// Parses `interval` (`day`, the default, or `week`).
pub fn parse_interval(params: &HashMap<String, String>) -> Result<Interval, ValidationErrors> {
    match params.get("interval").map(|s| s.trim()).unwrap_or("day") {
        "day" | "" => Ok(Interval::Day),
        "week" => Ok(Interval::Week),
        other => {
            let other: String = other.chars().take(64).collect();
            Err(ValidationErrors::single("interval", format!("unknown interval '{other}'; use day or week")))
        }
    }
}

/// The periods of a range at one grain: which period each local day of the range is in, and
/// each period's first day (clipped to the range) as its label.
#[derive(Debug, Clone)]
pub struct Periods {
    /// Period of day `d` (days counted from `from`).
    pub of_day: Vec<u32>,
    /// First day (index) of each period.
    pub first_day: Vec<u32>,
    /// Label (`YYYY-MM-DD`) of each period.
    pub labels: Vec<String>,
}

impl Periods {
    /// The local days, ISO weeks (Monday first) or calendar months of `q`'s range, the first
    /// and last clipped to it. `Hour` is read as `Day`.
    pub fn new(q: &MetricsQuery, interval: Interval) -> Periods {
        let n = q.days().max(0) as usize;
        let mut p = Periods { of_day: Vec::with_capacity(n), first_day: Vec::new(), labels: Vec::new() };
        let mut last: Option<NaiveDate> = None;
        for d in 0..n {
            let date = q.from + Duration::days(d as i64);
            let key = match interval {
                Interval::Hour | Interval::Day => date,
                Interval::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
                Interval::Month => date.with_day(1).unwrap_or(date),
            };
            if last != Some(key) {
                last = Some(key);
                p.first_day.push(d as u32);
                p.labels.push(date.format("%Y-%m-%d").to_string());
            }
            p.of_day.push((p.first_day.len() - 1) as u32);
        }
        p
    }

    /// Number of periods.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the range has no days.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Calls `f` once for each period of `p` in which one user's sorted days fall, in order.
fn each_period(p: &Periods, user_days: &[(u32, u32)], mut f: impl FnMut(u32)) {
    let mut last = None;
    for &(_, d) in user_days {
        let k = p.of_day[d as usize];
        if last != Some(k) {
            last = Some(k);
            f(k);
        }
    }
}

/// Collects (user, local day) facts of the conversations in range that match the filters, and
/// answers once each user's first day is known.
#[derive(Debug)]
pub struct UsersBuilder<'q> {
    q: &'q MetricsQuery,
    interval: Interval,
    pairs: Vec<(u32, u32)>,
}

impl<'q> UsersBuilder<'q> {
    /// A builder for `q` with new vs returning by `interval` (`Day` or `Week`).
    pub fn new(q: &'q MetricsQuery, interval: Interval) -> Self {
        UsersBuilder { q, interval, pairs: Vec::new() }
    }

    /// A conversation of `user` (any small integer naming one user) started on local day
    /// `day` of the range (counted from `from`).
    pub fn add(&mut self, user: u32, day: u32) {
        self.pairs.push((user, day));
    }

    /// The answer, given each user's first day counted from `from` (negative: before the range).
    pub fn finish(mut self, agent: AgentRef, first_day: impl Fn(u32) -> i64) -> UsersResponse {
        let q = self.q;
        let days = Periods::new(q, Interval::Day);
        let weeks = Periods::new(q, Interval::Week);
        let months = Periods::new(q, Interval::Month);
        let grain = if self.interval == Interval::Week { &weeks } else { &days };
        let n_days = days.len();
        self.pairs.retain(|&(_, d)| (d as usize) < n_days);
        self.pairs.sort_unstable();
        self.pairs.dedup();

        let mut totals = UsersTotals::default();
        let mut daily = vec![0u64; days.len()];
        let mut weekly = vec![0u64; weeks.len()];
        let mut monthly = vec![0u64; months.len()];
        let (mut new, mut returning) = (vec![0u64; grain.len()], vec![0u64; grain.len()]);
        let first_shown = weeks.len().saturating_sub(USER_COHORT_WEEKS);
        let mut retained: Vec<Vec<u64>> =
            (first_shown..weeks.len()).map(|w| vec![0; weeks.len() - w]).collect();

        let mut active_weeks: Vec<u32> = Vec::new();
        let mut i = 0;
        while i < self.pairs.len() {
            let user = self.pairs[i].0;
            let mut j = i;
            while j < self.pairs.len() && self.pairs[j].0 == user {
                j += 1;
            }
            let user_days = &self.pairs[i..j];
            i = j;
            // A first day can never be after a day the user was active; should a store ever say
            // so, the user's first active day stands in for it.
            let first = first_day(user).min(i64::from(user_days[0].1));
            totals.users += 1;
            if first >= 0 {
                totals.new_users += 1;
            }
            each_period(&days, user_days, |k| daily[k as usize] += 1);
            each_period(&months, user_days, |k| monthly[k as usize] += 1);
            active_weeks.clear();
            each_period(&weeks, user_days, |k| active_weeks.push(k));
            for &k in &active_weeks {
                weekly[k as usize] += 1;
            }
            each_period(grain, user_days, |k| {
                if first >= i64::from(grain.first_day[k as usize]) {
                    new[k as usize] += 1;
                } else {
                    returning[k as usize] += 1;
                }
            });
            // The cohort of the week of the first day, when the user is active in it.
            if first >= 0 {
                let cohort = weeks.of_day[first as usize];
                if (cohort as usize) >= first_shown && active_weeks.contains(&cohort) {
                    let row = &mut retained[cohort as usize - first_shown];
                    for &w in active_weeks.iter().filter(|w| **w >= cohort) {
                        row[(w - cohort) as usize] += 1;
                    }
                }
            }
        }
        totals.returning_users = totals.users - totals.new_users;
        let points = |p: &Periods, counts: Vec<u64>| -> Vec<ActiveUsersPoint> {
            p.labels
                .iter()
                .zip(counts)
                .map(|(start, users)| ActiveUsersPoint { start: start.clone(), users })
                .collect()
        };
        UsersResponse {
            agent,
            range: q.range_ref(),
            filters: q.filters.to_json(),
            interval: self.interval.name().to_string(),
            totals,
            new_returning: grain
                .labels
                .iter()
                .enumerate()
                .map(|(k, start)| NewReturningPoint {
                    start: start.clone(),
                    active: new[k] + returning[k],
                    new: new[k],
                    returning: returning[k],
                })
                .collect(),
            active: ActiveUsers {
                daily: points(&days, daily),
                weekly: points(&weeks, weekly),
                monthly: points(&months, monthly),
            },
            cohorts: retained
                .into_iter()
                .enumerate()
                .map(|(k, retained)| CohortRow {
                    week: weeks.labels[first_shown + k].clone(),
                    users: retained[0],
                    retained,
                })
                .collect(),
        }
    }
}

/// Users named by text (customer ids) to the small integers [`UsersBuilder`] counts, with each
/// one's first seen instant: what the engines that read rows (SQLite's raw rows, ClickHouse)
/// gather before answering.
#[derive(Debug, Default)]
pub struct NamedUsers {
    ids: HashMap<String, u32>,
    first_seen: Vec<crate::time::Micros>,
}

impl NamedUsers {
    /// No users yet.
    pub fn new() -> Self {
        NamedUsers::default()
    }

    /// The id of `customer`, noting `first_seen` (the earliest given wins; `i64::MAX` for none).
    pub fn id(&mut self, customer: &str, first_seen: crate::time::Micros) -> u32 {
        if let Some(&id) = self.ids.get(customer) {
            let f = &mut self.first_seen[id as usize];
            *f = (*f).min(first_seen);
            return id;
        }
        let id = self.first_seen.len() as u32;
        self.ids.insert(customer.to_string(), id);
        self.first_seen.push(first_seen);
        id
    }

    /// The answer for `b`'s facts with these users' first days.
    pub fn finish(self, b: UsersBuilder<'_>, agent: AgentRef) -> UsersResponse {
        let q = b.q;
        let first = self.first_seen;
        // An unknown first seen (`i64::MAX`: the store found none) leaves the user's first
        // active day to stand in for it.
        b.finish(agent, |u| match first.get(u as usize) {
            Some(&t) if t != i64::MAX => (q.local_date(t) - q.from).num_days(),
            _ => i64::MAX,
        })
    }
}

/// The local day (from `from`) of an instant in `q`'s range.
pub fn day_of(q: &MetricsQuery, us: crate::time::Micros) -> Option<u32> {
    u32::try_from((q.local_date(us) - q.from).num_days()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(from: &str, to: &str) -> MetricsQuery {
        let p: HashMap<String, String> =
            [("from", from), ("to", to)].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        super::super::query::parse(&p, &[], 0).unwrap()
    }

    fn agent() -> AgentRef {
        AgentRef { id: 1, name: "a".into() }
    }

    #[test]
    fn periods_are_clipped_days_weeks_and_months() {
        let r = q("2026-05-06", "2026-06-02"); // Wednesday 6 May to Tuesday 2 June
        let w = Periods::new(&r, Interval::Week);
        assert_eq!(w.labels, ["2026-05-06", "2026-05-11", "2026-05-18", "2026-05-25", "2026-06-01"]);
        assert_eq!((w.of_day[4], w.of_day[5]), (0, 1), "Sunday 10 May, Monday 11 May");
        let m = Periods::new(&r, Interval::Month);
        assert_eq!(m.labels, ["2026-05-06", "2026-06-01"]);
        assert_eq!(Periods::new(&r, Interval::Day).len(), 28);
    }

    #[test]
    fn new_returning_active_and_cohorts_from_facts() {
        // Three weeks from Monday 4 May. u0 first seen before the range, active in weeks 0 and 2;
        // u1 new on day 1 and back on day 2 and in week 1; u2 new in week 1 only.
        let r = q("2026-05-04", "2026-05-24");
        let mut b = UsersBuilder::new(&r, Interval::Day);
        for (u, d) in [(0, 0), (0, 15), (1, 1), (1, 2), (1, 2), (1, 8), (2, 9)] {
            b.add(u, d);
        }
        let firsts = [-3i64, 1, 9];
        let o = b.finish(agent(), |u| firsts[u as usize]);
        assert_eq!((o.totals.users, o.totals.new_users, o.totals.returning_users), (3, 2, 1));
        let nr: Vec<(u64, u64)> = o.new_returning.iter().map(|p| (p.new, p.returning)).collect();
        assert_eq!(&nr[..3], [(0, 1), (1, 0), (0, 1)]);
        assert_eq!((nr[8], nr[9], nr[15]), ((0, 1), (1, 0), (0, 1)));
        assert_eq!(o.active.weekly.iter().map(|p| p.users).collect::<Vec<_>>(), [2, 2, 1]);
        assert_eq!(o.active.monthly.iter().map(|p| p.users).collect::<Vec<_>>(), [3]);
        let c: Vec<(&str, u64, Vec<u64>)> =
            o.cohorts.iter().map(|c| (c.week.as_str(), c.users, c.retained.clone())).collect();
        assert_eq!(
            c,
            [("2026-05-04", 1, vec![1, 1, 0]), ("2026-05-11", 1, vec![1, 0]), ("2026-05-18", 0, vec![0])]
        );
        let mut w = UsersBuilder::new(&r, Interval::Week);
        for (u, d) in [(0, 0), (1, 1), (1, 8)] {
            w.add(u, d);
        }
        let o = w.finish(agent(), |u| firsts[u as usize]);
        let nr: Vec<(u64, u64, u64)> =
            o.new_returning.iter().map(|p| (p.active, p.new, p.returning)).collect();
        assert_eq!(nr, [(2, 1, 1), (1, 0, 1), (0, 0, 0)]);
    }

    #[test]
    fn a_long_range_keeps_its_latest_cohorts() {
        let r = q("2024-01-01", "2026-12-31");
        let mut b = UsersBuilder::new(&r, Interval::Week);
        let last = (r.days() - 1) as u32;
        b.add(0, last);
        let o = b.finish(agent(), |_| i64::from(last));
        assert_eq!(o.cohorts.len(), USER_COHORT_WEEKS);
        assert_eq!(o.cohorts.last().map(|c| (c.users, c.retained.len())), Some((1, 1)));
        assert_eq!(o.cohorts[0].retained.len(), USER_COHORT_WEEKS);
    }

    #[test]
    fn interval_is_day_or_week() {
        let p = |v: &str| -> HashMap<String, String> { [("interval".to_string(), v.to_string())].into() };
        assert_eq!(parse_interval(&HashMap::new()).unwrap(), Interval::Day);
        assert_eq!(parse_interval(&p("week")).unwrap(), Interval::Week);
        for bad in ["hour", "month", "year"] {
            assert!(parse_interval(&p(bad)).unwrap_err().0.contains_key("interval"));
        }
    }
}
