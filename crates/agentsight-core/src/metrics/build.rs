//! Assembles an overview from facts a store gathered: conversations in range, messages in
//! range, responses, tools. Grouping, zero-filling, local-time bucketing and sorting live here
//! once, for every backend.

use std::collections::{HashMap, HashSet};

use agentsight_protocol::metrics::*;

use super::feedback::{Feedback, Sentiment};
use super::query::MetricsQuery;
use crate::time::Micros;

/// Weekday names, the rows of the peak-hours matrix.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Cities kept in the overview.
pub const MAX_CITIES: usize = 100;

/// A city: (country, city).
pub type CityKey = (Option<String>, Option<String>);
/// A city's coordinates and conversations.
pub type CityCount = (Option<f64>, Option<f64>, u64);

/// A conversation in range, as the overview needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationFact {
    /// Primary key (the first-created conversation of a city gives its coordinates).
    pub pk: i64,
    /// Start (event time).
    pub started_at: Micros,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Device.
    pub device: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// Used.
    pub is_used: bool,
    /// Effective feedback.
    pub feedback: Option<Feedback>,
    /// Has an escalation action (at any time).
    pub escalated: bool,
    /// `ended_at - started_at`, when it has at least one message.
    pub duration_us: Option<i64>,
}

/// An overview already aggregated, ready to be put in the response shape. Every backend and
/// plan fills one; [`OverviewParts::assemble`] applies the sorting, top-N and rate rules once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OverviewParts {
    /// Messages by local day of the range (index 0 = `from`).
    pub daily_messages: Vec<u64>,
    /// Conversations by local day of `started_at`.
    pub daily_conversations: Vec<u64>,
    /// Messages by local weekday (0 = Monday) and hour.
    pub matrix: [[u64; 24]; 7],
    /// Messages by sender.
    pub by_sender: BySender,
    /// Messages in range.
    pub total_messages: u64,
    /// Conversations in range.
    pub total_conversations: u64,
    /// Used conversations in range.
    pub used: u64,
    /// Conversations with a duration, and the sum of their durations in µs.
    pub durations: (u64, i128),
    /// Bot responses, and the sum of their times in µs.
    pub responses: (u64, i128),
    /// Conversations by device.
    pub devices: Vec<(Option<String>, u64)>,
    /// Conversations by source.
    pub sources: Vec<(Option<String>, u64)>,
    /// Conversations by language.
    pub languages: Vec<(Option<String>, u64)>,
    /// Conversations by country.
    pub countries: Vec<(Option<String>, u64)>,
    /// Conversations by (country, city), with the coordinates of the city's first conversation.
    pub cities: Vec<(CityKey, CityCount)>,
    /// Distinct non-empty customer ids.
    pub unique_users: u64,
    /// Escalated conversations.
    pub escalated: u64,
    /// Conversations by effective feedback: positive, neutral, negative.
    pub feedback: [u64; 3],
    /// Ratings: how many, and their sum.
    pub ratings: (u64, f64),
    /// Tools (any order; sorted by `assemble`).
    pub tools: Vec<ToolRow>,
}

impl OverviewParts {
    /// Empty parts for the query's range (zero-filled days).
    pub fn new(q: &MetricsQuery) -> Self {
        let days = q.days().max(0) as usize;
        OverviewParts {
            daily_messages: vec![0; days],
            daily_conversations: vec![0; days],
            ..Default::default()
        }
    }

    /// Counts a feedback.
    pub fn add_feedback(&mut self, f: &Feedback) {
        let i = match f.sentiment {
            Sentiment::Positive => 0,
            Sentiment::Neutral => 1,
            Sentiment::Negative => 2,
        };
        self.feedback[i] += 1;
        if let Some(r) = f.rating {
            self.ratings.0 += 1;
            self.ratings.1 += r;
        }
    }

    /// The response: lists sorted by count descending, then value, nulls last; the top
    /// [`MAX_CITIES`] cities; rates and means.
    pub fn assemble(self, q: &MetricsQuery, agent: AgentRef) -> OverviewResponse {
        let day0 = q.from;
        let daily = (0..self.daily_messages.len())
            .map(|i| DailyRow {
                date: (day0 + chrono::Duration::days(i as i64)).format("%Y-%m-%d").to_string(),
                messages: self.daily_messages[i],
                conversations: self.daily_conversations.get(i).copied().unwrap_or(0),
            })
            .collect();
        let mut cities = self.cities;
        cities.sort_by(|a, b| {
            b.1.2
                .cmp(&a.1.2)
                .then_with(|| cmp_nulls_last(&a.0.1, &b.0.1))
                .then_with(|| cmp_nulls_last(&a.0.0, &b.0.0))
        });
        cities.truncate(MAX_CITIES);
        let mut tools = self.tools;
        tools.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
        let [positive, neutral, negative] = self.feedback;
        let total = positive + neutral + negative;
        let n = self.total_conversations;
        let rate = |k: u64| if n == 0 { 0.0 } else { k as f64 / n as f64 };
        OverviewResponse {
            agent,
            range: q.range_ref(),
            filters: q.filters.to_json(),
            total_messages: self.total_messages,
            messages_by_sender: self.by_sender,
            total_conversations: n,
            unique_interactions: self.used,
            unique_interaction_rate: rate(self.used),
            avg_bot_response_time_ms: mean_ms(self.responses.0, self.responses.1),
            bot_responses: self.responses.0,
            avg_conversation_duration_ms: mean_ms(self.durations.0, self.durations.1),
            peak_hours: PeakHours {
                weekdays: WEEKDAYS.iter().map(|s| s.to_string()).collect(),
                matrix: self.matrix.iter().map(|r| r.to_vec()).collect(),
            },
            daily,
            tools,
            countries: sorted(self.countries)
                .into_iter()
                .map(|(country, conversations)| CountryRow { country, conversations })
                .collect(),
            cities: cities
                .into_iter()
                .map(|((country, city), (lat, lon, conversations))| CityRow {
                    country,
                    city,
                    lat,
                    lon,
                    conversations,
                })
                .collect(),
            devices: sorted(self.devices)
                .into_iter()
                .map(|(device, conversations)| DeviceRow { device, conversations })
                .collect(),
            sources: sorted(self.sources)
                .into_iter()
                .map(|(source, conversations)| SourceRow { source, conversations })
                .collect(),
            languages: sorted(self.languages)
                .into_iter()
                .map(|(language, conversations)| LanguageRow { language, conversations })
                .collect(),
            unique_users: self.unique_users,
            human_escalation: Escalation { conversations: self.escalated, rate: rate(self.escalated) },
            feedback: FeedbackSummary {
                positive,
                neutral,
                negative,
                total,
                satisfaction_rate: (total > 0).then(|| positive as f64 / total as f64),
                ratings: Ratings {
                    count: self.ratings.0,
                    average: (self.ratings.0 > 0).then(|| self.ratings.1 / self.ratings.0 as f64),
                },
            },
            previous: None,
        }
    }
}

/// Collects facts one conversation and one message at a time (the raw plans) and produces
/// the overview.
pub struct OverviewBuilder<'q> {
    q: &'q MetricsQuery,
    parts: OverviewParts,
    devices: HashMap<Option<String>, u64>,
    sources: HashMap<Option<String>, u64>,
    languages: HashMap<Option<String>, u64>,
    countries: HashMap<Option<String>, u64>,
    /// City → (pk of its first conversation, lat, lon, conversations).
    cities: HashMap<CityKey, (i64, Option<f64>, Option<f64>, u64)>,
    users: HashSet<String>,
}

fn bump(m: &mut HashMap<Option<String>, u64>, k: &Option<String>) {
    *m.entry(k.clone()).or_default() += 1;
}

/// Sorts by count descending, then by value, nulls last.
fn sorted(mut v: Vec<(Option<String>, u64)>) -> Vec<(Option<String>, u64)> {
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| cmp_nulls_last(&a.0, &b.0)));
    v
}

fn cmp_nulls_last(a: &Option<String>, b: &Option<String>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

fn mean_ms(n: u64, sum_us: i128) -> Option<f64> {
    (n > 0).then(|| sum_us as f64 / n as f64 / 1000.0)
}

impl<'q> OverviewBuilder<'q> {
    /// An empty overview for the query's range.
    pub fn new(q: &'q MetricsQuery) -> Self {
        OverviewBuilder {
            q,
            parts: OverviewParts::new(q),
            devices: HashMap::new(),
            sources: HashMap::new(),
            languages: HashMap::new(),
            countries: HashMap::new(),
            cities: HashMap::new(),
            users: HashSet::new(),
        }
    }

    fn day_index(&self, us: Micros) -> Option<usize> {
        let d = (self.q.local_date(us) - self.q.from).num_days();
        usize::try_from(d).ok().filter(|i| *i < self.parts.daily_messages.len())
    }

    /// A conversation in range.
    pub fn conversation(&mut self, c: &ConversationFact) {
        self.parts.total_conversations += 1;
        if let Some(i) = self.day_index(c.started_at) {
            self.parts.daily_conversations[i] += 1;
        }
        if c.is_used {
            self.parts.used += 1;
        }
        if let Some(d) = c.duration_us {
            self.parts.durations.0 += 1;
            self.parts.durations.1 += i128::from(d);
        }
        bump(&mut self.devices, &c.device);
        bump(&mut self.sources, &c.source);
        bump(&mut self.languages, &c.language);
        bump(&mut self.countries, &c.country);
        let city = self.cities.entry((c.country.clone(), c.city.clone())).or_insert((c.pk, c.lat, c.lon, 0));
        if c.pk < city.0 {
            (city.0, city.1, city.2) = (c.pk, c.lat, c.lon);
        }
        city.3 += 1;
        if let Some(u) = c.customer_id.as_deref().filter(|u| !u.is_empty()) {
            self.users.insert(u.to_string());
        }
        if c.escalated {
            self.parts.escalated += 1;
        }
        if let Some(f) = &c.feedback {
            self.parts.add_feedback(f);
        }
    }

    /// A message in range.
    pub fn message(&mut self, ts: Micros, sender: &str) {
        let p = &mut self.parts;
        p.total_messages += 1;
        match sender {
            "end_user" => p.by_sender.end_user += 1,
            "agent" => p.by_sender.agent += 1,
            _ => p.by_sender.system += 1,
        }
        if let Some(i) = self.day_index(ts) {
            self.parts.daily_messages[i] += 1;
        }
        let (wd, h) = self.q.weekday_hour(ts);
        self.parts.matrix[wd][h] += 1;
    }

    /// Bot responses in range: how many, and the sum of their times in µs.
    pub fn responses(&mut self, count: u64, sum_us: i128) {
        self.parts.responses.0 += count;
        self.parts.responses.1 += sum_us;
    }

    /// The tools table (already grouped by the store).
    pub fn tools(&mut self, tools: Vec<ToolRow>) {
        self.parts.tools = tools;
    }

    /// The finished overview.
    pub fn finish(self, agent: AgentRef) -> OverviewResponse {
        let mut parts = self.parts;
        parts.devices = self.devices.into_iter().collect();
        parts.sources = self.sources.into_iter().collect();
        parts.languages = self.languages.into_iter().collect();
        parts.countries = self.countries.into_iter().collect();
        parts.cities = self.cities.into_iter().map(|(k, (_, lat, lon, n))| (k, (lat, lon, n))).collect();
        parts.unique_users = self.users.len() as u64;
        parts.assemble(self.q, agent)
    }
}
