//! [`MetricsReader`] on ClickHouse: every metric of `docs/metrics.md` aggregated by ClickHouse
//! (`GROUP BY` in SQL; only grouped rows — days × hours × senders, dimension values, tool
//! names — come back), then put in the response shape by `agentsight_core::metrics::build`.
//!
//! * **One query shape for one server and a cluster.** Every query reads the tables by their
//!   plain names (`db.messages`, …: the `Distributed` tables on a cluster), and every
//!   per-conversation step (the latest version of a conversation, its last entry, its bot
//!   responses) sits in an `IN` or `JOIN` subquery. With `distributed_product_mode = local`
//!   (set on every request) a shard runs those subqueries on its own `_local` tables, which is
//!   exact because a conversation's rows all sit on one shard, and the initiator merges only
//!   the outer aggregates (counts, sums, `uniqExact` and `argMin` states).
//! * **The current conversation row**: `conversations` holds every version; a query keeps the
//!   rows whose `(conversation_pk, version)` is the pk's latest, then filters them with plain
//!   `WHERE` clauses (so a filter sees the current values, never an older version's), with a
//!   superset prefilter (`conversation_pk IN` the pks with any version matching the range or
//!   filters) so the latest-version set covers only candidates.
//! * **Filters** are pushed into every query: events (messages, actions) keep the pks of the
//!   matching conversations (`IN`), or, with no dimension filter, drop the soft-deleted ones
//!   (`NOT IN`, a small set).
//! * **Metadata** is decoded at write time (18.16 has no exact JSON functions: `visitParam*`
//!   match keys at any depth): each version of a row carries its top-level `key → text` pairs
//!   (`meta_keys`, `meta_texts`, for `metadata=key:value`) and its `metadata.feedback` read as
//!   *Effective feedback* says (`fb_meta`: 0 none, 1 positive, 2 neutral, 3 negative;
//!   `fb_rating`).
//! * **Bot responses** are computed at query time from the messages, not stored at write time:
//!   per conversation with an agent message in range, its messages up to the range's end sorted
//!   by (event time, id) (`arraySort(groupArray(…))`), and the agent messages whose predecessor
//!   is an `end_user` message. Nothing to fix when a message arrives out of order or on
//!   another node.
//! * **Local time**: `toDate`/`toHour(toDateTime(intDiv(ts, 1000000)), tz)` (ClickHouse's zone
//!   tables handle daylight saving and offsets that are not whole hours). A time series groups
//!   by the local bucket (day, Monday, or local hour with its UTC offset) and maps each group to
//!   the bucket of [`Buckets`] by its earliest instant.

use agentsight_core::metrics::TOKEN_USAGE_ACTION;
use agentsight_core::metrics::build::OverviewParts;
use agentsight_core::metrics::failures::{
    ConversationTrail, FailureFacts, Step, ToolCalls, TrailEntry, normalize_question,
};
use agentsight_core::metrics::feedback::{self, Sentiment};
use agentsight_core::metrics::query::{DimFilter, MetricsQuery};
use agentsight_core::metrics::reference::metadata_text;
use agentsight_core::metrics::series::{Buckets, Interval, SeriesMetric};
use agentsight_core::metrics::users::{NamedUsers, UsersBuilder};
use agentsight_core::time::{Micros, to_iso};
use agentsight_protocol::metrics::{MinuteCount, ToolRow};
use agentsight_store::{
    AgentRef, EngineStatus, LiveResponse, MetricsReader, OverviewResponse, StoreResult, TimeseriesResponse,
    UsersResponse,
};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use serde_json::Value;

use crate::ClickHouseEventStore;
use crate::http::quote;

/// Adds the columns the metrics read of a conversation's `metadata` (see the module docs) to
/// its `conversations` row.
pub(crate) fn add_metric_columns(row: &mut Value, metadata: Option<&str>) {
    let doc: Value = metadata.and_then(|m| serde_json::from_str(m).ok()).unwrap_or(Value::Null);
    let (mut keys, mut texts) = (Vec::new(), Vec::new());
    if let Value::Object(m) = &doc {
        for (k, v) in m {
            if let Some(t) = metadata_text(v) {
                keys.push(Value::String(k.clone()));
                texts.push(Value::String(t));
            }
        }
    }
    let fb = feedback::from_metadata(&doc);
    let code = match fb.map(|f| f.sentiment) {
        None => 0,
        Some(Sentiment::Positive) => 1,
        Some(Sentiment::Neutral) => 2,
        Some(Sentiment::Negative) => 3,
    };
    if let Value::Object(o) = row {
        o.insert("meta_keys".into(), Value::Array(keys));
        o.insert("meta_texts".into(), Value::Array(texts));
        o.insert("fb_meta".into(), code.into());
        o.insert("fb_rating".into(), fb.and_then(|f| f.rating).into());
    }
}

/// A conversation's sentiment code from its latest explicit feedback record.
const EXPLICIT_CODE: &str = "multiIf(s = 'positive', 1, s = 'neutral', 2, s = 'negative', 3, 0)";

/// The SQL of one query: the agent, the range's instants, the zone and the filters.
struct Sql {
    db: String,
    agent: i64,
    start: Micros,
    end: Micros,
    tz: String,
    /// ` AND …` over a `conversations` row's columns, for the dimension filters.
    filters: String,
}

impl Sql {
    fn new(db: String, agent: i64, q: &MetricsQuery) -> Sql {
        let (start, end) = q.instants();
        let f = &q.filters;
        let mut filters = String::new();
        for (col, d) in [
            ("environment", &f.environment),
            ("source", &f.source),
            ("device", &f.device),
            ("language", &f.language),
            ("country", &f.country),
            ("customer_id", &f.customer_id),
        ] {
            match d {
                Some(DimFilter::Is(v)) => filters.push_str(&format!(" AND {col} = {}", quote(v))),
                Some(DimFilter::Unknown) => filters.push_str(&format!(" AND {col} IS NULL")),
                None => {}
            }
        }
        if let Some((k, v)) = &f.metadata {
            filters.push_str(&format!(
                " AND arrayExists((mk, mt) -> mk = {} AND mt = {}, meta_keys, meta_texts)",
                quote(k),
                quote(v)
            ));
        }
        Sql { db, agent, start, end, tz: quote(q.tz.name()), filters }
    }

    /// `db.t`: 18.16 resolves a table of a subquery in `default` unless the database is named.
    fn t(&self, table: &str) -> String {
        format!("{}.{table}", self.db)
    }

    /// ` AND started_at` in the range.
    fn started_in_range(&self) -> String {
        format!(" AND started_at >= {} AND started_at < {}", self.start, self.end)
    }

    /// ` AND ts` in the range.
    fn ts_in_range(&self) -> String {
        format!(" AND ts >= {} AND ts < {}", self.start, self.end)
    }

    /// A `WHERE` over `conversations` keeping the current version of the agent's conversations
    /// that are not deleted and match the filters (and started in range when `in_range`).
    fn current(&self, in_range: bool) -> String {
        let a = self.agent;
        let range = if in_range { self.started_in_range() } else { String::new() };
        // Any version matching the range and filters: a superset of the current ones that do.
        let candidates = (in_range || !self.filters.is_empty()).then(|| {
            format!(
                "SELECT conversation_pk FROM {} WHERE agent_id = {a}{range}{}",
                self.t("conversations"),
                self.filters
            )
        });
        let within = candidates.map(|c| format!(" AND conversation_pk IN ({c})")).unwrap_or_default();
        format!(
            "agent_id = {a} AND (conversation_pk, version) IN (SELECT conversation_pk, max(version) FROM {} \
             WHERE agent_id = {a}{within} GROUP BY conversation_pk) AND is_deleted = 0{}{range}",
            self.t("conversations"),
            self.filters
        )
    }

    /// ` AND conversation_pk …` keeping the events of matching conversations.
    fn events_match(&self) -> String {
        let a = self.agent;
        let convs = self.t("conversations");
        if self.filters.is_empty() {
            // Only soft deletes to leave out: the (few) conversations currently deleted.
            format!(
                " AND conversation_pk NOT IN (SELECT conversation_pk FROM {convs} WHERE agent_id = {a} \
                 AND (conversation_pk, version) IN (SELECT conversation_pk, max(version) FROM {convs} \
                 WHERE agent_id = {a} AND conversation_pk IN (SELECT conversation_pk FROM {convs} \
                 WHERE agent_id = {a} AND is_deleted = 1) GROUP BY conversation_pk) AND is_deleted = 1)"
            )
        } else {
            format!(
                " AND conversation_pk IN (SELECT conversation_pk FROM {convs} WHERE {})",
                self.current(false)
            )
        }
    }

    /// `toDateTime` of a microsecond column.
    fn dt(col: &str) -> String {
        format!("toDateTime(intDiv({col}, 1000000))")
    }

    /// The local date of a microsecond column, as `YYYY-MM-DD`.
    fn local_date(&self, col: &str) -> String {
        format!("toString(toDate({}, {}))", Self::dt(col), self.tz)
    }

    /// A key grouping a microsecond column by local bucket (never across two of [`Buckets`]).
    fn bucket_key(&self, col: &str, interval: Interval) -> String {
        let (dt, tz) = (Self::dt(col), &self.tz);
        match interval {
            Interval::Day => format!("toDate({dt}, {tz})"),
            Interval::Week => format!("toMonday(toDate({dt}, {tz}))"),
            Interval::Month => format!("toStartOfMonth(toDate({dt}, {tz}))"),
            // The local hour and the UTC offset (a repeated hour has two).
            Interval::Hour => format!(
                "tuple(toDate({dt}, {tz}), toHour({dt}, {tz}), \
                 toInt64(toUInt32(toDateTime(toString({dt}, {tz}), 'UTC'))) - toInt64(toUInt32({dt})))"
            ),
        }
    }

    /// The agent's explicit feedback: (pk, sentiment code of the latest record). Records are
    /// versioned (a change or a delete through the data plane writes the next version): the
    /// current version of each is taken with `FINAL` and deleted ones are left out after it, as
    /// `ClickHouseEventStore::feedbacks_now` does.
    fn explicit_feedback(&self) -> String {
        format!(
            "SELECT conversation_pk, {EXPLICIT_CODE} FROM (SELECT conversation_pk, \
             lower(replaceRegexpAll(argMax(sentiment, (created_at, id)), '^\\\\s+|\\\\s+$', '')) AS s \
             FROM (SELECT conversation_pk, sentiment, created_at, id, is_deleted FROM {} FINAL \
             WHERE agent_id = {}) WHERE is_deleted = 0 GROUP BY conversation_pk)",
            self.t("feedbacks"),
            self.agent
        )
    }

    /// Whether a conversation has an escalation action (at any time).
    fn escalated(&self, escalation: &[String]) -> String {
        if escalation.is_empty() {
            return "0".into();
        }
        let names = escalation.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", ");
        format!(
            "conversation_pk IN (SELECT conversation_pk FROM {} WHERE agent_id = {} AND action_name IN ({names}))",
            self.t("action_logs"),
            self.agent
        )
    }

    /// Conversations in range: totals, users, escalations, feedback, durations.
    fn conversation_totals(&self, escalation: &[String]) -> String {
        let a = self.agent;
        let fb = self.explicit_feedback();
        let explicit = format!(
            "multiIf((conversation_pk, 1) IN ({fb}), 1, (conversation_pk, 2) IN ({fb}), 2, \
             (conversation_pk, 3) IN ({fb}), 3, 0)"
        );
        let in_range = format!(
            "SELECT conversation_pk FROM {} WHERE agent_id = {a}{}{}",
            self.t("conversations"),
            self.started_in_range(),
            self.filters
        );
        format!(
            "SELECT toInt64(count()) AS total, toInt64(sum(is_used)) AS used,
                toInt64(uniqExactIf(assumeNotNull(customer_id), ifNull(customer_id, '') != '')) AS users,
                toInt64(sum({escalated})) AS escalated,
                toInt64(countIf((({explicit}) AS ex) = 1 OR (ex = 0 AND fb_meta = 1))) AS positive,
                toInt64(countIf(ex = 2 OR (ex = 0 AND fb_meta = 2))) AS neutral,
                toInt64(countIf(ex = 3 OR (ex = 0 AND fb_meta = 3))) AS negative,
                toInt64(countIf(ex = 0 AND isNotNull(fb_rating))) AS ratings,
                toFloat64(sumIf(assumeNotNull(fb_rating), ex = 0 AND isNotNull(fb_rating))) AS rating_sum,
                toInt64(countIf(has_message = 1)) AS durations,
                toInt64(sumIf(ifNull(ended_at, last_entry) - started_at, has_message = 1)) AS duration_sum
             FROM {convs}
             ANY LEFT JOIN (SELECT conversation_pk, max(ts) AS last_entry, toUInt8(countIf(kind = 0) > 0) AS has_message
                FROM {messages} WHERE agent_id = {a} AND conversation_pk IN ({in_range}) GROUP BY conversation_pk) AS entries
             USING conversation_pk
             WHERE {current}",
            escalated = self.escalated(escalation),
            convs = self.t("conversations"),
            messages = self.t("messages"),
            current = self.current(true),
        )
    }

    /// Conversations in range by each dimension and by local day of `started_at`; a city's
    /// coordinates are its lowest pk's (as plain numbers with a null flag: 18.16 garbles an
    /// `argMin` of a tuple of `Nullable`s when it merges the shards' states).
    fn conversation_groups(&self) -> String {
        let n = "CAST(NULL AS Nullable(String))";
        format!(
            "SELECT g.1 AS dim, g.2 AS a, g.3 AS b, toInt64(count()) AS n,
                argMin(ifNull(latitude, 0), conversation_pk) AS lat, argMin(isNull(latitude), conversation_pk) AS no_lat,
                argMin(ifNull(longitude, 0), conversation_pk) AS lon, argMin(isNull(longitude), conversation_pk) AS no_lon
             FROM {convs}
             ARRAY JOIN [tuple('device', device, {n}), tuple('source', source, {n}),
                tuple('language', language, {n}), tuple('country', country, {n}),
                tuple('city', country, city), tuple('day', CAST({day} AS Nullable(String)), {n})] AS g
             WHERE {current}
             GROUP BY dim, a, b",
            convs = self.t("conversations"),
            day = self.local_date("started_at"),
            current = self.current(true),
        )
    }

    /// Messages in range by local date, local hour and sender.
    fn messages_grouped(&self) -> String {
        format!(
            "SELECT {date} AS d, toHour({dt}, {tz}) AS h, sender, toInt64(count()) AS n FROM {messages}
             WHERE agent_id = {a} AND kind = 0{range}{matched} GROUP BY d, h, sender",
            date = self.local_date("ts"),
            dt = Self::dt("ts"),
            tz = self.tz,
            messages = self.t("messages"),
            a = self.agent,
            range = self.ts_in_range(),
            matched = self.events_match(),
        )
    }

    /// Per matching conversation with an agent message in range: its bot responses in range,
    /// as the arrays `rts` (the agent message's time) and `rus` (the response time), and their
    /// count `n` and sum `s`. A response is an agent message whose predecessor by (time, id) is
    /// an `end_user` message: the conversation's messages up to the range's end sorted by
    /// (time, id, sender code), and the same arrays shifted by one (lambdas that capture no
    /// column: a captured array would be copied for every element).
    fn responses_per_conversation(&self) -> String {
        let a = self.agent;
        format!(
            "SELECT conversation_pk,
                arraySort(groupArray((ts, id, multiIf(sender = 'end_user', 1, sender = 'agent', 2, 0)))) AS m,
                arrayMap(x -> x.1, m) AS t, arrayMap(x -> x.3, m) AS w,
                arrayPushFront(arrayPopBack(t), 0) AS prev_t, arrayPushFront(arrayPopBack(w), 0) AS prev_w,
                arrayMap((wi, pw, ti) -> toUInt8(wi = 2 AND pw = 1 AND ti >= {start}), w, prev_w, t) AS hit,
                arrayFilter((ti, h) -> h = 1, t, hit) AS rts,
                arrayFilter((d, h) -> h = 1, arrayMap((ti, pt) -> ti - pt, t, prev_t), hit) AS rus,
                toInt64(length(rts)) AS n, toInt64(arraySum(rus)) AS s
             FROM {messages}
             WHERE agent_id = {a} AND kind = 0 AND ts < {end} AND conversation_pk IN ({with_reply}){matched}
             GROUP BY conversation_pk",
            messages = self.t("messages"),
            start = self.start,
            end = self.end,
            with_reply = self.with_agent_message(),
            matched = self.events_match(),
        )
    }

    /// The pks with an agent message in range (a conversation's earlier messages are read only
    /// for these).
    fn with_agent_message(&self) -> String {
        format!(
            "SELECT conversation_pk FROM {} WHERE agent_id = {} AND kind = 0 AND sender = 'agent'{}",
            self.t("messages"),
            self.agent,
            self.ts_in_range()
        )
    }

    /// Each shard finishes its conversations' `GROUP BY` (a conversation's messages are all on
    /// one shard), so only per-conversation results reach the initiator.
    const SHARD_LOCAL_GROUPS: &str = "SETTINGS distributed_group_by_no_merge = 1";

    fn responses_total(&self) -> String {
        format!(
            "SELECT toInt64(sum(n)) AS responses, toInt64(sum(s)) AS response_sum FROM ({}) {}",
            self.responses_per_conversation(),
            Self::SHARD_LOCAL_GROUPS
        )
    }

    /// Tools in range but `token_usage`, by name.
    fn tools(&self) -> String {
        format!(
            "SELECT action_name AS name, toInt64(count()) AS calls,
                toInt64(countIf(isNotNull(duration_ms) OR (isNotNull(started_at) AND isNotNull(ended_at)))) AS known,
                toFloat64(sum(multiIf(isNotNull(duration_ms), toFloat64(assumeNotNull(duration_ms)),
                    isNotNull(started_at) AND isNotNull(ended_at),
                    (assumeNotNull(ended_at) - assumeNotNull(started_at)) / 1000, 0))) AS duration_sum,
                toInt64(countIf(ifNull(error_msg, '') != '')) AS errors
             FROM {actions}
             WHERE agent_id = {a} AND action_name != {token}{range}{matched}
             GROUP BY action_name",
            actions = self.t("action_logs"),
            a = self.agent,
            token = quote(TOKEN_USAGE_ACTION),
            range = self.ts_in_range(),
            matched = self.events_match(),
        )
    }

    /// One time series: groups by local bucket with each group's first instant (`rep`), a
    /// count `n` and a sum `s`.
    fn series(&self, metric: SeriesMetric, interval: Interval) -> String {
        let a = self.agent;
        match metric {
            SeriesMetric::Messages => format!(
                "SELECT {key} AS bucket, min(ts) AS rep, toInt64(count()) AS n, toInt64(0) AS s FROM {t}
                 WHERE agent_id = {a} AND kind = 0{range}{matched} GROUP BY bucket",
                key = self.bucket_key("ts", interval),
                t = self.t("messages"),
                range = self.ts_in_range(),
                matched = self.events_match(),
            ),
            SeriesMetric::Conversations | SeriesMetric::UniqueInteractions => format!(
                "SELECT {key} AS bucket, min(started_at) AS rep, toInt64({count}) AS n, toInt64(0) AS s FROM {t}
                 WHERE {current} GROUP BY bucket",
                key = self.bucket_key("started_at", interval),
                count = if metric == SeriesMetric::Conversations { "count()" } else { "sum(is_used)" },
                t = self.t("conversations"),
                current = self.current(true),
            ),
            SeriesMetric::BotResponses | SeriesMetric::AvgBotResponseTimeMs => format!(
                "SELECT {key} AS bucket, min(rt) AS rep, toInt64(count()) AS n, toInt64(sum(ru)) AS s
                 FROM ({per}) ARRAY JOIN rts AS rt, rus AS ru GROUP BY bucket {local}",
                key = self.bucket_key("rt", interval),
                per = self.responses_per_conversation(),
                local = Self::SHARD_LOCAL_GROUPS,
            ),
            SeriesMetric::ToolCalls => format!(
                "SELECT {key} AS bucket, min(ts) AS rep, toInt64(count()) AS n, toInt64(0) AS s FROM {t}
                 WHERE agent_id = {a} AND action_name != {token}{range}{matched} GROUP BY bucket",
                key = self.bucket_key("ts", interval),
                t = self.t("action_logs"),
                token = quote(TOKEN_USAGE_ACTION),
                range = self.ts_in_range(),
                matched = self.events_match(),
            ),
        }
    }
}

impl Sql {
    /// Users over time, 1 of 2: the distinct (customer, local day of `started_at`) of the
    /// current conversations in range that match the filters.
    fn user_days(&self) -> String {
        format!(
            "SELECT assumeNotNull(customer_id) AS c, {day} AS d FROM {convs}
             WHERE {current} AND ifNull(customer_id, '') != '' GROUP BY c, d",
            day = self.local_date("started_at"),
            convs = self.t("conversations"),
            current = self.current(true),
        )
    }

    /// Users over time, 2 of 2: first seen (`min(started_at)`) of the customers that may be
    /// active in range, over every current, live conversation of the agent whatever the
    /// filters. The candidates (any version in range and matching: a superset) are gathered
    /// once by the initiator (`GLOBAL IN`): on a cluster a customer's conversations may sit on
    /// several shards, and the outer `GROUP BY` merges their minima.
    fn user_first_seen(&self) -> String {
        let (a, convs) = (self.agent, self.t("conversations"));
        format!(
            "SELECT assumeNotNull(customer_id) AS c, min(started_at) AS f FROM {convs}
             WHERE agent_id = {a} AND (conversation_pk, version) IN (SELECT conversation_pk, max(version)
                FROM {convs} WHERE agent_id = {a} GROUP BY conversation_pk)
             AND is_deleted = 0 AND ifNull(customer_id, '') != ''
             AND customer_id GLOBAL IN (SELECT customer_id FROM {convs}
                WHERE agent_id = {a}{range}{filters} AND ifNull(customer_id, '') != '')
             GROUP BY c",
            range = self.started_in_range(),
            filters = self.filters,
        )
    }
}

#[derive(Deserialize)]
struct UserDay {
    c: String,
    d: String,
}

#[derive(Deserialize)]
struct FirstSeen {
    c: String,
    f: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConvTotals {
    total: u64,
    used: u64,
    users: u64,
    escalated: u64,
    positive: u64,
    neutral: u64,
    negative: u64,
    ratings: u64,
    rating_sum: Option<f64>,
    durations: u64,
    duration_sum: i64,
}

#[derive(Deserialize)]
struct Group {
    dim: String,
    a: Option<String>,
    b: Option<String>,
    n: u64,
    lat: f64,
    no_lat: u8,
    lon: f64,
    no_lon: u8,
}

#[derive(Deserialize)]
struct MessageGroup {
    d: String,
    h: usize,
    sender: String,
    n: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Responses {
    responses: u64,
    response_sum: i64,
}

#[derive(Deserialize)]
struct Tool {
    name: String,
    calls: u64,
    known: u64,
    duration_sum: Option<f64>,
    errors: u64,
}

#[derive(Deserialize)]
struct SeriesGroup {
    rep: i64,
    n: u64,
    s: i64,
}

#[derive(Deserialize)]
struct Minute {
    i: i64,
    n: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Active {
    n: u64,
}

fn date(s: &str) -> StoreResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| crate::bad_row("local date"))
}

/// How many ClickHouse queries one overview makes (they run at once).
pub const OVERVIEW_QUERIES: usize = 5;

impl ClickHouseEventStore {
    fn sql(&self, agent: i64, q: &MetricsQuery) -> Sql {
        Sql::new(self.inner.ch.database(), agent, q)
    }

    /// The overview's parts, aggregated by ClickHouse in [`OVERVIEW_QUERIES`] queries.
    async fn overview_parts(
        &self,
        agent: i64,
        q: &MetricsQuery,
        escalation: &[String],
    ) -> StoreResult<OverviewParts> {
        let sql = self.sql(agent, q);
        let ch = &self.inner.ch;
        let (q_totals, q_groups, q_messages, q_responses, q_tools) = (
            sql.conversation_totals(escalation),
            sql.conversation_groups(),
            sql.messages_grouped(),
            sql.responses_total(),
            sql.tools(),
        );
        let (totals, groups, messages, responses, tools) = tokio::try_join!(
            ch.rows::<ConvTotals>(&q_totals),
            ch.rows::<Group>(&q_groups),
            ch.rows::<MessageGroup>(&q_messages),
            ch.rows::<Responses>(&q_responses),
            ch.rows::<Tool>(&q_tools),
        )?;
        let mut p = OverviewParts::new(q);
        let t = totals.into_iter().next().unwrap_or_default();
        p.total_conversations = t.total;
        p.used = t.used;
        p.unique_users = t.users;
        p.escalated = t.escalated;
        p.feedback = [t.positive, t.neutral, t.negative];
        p.ratings = (t.ratings, t.rating_sum.unwrap_or(0.0));
        p.durations = (t.durations, i128::from(t.duration_sum));
        let r = responses.into_iter().next().unwrap_or_default();
        p.responses = (r.responses, i128::from(r.response_sum));
        let day_index = |d: NaiveDate| usize::try_from((d - q.from).num_days()).ok();
        for g in groups {
            match g.dim.as_str() {
                "device" => p.devices.push((g.a, g.n)),
                "source" => p.sources.push((g.a, g.n)),
                "language" => p.languages.push((g.a, g.n)),
                "country" => p.countries.push((g.a, g.n)),
                "city" => {
                    let (lat, lon) = ((g.no_lat == 0).then_some(g.lat), (g.no_lon == 0).then_some(g.lon));
                    p.cities.push(((g.a, g.b), (lat, lon, g.n)));
                }
                "day" => {
                    let i = day_index(date(g.a.as_deref().unwrap_or_default())?);
                    if let Some(slot) = i.and_then(|i| p.daily_conversations.get_mut(i)) {
                        *slot += g.n;
                    }
                }
                _ => return Err(crate::bad_row("metrics group")),
            }
        }
        for m in messages {
            let d = date(&m.d)?;
            p.total_messages += m.n;
            match m.sender.as_str() {
                "end_user" => p.by_sender.end_user += m.n,
                "agent" => p.by_sender.agent += m.n,
                _ => p.by_sender.system += m.n,
            }
            if let Some(slot) = day_index(d).and_then(|i| p.daily_messages.get_mut(i)) {
                *slot += m.n;
            }
            let wd = d.weekday().num_days_from_monday() as usize;
            if let Some(cell) = p.matrix.get_mut(wd).and_then(|r| r.get_mut(m.h)) {
                *cell += m.n;
            }
        }
        p.tools = tools
            .into_iter()
            .map(|t| ToolRow {
                name: t.name,
                calls: t.calls,
                avg_duration_ms: (t.known > 0).then(|| t.duration_sum.unwrap_or(0.0) / t.known as f64),
                errors: t.errors,
            })
            .collect();
        Ok(p)
    }
}

impl MetricsReader for ClickHouseEventStore {
    async fn overview(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        escalation: Vec<String>,
    ) -> StoreResult<OverviewResponse> {
        let parts = self.overview_parts(agent.id, &q, &escalation).await?;
        Ok(parts.assemble(&q, agent))
    }

    async fn timeseries(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        metric: SeriesMetric,
        interval: Interval,
    ) -> StoreResult<TimeseriesResponse> {
        let sql = self.sql(agent.id, &q).series(metric, interval);
        let groups: Vec<SeriesGroup> = self.inner.ch.rows(&sql).await?;
        let buckets = Buckets::new(&q, interval);
        let mut counts = vec![0u64; buckets.len()];
        let mut sums = vec![0i128; buckets.len()];
        for g in groups {
            if let Some(i) = buckets.of(g.rep) {
                counts[i] += g.n;
                sums[i] += i128::from(g.s);
            }
        }
        Ok(agentsight_core::metrics::series::response(agent, &q, metric, interval, &buckets, &counts, &sums))
    }

    async fn failure_facts(
        &self,
        agent_id: i64,
        q: MetricsQuery,
        escalation: Vec<String>,
    ) -> StoreResult<FailureFacts> {
        self.failure_facts_of(agent_id, &q, &escalation).await
    }

    async fn users(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        interval: Interval,
    ) -> StoreResult<UsersResponse> {
        let sql = self.sql(agent.id, &q);
        let (q_days, q_first) = (sql.user_days(), sql.user_first_seen());
        let ch = &self.inner.ch;
        let (days, firsts) = tokio::try_join!(ch.rows::<UserDay>(&q_days), ch.rows::<FirstSeen>(&q_first))?;
        let mut named = NamedUsers::new();
        for f in &firsts {
            named.id(&f.c, f.f);
        }
        let mut b = UsersBuilder::new(&q, interval);
        for r in &days {
            if let Ok(day) = u32::try_from((date(&r.d)? - q.from).num_days()) {
                b.add(named.id(&r.c, i64::MAX), day);
            }
        }
        Ok(named.finish(b, agent))
    }

    async fn live(&self, agent: AgentRef, now: Micros) -> StoreResult<LiveResponse> {
        const MINUTE: i64 = 60_000_000;
        let first = (now / MINUTE - 59) * MINUTE;
        let db = self.inner.ch.database();
        let a = agent.id;
        let q_active = format!(
            "SELECT toInt64(uniqExact(conversation_pk)) AS n FROM {db}.messages
             WHERE agent_id = {a} AND ts > {} AND ts <= {now}",
            now - 5 * MINUTE
        );
        let q_minutes = format!(
            "SELECT intDiv(ts - {first}, {MINUTE}) AS i, toInt64(count()) AS n FROM {db}.messages
             WHERE agent_id = {a} AND kind = 0 AND ts >= {first} AND ts < {} GROUP BY i",
            first + 60 * MINUTE
        );
        let ch = &self.inner.ch;
        let (active, minutes) =
            tokio::try_join!(ch.rows::<Active>(&q_active), ch.rows::<Minute>(&q_minutes))?;
        let mut per_minute = [0u64; 60];
        for m in minutes {
            if let Some(slot) = usize::try_from(m.i).ok().and_then(|i| per_minute.get_mut(i)) {
                *slot += m.n;
            }
        }
        Ok(LiveResponse {
            agent,
            now: to_iso(now),
            active_conversations: active.into_iter().next().unwrap_or_default().n,
            messages_per_minute: per_minute
                .iter()
                .enumerate()
                .map(|(i, n)| MinuteCount { minute: to_iso(first + i as i64 * MINUTE), messages: *n })
                .collect(),
        })
    }

    async fn engine_status(&self) -> EngineStatus {
        let fault = crate::health::probe(&self.inner).await;
        let phase = if fault.is_some() { "failed" } else { "ready" };
        EngineStatus {
            engine: "clickhouse".into(),
            phase: phase.into(),
            approx_bytes: 0,
            fault,
            details: [("overview_queries".to_string(), OVERVIEW_QUERIES as i64)].into(),
        }
    }
}

// ---- Where the bot fails (`docs/metrics.md`): the facts, and the list's failure filters ----
//
// Per conversation in range, ClickHouse sorts its user and bot messages by (time, id) and
// returns only what a trail needs: the last one's time and sender, the user messages' times
// and ids (for the turns before an escalation), the first user message's text; and from the
// actions, the first escalation's (time, id) and the names of failed tools. The trail is then
// folded by `agentsight_core::metrics::failures`, as on every backend.

#[derive(Deserialize)]
struct TalkRow {
    conversation_pk: i64,
    last_ts: i64,
    last_user: u8,
    uts: Vec<i64>,
    uids: Vec<i64>,
    first_text: String,
}

#[derive(Deserialize)]
struct ActionRow {
    conversation_pk: i64,
    escalated: u8,
    e_ts: i64,
    e_id: i64,
    failed: Vec<String>,
}

#[derive(Deserialize)]
struct ConvId {
    conversation_pk: i64,
    conversation_id: String,
}

#[derive(Deserialize)]
struct PkRow {
    conversation_pk: i64,
}

/// `action_name IN (…)` of the escalation names, or `0` when there are none.
fn escalation_cond(escalation: &[String]) -> String {
    if escalation.is_empty() {
        "0".into()
    } else {
        format!("action_name IN ({})", escalation.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", "))
    }
}

/// A failed tool call (not `token_usage`).
fn failed_cond() -> String {
    format!("ifNull(error_msg, '') != '' AND action_name != {}", quote(TOKEN_USAGE_ACTION))
}

impl Sql {
    /// Per conversation (of `within`, a pk subquery): its user and bot messages sorted.
    fn talk(&self, within: &str) -> String {
        format!(
            "SELECT conversation_pk, toInt64(tupleElement(m[length(m)], 1)) AS last_ts,
                toUInt8(tupleElement(m[length(m)], 3)) AS last_user,
                arrayFilter(x -> x.3 = 1, m) AS us, arrayMap(x -> x.1, us) AS uts, arrayMap(x -> x.2, us) AS uids,
                if(length(us) > 0, tupleElement(us[1], 4), '') AS first_text
             FROM (SELECT conversation_pk,
                    arraySort(groupArray((ts, id, toUInt8(sender = 'end_user'), content))) AS m
                FROM {messages} WHERE agent_id = {a} AND kind = 0 AND sender IN ('end_user', 'agent')
                    AND conversation_pk IN ({within})
                GROUP BY conversation_pk) {settings}",
            messages = self.t("messages"),
            a = self.agent,
            settings = Self::SHARD_LOCAL_GROUPS,
        )
    }

    /// Per conversation (of `within`) with an escalation or a failed tool: the first
    /// escalation's (time, id) and the failed tool names.
    fn failure_actions(&self, within: &str, escalation: &[String]) -> String {
        let esc = escalation_cond(escalation);
        format!(
            "SELECT conversation_pk, toUInt8(length(es) > 0) AS escalated,
                toInt64(if(length(es) > 0, tupleElement(es[1], 1), 0)) AS e_ts,
                toInt64(if(length(es) > 0, tupleElement(es[1], 2), 0)) AS e_id, failed
             FROM (SELECT conversation_pk, arraySort(groupArrayIf((ts, message_id), {esc})) AS es,
                    groupUniqArrayIf(action_name, {failed}) AS failed
                FROM {actions} WHERE agent_id = {a} AND conversation_pk IN ({within})
                    AND (({esc}) OR ({failed}))
                GROUP BY conversation_pk) {settings}",
            failed = failed_cond(),
            actions = self.t("action_logs"),
            a = self.agent,
            settings = Self::SHARD_LOCAL_GROUPS,
        )
    }
}

/// The trail of one conversation from what ClickHouse returned of it.
fn trail(pk: i64, id: String, talk: Option<TalkRow>, actions: Option<ActionRow>) -> ConversationTrail {
    let mut entries = Vec::new();
    let mut first_text = None;
    if let Some(t) = talk {
        entries.extend(t.uts.iter().zip(&t.uids).map(|(&ts, &id)| TrailEntry { ts, id, step: Step::User }));
        if t.last_user == 0 {
            // After every user message (it is the last of them all).
            entries.push(TrailEntry { ts: t.last_ts, id: i64::MAX, step: Step::Agent });
        }
        first_text = Some(t.first_text);
    }
    let mut failed = Vec::new();
    if let Some(a) = actions {
        if a.escalated == 1 {
            entries.push(TrailEntry { ts: a.e_ts, id: a.e_id, step: Step::Escalation });
        }
        failed = a.failed;
    }
    let mut t = ConversationTrail::from_entries(pk, id, entries, failed);
    if t.engaged {
        t.first_question = first_text.as_deref().and_then(normalize_question);
    }
    t
}

impl ClickHouseEventStore {
    /// [`MetricsReader::failure_facts`] (four queries at once).
    async fn failure_facts_of(
        &self,
        agent: i64,
        q: &MetricsQuery,
        escalation: &[String],
    ) -> StoreResult<FailureFacts> {
        let sql = self.sql(agent, q);
        let ch = &self.inner.ch;
        let convs = sql.t("conversations");
        let within = format!("SELECT conversation_pk FROM {convs} WHERE {}", sql.current(true));
        let q_convs =
            format!("SELECT conversation_pk, conversation_id FROM {convs} WHERE {}", sql.current(true));
        let (q_talk, q_actions, q_tools) =
            (sql.talk(&within), sql.failure_actions(&within, escalation), sql.tools());
        let (ids, talk, actions, tools) = tokio::try_join!(
            ch.rows::<ConvId>(&q_convs),
            ch.rows::<TalkRow>(&q_talk),
            ch.rows::<ActionRow>(&q_actions),
            ch.rows::<Tool>(&q_tools),
        )?;
        let mut talk: std::collections::HashMap<i64, TalkRow> =
            talk.into_iter().map(|t| (t.conversation_pk, t)).collect();
        let mut actions: std::collections::HashMap<i64, ActionRow> =
            actions.into_iter().map(|a| (a.conversation_pk, a)).collect();
        let mut ids = ids;
        ids.sort_by_key(|c| c.conversation_pk);
        ids.dedup_by_key(|c| c.conversation_pk);
        let trails = ids
            .into_iter()
            .map(|c| {
                let pk = c.conversation_pk;
                trail(pk, c.conversation_id, talk.remove(&pk), actions.remove(&pk))
            })
            .collect();
        let tools =
            tools.into_iter().map(|t| ToolCalls { name: t.name, calls: t.calls, errors: t.errors }).collect();
        Ok(FailureFacts { trails, tools })
    }

    /// The agent's conversation pks that pass one failure filter of the list (positive form;
    /// the caller negates). `None` when `f` sets none of them.
    pub(crate) async fn failure_filter_pks(
        &self,
        agent_id: i64,
        f: &agentsight_store::ConversationFilter,
    ) -> StoreResult<Vec<(bool, Vec<i64>)>> {
        let db = self.inner.ch.database();
        let (messages, actions) = (format!("{db}.messages"), format!("{db}.action_logs"));
        let a = agent_id;
        let esc = escalation_cond(&f.escalation_tools);
        let cutoff = f.idle_cutoff;
        let last = |user: u8, extra: &str| {
            format!(
                "SELECT conversation_pk FROM (SELECT conversation_pk,
                    arraySort(groupArray((ts, id, toUInt8(sender = 'end_user')))) AS m
                    FROM {messages} WHERE agent_id = {a} AND kind = 0 AND sender IN ('end_user', 'agent')
                    GROUP BY conversation_pk)
                 WHERE tupleElement(m[length(m)], 3) = {user} AND tupleElement(m[length(m)], 1) <= {cutoff}{extra}
                 {}",
                Sql::SHARD_LOCAL_GROUPS
            )
        };
        let mut queries: Vec<(bool, String)> = Vec::new();
        if let Some(b) = f.unanswered {
            queries.push((b, last(1, "")));
        }
        if let Some(b) = f.abandoned {
            let extra = format!(
                " AND arrayExists(x -> x.3 = 1, m) AND conversation_pk NOT IN \
                 (SELECT conversation_pk FROM {actions} WHERE agent_id = {a} AND {esc})"
            );
            queries.push((b, last(0, &extra)));
        }
        if let Some(b) = f.tool_error {
            queries.push((
                b,
                format!(
                    "SELECT DISTINCT conversation_pk FROM {actions} WHERE agent_id = {a} AND {}",
                    failed_cond()
                ),
            ));
        }
        if let Some(name) = &f.tool_error_name {
            queries.push((
                true,
                format!(
                    "SELECT DISTINCT conversation_pk FROM {actions} WHERE agent_id = {a} AND action_name = {} AND {}",
                    quote(name),
                    failed_cond()
                ),
            ));
        }
        if f.escalation_turns_min.is_some() || f.escalation_turns_max.is_some() {
            let mut bounds = Vec::new();
            if let Some(min) = f.escalation_turns_min {
                bounds.push(format!("turns >= {min}"));
            }
            if let Some(max) = f.escalation_turns_max {
                bounds.push(format!("turns <= {max}"));
            }
            queries.push((
                true,
                format!(
                    "SELECT conversation_pk FROM (SELECT conversation_pk,
                        toInt64(countIf(has_u = 1 AND (uts < e_ts OR (uts = e_ts AND uid < e_id)))) AS turns
                     FROM (SELECT conversation_pk, tupleElement(es[1], 1) AS e_ts, tupleElement(es[1], 2) AS e_id
                        FROM (SELECT conversation_pk, arraySort(groupArray((ts, message_id))) AS es
                            FROM {actions} WHERE agent_id = {a} AND {esc} GROUP BY conversation_pk)) AS firsts
                     ALL LEFT JOIN (SELECT conversation_pk, ts AS uts, id AS uid, toUInt8(1) AS has_u
                        FROM {messages} WHERE agent_id = {a} AND kind = 0 AND sender = 'end_user') AS turns_in
                     USING conversation_pk GROUP BY conversation_pk)
                     WHERE {}",
                    bounds.join(" AND ")
                ),
            ));
        }
        let mut out = Vec::new();
        for (positive, sql) in queries {
            let rows: Vec<PkRow> = self.inner.ch.rows(&sql).await?;
            out.push((positive, rows.into_iter().map(|r| r.conversation_pk).collect()));
        }
        Ok(out)
    }
}
