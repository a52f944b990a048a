//! A plain in-memory computation of the overview, written straight from `docs/metrics.md`
//! without any of the store's shortcuts. Tests check every backend against it.

use std::collections::{BTreeMap, HashMap, HashSet};

use agentsight_protocol::metrics::*;
use serde_json::Value;

use super::TOKEN_USAGE_ACTION;
use super::build::{CityCount, CityKey, MAX_CITIES, WEEKDAYS};
use super::feedback::{self, Sentiment};
use super::query::{DimFilter, MetricsQuery};
use crate::time::Micros;

/// A stored conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefConversation {
    /// Primary key.
    pub pk: i64,
    /// Start.
    pub started_at: Micros,
    /// Explicit end.
    pub ended_at: Option<Micros>,
    /// Customer.
    pub customer_id: Option<String>,
    /// Device.
    pub device: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Environment.
    pub environment: Option<String>,
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
    /// Soft-deleted: it and everything in it leave every metric.
    pub is_deleted: bool,
    /// Metadata document.
    pub metadata: Value,
}

/// What a transcript entry is.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryKind {
    /// A message.
    Message {
        /// `end_user` | `agent` | `system`.
        sender: String,
        /// Its text.
        content: String,
    },
    /// An action.
    Action {
        /// Name.
        name: String,
        /// Duration given.
        duration_ms: Option<i64>,
        /// Start given.
        started_at: Option<Micros>,
        /// End given.
        ended_at: Option<Micros>,
        /// Error message.
        error: Option<String>,
    },
    /// A button press.
    Button,
}

/// A message, action or button, in arrival order by `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefEntry {
    /// Arrival order.
    pub id: i64,
    /// Conversation.
    pub conversation_pk: i64,
    /// Event time (for an action: `started_at` when given).
    pub ts: Micros,
    /// What it is.
    pub kind: EntryKind,
}

/// An explicit feedback record.
#[derive(Debug, Clone, PartialEq)]
pub struct RefFeedback {
    /// Arrival order.
    pub id: i64,
    /// Conversation.
    pub conversation_pk: i64,
    /// When it was recorded.
    pub created_at: Micros,
    /// Sentiment.
    pub sentiment: String,
}

/// Everything one agent stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    /// Conversations.
    pub conversations: Vec<RefConversation>,
    /// Messages, actions, buttons.
    pub entries: Vec<RefEntry>,
    /// Explicit feedback.
    pub feedbacks: Vec<RefFeedback>,
}

fn dim_matches(f: &Option<DimFilter>, v: &Option<String>) -> bool {
    match f {
        None => true,
        Some(DimFilter::Unknown) => v.is_none(),
        Some(DimFilter::Is(x)) => v.as_deref() == Some(x.as_str()),
    }
}

/// The text a metadata value compares as: strings as themselves, integers in decimal,
/// booleans as `true`/`false`; other values never match.
pub fn metadata_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

fn matches(q: &MetricsQuery, c: &RefConversation) -> bool {
    let f = &q.filters;
    !c.is_deleted
        && dim_matches(&f.environment, &c.environment)
        && dim_matches(&f.source, &c.source)
        && dim_matches(&f.device, &c.device)
        && dim_matches(&f.language, &c.language)
        && dim_matches(&f.country, &c.country)
        && dim_matches(&f.customer_id, &c.customer_id)
        && f.metadata
            .as_ref()
            .is_none_or(|(k, v)| c.metadata.get(k).and_then(metadata_text).is_some_and(|t| t == *v))
}

fn group<K: Ord + Clone>(items: impl Iterator<Item = K>) -> Vec<(K, u64)> {
    let mut m: BTreeMap<K, u64> = BTreeMap::new();
    for k in items {
        *m.entry(k).or_default() += 1;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    v
}

/// Nulls last, for `Option` keys grouped in a `BTreeMap` (where `None` sorts first).
fn nulls_last<T>(v: Vec<(Option<T>, u64)>) -> Vec<(Option<T>, u64)> {
    let mut v = v;
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.is_none().cmp(&b.0.is_none())));
    v
}

/// The overview of `d` for `q`, counting `escalation` action names as escalations.
pub fn overview(d: &Dataset, q: &MetricsQuery, escalation: &[String], agent: AgentRef) -> OverviewResponse {
    let (start, end) = q.instants();
    let in_range = |t: Micros| t >= start && t < end;
    let conv: HashMap<i64, &RefConversation> = d.conversations.iter().map(|c| (c.pk, c)).collect();
    let conv_ok = |pk: i64| conv.get(&pk).is_some_and(|c| matches(q, c));

    let convs: Vec<&RefConversation> =
        d.conversations.iter().filter(|c| in_range(c.started_at) && matches(q, c)).collect();
    let msgs: Vec<(&RefEntry, &str)> = d
        .entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Message { sender, .. } => Some((e, sender.as_str())),
            _ => None,
        })
        .filter(|(e, _)| in_range(e.ts) && conv_ok(e.conversation_pk))
        .collect();

    let mut by_sender = BySender::default();
    let mut matrix = vec![vec![0u64; 24]; 7];
    let mut daily_m: BTreeMap<String, u64> = BTreeMap::new();
    for (e, sender) in &msgs {
        match *sender {
            "end_user" => by_sender.end_user += 1,
            "agent" => by_sender.agent += 1,
            _ => by_sender.system += 1,
        }
        let (wd, h) = q.weekday_hour(e.ts);
        matrix[wd][h] += 1;
        *daily_m.entry(q.local_date(e.ts).to_string()).or_default() += 1;
    }
    let mut daily_c: BTreeMap<String, u64> = BTreeMap::new();
    for c in &convs {
        *daily_c.entry(q.local_date(c.started_at).to_string()).or_default() += 1;
    }
    let daily = (0..q.days())
        .map(|i| {
            let date = (q.from + chrono::Duration::days(i)).to_string();
            DailyRow {
                messages: daily_m.get(&date).copied().unwrap_or(0),
                conversations: daily_c.get(&date).copied().unwrap_or(0),
                date,
            }
        })
        .collect();

    // Responses: per conversation, messages by event time then arrival.
    let mut per_conv: HashMap<i64, Vec<(&RefEntry, &str)>> = HashMap::new();
    for e in &d.entries {
        if let EntryKind::Message { sender, .. } = &e.kind {
            per_conv.entry(e.conversation_pk).or_default().push((e, sender.as_str()));
        }
    }
    let (mut responses, mut response_sum) = (0u64, 0i128);
    for (pk, list) in per_conv.iter_mut() {
        if !conv_ok(*pk) {
            continue;
        }
        list.sort_by_key(|(e, _)| (e.ts, e.id));
        for w in list.windows(2) {
            let ((prev, ps), (cur, cs)) = (w[0], w[1]);
            if cs == "agent" && ps == "end_user" && in_range(cur.ts) {
                responses += 1;
                response_sum += i128::from(cur.ts - prev.ts);
            }
        }
    }

    // Durations over conversations in range with at least one message.
    let (mut dur_n, mut dur_sum) = (0u64, 0i128);
    for c in &convs {
        let mine: Vec<&RefEntry> = d.entries.iter().filter(|e| e.conversation_pk == c.pk).collect();
        if !mine.iter().any(|e| matches!(e.kind, EntryKind::Message { .. })) {
            continue;
        }
        let ended = c.ended_at.or_else(|| mine.iter().map(|e| e.ts).max());
        if let Some(ended) = ended {
            dur_n += 1;
            dur_sum += i128::from(ended - c.started_at);
        }
    }

    // Tools.
    let mut tools: BTreeMap<String, (u64, u64, f64, u64)> = BTreeMap::new();
    for e in &d.entries {
        if let EntryKind::Action { name, duration_ms, started_at, ended_at, error } = &e.kind {
            if name == TOKEN_USAGE_ACTION || !in_range(e.ts) || !conv_ok(e.conversation_pk) {
                continue;
            }
            let t = tools.entry(name.clone()).or_default();
            t.0 += 1;
            let known = duration_ms.map(|d| d as f64).or_else(|| match (started_at, ended_at) {
                (Some(s), Some(f)) => Some((f - s) as f64 / 1000.0),
                _ => None,
            });
            if let Some(ms) = known {
                t.1 += 1;
                t.2 += ms;
            }
            if error.as_deref().is_some_and(|m| !m.is_empty()) {
                t.3 += 1;
            }
        }
    }
    let mut tools: Vec<ToolRow> = tools
        .into_iter()
        .map(|(name, (calls, known, sum, errors))| ToolRow {
            name,
            calls,
            avg_duration_ms: (known > 0).then(|| sum / known as f64),
            errors,
        })
        .collect();
    tools.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));

    // Escalation: an escalation action at any time.
    let escalated: HashSet<i64> = d
        .entries
        .iter()
        .filter(|e| matches!(&e.kind, EntryKind::Action { name, .. } if escalation.contains(name)))
        .map(|e| e.conversation_pk)
        .collect();
    let n_escalated = convs.iter().filter(|c| escalated.contains(&c.pk)).count() as u64;

    // Feedback: the latest explicit record, else metadata.feedback.
    let mut latest: HashMap<i64, &RefFeedback> = HashMap::new();
    for f in &d.feedbacks {
        let e = latest.entry(f.conversation_pk).or_insert(f);
        if (f.created_at, f.id) > (e.created_at, e.id) {
            *e = f;
        }
    }
    let (mut pos, mut neu, mut neg, mut r_n, mut r_sum) = (0u64, 0u64, 0u64, 0u64, 0f64);
    for c in &convs {
        let fb = feedback::effective(latest.get(&c.pk).map(|f| f.sentiment.as_str()), Some(&c.metadata));
        if let Some(fb) = fb {
            match fb.sentiment {
                Sentiment::Positive => pos += 1,
                Sentiment::Neutral => neu += 1,
                Sentiment::Negative => neg += 1,
            }
            if let Some(r) = fb.rating {
                r_n += 1;
                r_sum += r;
            }
        }
    }
    let total = convs.len() as u64;
    let used = convs.iter().filter(|c| c.is_used).count() as u64;
    let rate = |n: u64| if total == 0 { 0.0 } else { n as f64 / total as f64 };
    let users: HashSet<&str> =
        convs.iter().filter_map(|c| c.customer_id.as_deref()).filter(|u| !u.is_empty()).collect();

    // A city's coordinates are those of its first-created conversation in range.
    let mut cities: BTreeMap<CityKey, (i64, CityCount)> = BTreeMap::new();
    for c in &convs {
        let e = cities.entry((c.country.clone(), c.city.clone())).or_insert((c.pk, (c.lat, c.lon, 0)));
        if c.pk < e.0 {
            (e.0, e.1.0, e.1.1) = (c.pk, c.lat, c.lon);
        }
        e.1.2 += 1;
    }
    let mut cities: Vec<(CityKey, CityCount)> = cities.into_iter().map(|(k, (_, v))| (k, v)).collect();
    cities.sort_by(|a, b| {
        b.1.2
            .cmp(&a.1.2)
            .then_with(|| a.0.1.is_none().cmp(&b.0.1.is_none()))
            .then_with(|| a.0.1.cmp(&b.0.1))
            .then_with(|| a.0.0.is_none().cmp(&b.0.0.is_none()))
            .then_with(|| a.0.0.cmp(&b.0.0))
    });
    cities.truncate(MAX_CITIES);

    OverviewResponse {
        agent,
        range: q.range_ref(),
        filters: q.filters.to_json(),
        total_messages: msgs.len() as u64,
        messages_by_sender: by_sender,
        total_conversations: total,
        unique_interactions: used,
        unique_interaction_rate: rate(used),
        avg_bot_response_time_ms: (responses > 0).then(|| response_sum as f64 / responses as f64 / 1000.0),
        bot_responses: responses,
        avg_conversation_duration_ms: (dur_n > 0).then(|| dur_sum as f64 / dur_n as f64 / 1000.0),
        peak_hours: PeakHours { weekdays: WEEKDAYS.iter().map(|s| s.to_string()).collect(), matrix },
        daily,
        tools,
        countries: nulls_last(group(convs.iter().map(|c| c.country.clone())))
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
        devices: nulls_last(group(convs.iter().map(|c| c.device.clone())))
            .into_iter()
            .map(|(device, conversations)| DeviceRow { device, conversations })
            .collect(),
        sources: nulls_last(group(convs.iter().map(|c| c.source.clone())))
            .into_iter()
            .map(|(source, conversations)| SourceRow { source, conversations })
            .collect(),
        languages: nulls_last(group(convs.iter().map(|c| c.language.clone())))
            .into_iter()
            .map(|(language, conversations)| LanguageRow { language, conversations })
            .collect(),
        unique_users: users.len() as u64,
        human_escalation: Escalation { conversations: n_escalated, rate: rate(n_escalated) },
        feedback: FeedbackSummary {
            positive: pos,
            neutral: neu,
            negative: neg,
            total: pos + neu + neg,
            satisfaction_rate: (pos + neu + neg > 0).then(|| pos as f64 / (pos + neu + neg) as f64),
            ratings: Ratings { count: r_n, average: (r_n > 0).then(|| r_sum / r_n as f64) },
        },
        previous: None,
    }
}

/// The overview of `q` with, when a comparison is asked, the overview of the compared range
/// (`docs/metrics.md`, *Comparison with another range*) as its `previous`.
pub fn overview_compared(
    d: &Dataset,
    q: &MetricsQuery,
    compared: Option<&MetricsQuery>,
    escalation: &[String],
    agent: AgentRef,
) -> OverviewResponse {
    let mut o = overview(d, q, escalation, agent.clone());
    o.previous = compared.map(|c| Box::new(overview(d, c, escalation, agent)));
    o
}

/// `per_conversation` and `top_conversations` of `GET /api/metrics/llm/`, straight from
/// docs/metrics.md: over the conversations with a priced row, the mean is the whole pico-USD
/// nearest to Σ/n (the larger on a tie), the 95th percentile the smallest cost that at least
/// 95 % of them do not exceed, the top the first `top` of them sorted by cost, calls, pk.
pub fn llm_conversation_costs(
    rows: &[super::llm::ConversationUsage],
    top: usize,
) -> (agentsight_protocol::v01::LlmPerConversation, Vec<super::llm::ConversationUsage>) {
    use crate::prices::pico_to_decimal;
    let priced: Vec<_> = rows.iter().filter(|r| r.priced).copied().collect();
    if priced.is_empty() {
        return (Default::default(), Vec::new());
    }
    let n = priced.len() as i128;
    let sum: i128 = priced.iter().map(|r| r.cost_pico as i128).sum();
    // The nearest whole m: |m·n − Σ| smallest, the larger m on a tie.
    let floor = sum.div_euclid(n);
    let mean = if 2 * (sum - floor * n) >= n { floor + 1 } else { floor };
    let p95 = priced
        .iter()
        .map(|r| r.cost_pico)
        .filter(|&c| {
            let at_most = priced.iter().filter(|o| o.cost_pico <= c).count() as i128;
            100 * at_most >= 95 * n
        })
        .min()
        .unwrap_or_default(); // never empty: the largest cost qualifies
    let mut sorted = priced.clone();
    sorted.sort_by_key(|r| (std::cmp::Reverse(r.cost_pico), std::cmp::Reverse(r.calls), r.conversation_pk));
    sorted.truncate(top);
    (
        agentsight_protocol::v01::LlmPerConversation {
            conversations: priced.len() as i64,
            average_cost_usd: Some(pico_to_decimal(mean as i64)),
            p95_cost_usd: Some(pico_to_decimal(p95)),
        },
        sorted,
    )
}

/// `GET /api/metrics/failures/` straight from docs/metrics.md (*Where the bot fails*), with
/// liveness measured at `now`.
pub fn failures(
    d: &Dataset,
    q: &MetricsQuery,
    escalation: &[String],
    p: &super::failures::FailureParams,
    agent: AgentRef,
) -> FailuresResponse {
    use crate::limits::ESCALATION_TURNS_CAP;
    let (start, end) = q.instants();
    let in_range = |t: Micros| t >= start && t < end;
    let cutoff = p.now - p.idle_minutes * 60_000_000;
    let convs: Vec<&RefConversation> =
        d.conversations.iter().filter(|c| in_range(c.started_at) && matches(q, c)).collect();
    let (mut engaged, mut awaiting, mut unanswered, mut abandoned) = (0u64, 0u64, 0u64, 0u64);
    let mut escalated = 0u64;
    let mut by_turns = vec![0u64; ESCALATION_TURNS_CAP as usize + 1];
    let mut tool_convs: BTreeMap<String, u64> = BTreeMap::new();
    let mut with_tool_error = 0u64;
    let mut questions: BTreeMap<String, Vec<&RefConversation>> = BTreeMap::new();
    for c in &convs {
        let mut mine: Vec<&RefEntry> = d.entries.iter().filter(|e| e.conversation_pk == c.pk).collect();
        mine.sort_by_key(|e| (e.ts, e.id));
        let talk: Vec<(&RefEntry, bool, &str)> = mine
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Message { sender, content } if sender == "end_user" => {
                    Some((*e, true, content.as_str()))
                }
                EntryKind::Message { sender, content } if sender == "agent" => {
                    Some((*e, false, content.as_str()))
                }
                _ => None,
            })
            .collect();
        let first_escalation = mine
            .iter()
            .find(|e| matches!(&e.kind, EntryKind::Action { name, .. } if escalation.contains(name)));
        if let Some(x) = first_escalation {
            escalated += 1;
            let before =
                talk.iter().filter(|(e, user, _)| *user && (e.ts, e.id) < (x.ts, x.id)).count() as u32;
            by_turns[before.min(ESCALATION_TURNS_CAP) as usize] += 1;
        }
        let failed: std::collections::BTreeSet<&str> = mine
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Action { name, error, .. }
                    if name != TOKEN_USAGE_ACTION && error.as_deref().is_some_and(|m| !m.is_empty()) =>
                {
                    Some(name.as_str())
                }
                _ => None,
            })
            .collect();
        with_tool_error += u64::from(!failed.is_empty());
        for name in failed {
            *tool_convs.entry(name.to_string()).or_default() += 1;
        }
        let Some(first_user) = talk.iter().find(|(_, user, _)| *user) else { continue };
        engaged += 1;
        if let Some(question) = super::failures::normalize_question(first_user.2) {
            questions.entry(question).or_default().push(c);
        }
        let (last, last_is_user, _) = talk[talk.len() - 1];
        if last.ts > cutoff {
            awaiting += 1;
        } else if last_is_user {
            unanswered += 1;
        } else if first_escalation.is_none() {
            abandoned += 1;
        }
    }
    let settled = engaged - awaiting;
    let share = |n: u64| (settled > 0).then(|| n as f64 / settled as f64);

    let o = overview(d, q, escalation, agent.clone());
    let mut names: std::collections::BTreeSet<String> = tool_convs.keys().cloned().collect();
    names.extend(o.tools.iter().filter(|t| t.errors > 0).map(|t| t.name.clone()));
    let mut tools: Vec<ToolErrorRow> = names
        .into_iter()
        .map(|name| {
            let row = o.tools.iter().find(|t| t.name == name);
            let (calls, errors) = row.map(|t| (t.calls, t.errors)).unwrap_or((0, 0));
            ToolErrorRow {
                conversations: tool_convs.get(&name).copied().unwrap_or(0),
                name,
                calls,
                errors,
                error_rate: (calls > 0).then(|| errors as f64 / calls as f64),
            }
        })
        .collect();
    tools.sort_by(|a, b| {
        (std::cmp::Reverse(a.errors), std::cmp::Reverse(a.conversations), &a.name).cmp(&(
            std::cmp::Reverse(b.errors),
            std::cmp::Reverse(b.conversations),
            &b.name,
        ))
    });
    let distinct = questions.len() as u64;
    let mut top: Vec<FirstQuestionRow> = questions
        .into_iter()
        .map(|(question, list)| FirstQuestionRow {
            question,
            conversations: list.len() as u64,
            sample_conversation: list.iter().map(|c| c.pk).min().unwrap_or_default(),
            sample_conversation_id: String::new(),
        })
        .collect();
    top.sort_by(|a, b| {
        (std::cmp::Reverse(a.conversations), &a.question)
            .cmp(&(std::cmp::Reverse(b.conversations), &b.question))
    });
    top.truncate(p.top);
    let total = convs.len() as u64;
    FailuresResponse {
        agent,
        range: q.range_ref(),
        filters: q.filters.to_json(),
        now: crate::time::to_iso(p.now),
        idle_minutes: p.idle_minutes,
        conversations: total,
        engaged,
        awaiting,
        settled,
        unanswered: FailureCount { conversations: unanswered, rate: share(unanswered) },
        abandoned: FailureCount { conversations: abandoned, rate: share(abandoned) },
        tool_errors: ToolErrors {
            calls: o.tools.iter().map(|t| t.calls).sum(),
            errors: o.tools.iter().map(|t| t.errors).sum(),
            conversations: with_tool_error,
            tools,
        },
        escalations: EscalationTurns {
            conversations: escalated,
            rate: if total == 0 { 0.0 } else { escalated as f64 / total as f64 },
            by_turns: by_turns
                .into_iter()
                .enumerate()
                .map(|(i, n)| TurnsRow {
                    turns: i as u32,
                    or_more: i as u32 == ESCALATION_TURNS_CAP,
                    conversations: n,
                })
                .collect(),
        },
        first_questions: FirstQuestions { conversations: engaged, distinct, top },
    }
}

/// `GET /api/metrics/users/` straight from docs/metrics.md (*Users over time*): sets of
/// customer ids per local day, ISO week and calendar month of the range, and each user's first
/// day over every conversation of the agent that is not deleted, whatever the filters.
pub fn users(
    d: &Dataset,
    q: &MetricsQuery,
    interval: super::series::Interval,
    agent: AgentRef,
) -> UsersResponse {
    use super::series::Interval;
    use chrono::{Datelike, Duration, NaiveDate};
    let (start, end) = q.instants();
    let user_of = |c: &RefConversation| c.customer_id.clone().filter(|u| !u.is_empty());
    // First seen: the earliest start over every live conversation of the user.
    let mut first: HashMap<String, Micros> = HashMap::new();
    for c in d.conversations.iter().filter(|c| !c.is_deleted) {
        if let Some(u) = user_of(c) {
            let f = first.entry(u).or_insert(c.started_at);
            *f = (*f).min(c.started_at);
        }
    }
    let first_day = |u: &str| q.local_date(first[u]);
    // Activity: (user, local date) of the conversations in range that match.
    let activity: Vec<(String, NaiveDate)> = d
        .conversations
        .iter()
        .filter(|c| c.started_at >= start && c.started_at < end && matches(q, c))
        .filter_map(|c| user_of(c).map(|u| (u, q.local_date(c.started_at))))
        .collect();
    // A period: its first day in the range, for a grain.
    let period = |date: NaiveDate, grain: Interval| -> NaiveDate {
        let p = match grain {
            Interval::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
            Interval::Month => NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date),
            _ => date,
        };
        p.max(q.from)
    };
    let periods = |grain: Interval| -> Vec<NaiveDate> {
        let mut v: Vec<NaiveDate> =
            (0..q.days()).map(|i| period(q.from + Duration::days(i), grain)).collect();
        v.dedup();
        v
    };
    let active = |grain: Interval| -> BTreeMap<NaiveDate, HashSet<&str>> {
        let mut m: BTreeMap<NaiveDate, HashSet<&str>> = BTreeMap::new();
        for (u, date) in &activity {
            m.entry(period(*date, grain)).or_default().insert(u.as_str());
        }
        m
    };
    let label = |d: &NaiveDate| d.format("%Y-%m-%d").to_string();
    let points = |grain: Interval| -> Vec<ActiveUsersPoint> {
        let a = active(grain);
        periods(grain)
            .iter()
            .map(|p| ActiveUsersPoint { start: label(p), users: a.get(p).map_or(0, |s| s.len() as u64) })
            .collect()
    };

    let all: HashSet<&str> = activity.iter().map(|(u, _)| u.as_str()).collect();
    let new_users = all.iter().filter(|u| first_day(u) >= q.from).count() as u64;
    let grain = if interval == Interval::Week { Interval::Week } else { Interval::Day };
    let by_grain = active(grain);
    let new_returning = periods(grain)
        .iter()
        .map(|p| {
            let users = by_grain.get(p).cloned().unwrap_or_default();
            // New in the period: first day in it (never after it, being active in it).
            let new = users.iter().filter(|u| first_day(u) >= *p).count() as u64;
            NewReturningPoint {
                start: label(p),
                active: users.len() as u64,
                new,
                returning: users.len() as u64 - new,
            }
        })
        .collect();

    let weeks = periods(Interval::Week);
    let by_week = active(Interval::Week);
    let shown = weeks.len().saturating_sub(crate::limits::USER_COHORT_WEEKS);
    let cohorts = (shown..weeks.len())
        .map(|w| {
            let week = weeks[w];
            // Its new users: active in the week, first seen in it (not before it).
            let cohort: Vec<&str> = by_week
                .get(&week)
                .map(|s| s.iter().copied().filter(|u| first_day(u) >= week).collect())
                .unwrap_or_default();
            let retained = weeks[w..]
                .iter()
                .map(|later| {
                    let there = by_week.get(later);
                    cohort.iter().filter(|u| there.is_some_and(|s| s.contains(*u))).count() as u64
                })
                .collect();
            CohortRow { week: label(&week), users: cohort.len() as u64, retained }
        })
        .collect();

    UsersResponse {
        agent,
        range: q.range_ref(),
        filters: q.filters.to_json(),
        interval: grain.name().to_string(),
        totals: UsersTotals {
            users: all.len() as u64,
            new_users,
            returning_users: all.len() as u64 - new_users,
        },
        new_returning,
        active: ActiveUsers {
            daily: points(Interval::Day),
            weekly: points(Interval::Week),
            monthly: points(Interval::Month),
        },
        cohorts,
    }
}
