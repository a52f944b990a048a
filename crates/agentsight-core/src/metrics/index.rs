//! The metrics index: one agent's metric facts in memory, in 15-minute buckets, so that an
//! overview over millions of messages reads a few hundred thousand small aggregates instead
//! of every raw row.
//!
//! What it keeps:
//! - per conversation: its dimensions (interned to small integers), `started_at`, the explicit
//!   end and the latest entry time, `is_used`, `is_deleted`, its effective-feedback inputs,
//!   the names of its actions (for escalation, which is decided at query time), and the
//!   top-level metadata pairs the `metadata=key:value` filter compares;
//! - conversations by the 15-minute bucket of `started_at`;
//! - per (15-minute bucket, conversation): message counts by sender and the bot responses
//!   (count, sum of µs) — exact, because every response time is fixed at ingest;
//! - per (15-minute bucket, conversation, action name): calls, errors, known durations.
//! - per customer: its conversations and the earliest start of its live ones ("first seen" of
//!   the users metrics, whatever the range and filters), derived from the conversations and
//!   rebuilt when a snapshot is read.
//!
//! Why 15 minutes is exact: every time zone offset in use is a whole number of quarter hours
//! and changes at a quarter-hour instant, so all instants of a bucket share their local date,
//! weekday and hour. A query checks that for every bucket it reads and returns `None` when it
//! does not hold (historical local mean time, say); the store then answers from raw rows.
//!
//! The index is fed [`Delta`]s in commit order by the store and never reads storage itself.
//! Everything here is pure and single-threaded; locking is the store's business.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use agentsight_protocol::metrics::{AgentRef, OverviewResponse, TimeseriesResponse, ToolRow, UsersResponse};
use chrono::{DateTime, Datelike, Offset, Timelike, Utc};
use serde_json::Value;

use super::TOKEN_USAGE_ACTION;
use super::build::OverviewParts;
use super::codec::{self, Dec, Enc};
use super::feedback::{self, Feedback, Sentiment};
use super::query::{DimFilter, MetricsQuery};
use super::reference::metadata_text;
use super::series::{Buckets, Interval, SeriesMetric};
use super::users::UsersBuilder;
use crate::time::Micros;

/// Width of a bucket: 15 minutes, in µs.
pub const BUCKET_US: Micros = 15 * 60 * 1_000_000;

/// The bucket of an instant.
pub fn bucket_of(ts: Micros) -> i64 {
    ts.div_euclid(BUCKET_US)
}

/// An action's duration in µs: `duration_ms` when given, else `ended_at - started_at` when
/// both are given (metrics.md, `tools`).
pub fn action_duration_us(
    duration_ms: Option<i64>,
    started: Option<Micros>,
    ended: Option<Micros>,
) -> Option<i64> {
    duration_ms.map(|d| d.saturating_mul(1000)).or(match (started, ended) {
        (Some(s), Some(e)) => Some(e - s),
        _ => None,
    })
}

/// A message's sender as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// `end_user`.
    EndUser,
    /// `agent`.
    Agent,
    /// `system`, and anything else.
    System,
}

impl Sender {
    /// Reads a stored sender.
    pub fn parse(s: &str) -> Sender {
        match s {
            "end_user" => Sender::EndUser,
            "agent" => Sender::Agent,
            _ => Sender::System,
        }
    }

    fn slot(self) -> usize {
        match self {
            Sender::EndUser => 0,
            Sender::Agent => 1,
            Sender::System => 2,
        }
    }
}

/// A conversation's stored row as the metrics need it (everything but its entries), read by
/// the store after any write that may have changed it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConvState {
    /// Primary key.
    pub pk: i64,
    /// Start (event time).
    pub started_at: Micros,
    /// Explicit end, if one was set.
    pub ended_at: Option<Micros>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Environment slug.
    pub environment: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Device.
    pub device: Option<String>,
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
    /// Soft-deleted.
    pub is_deleted: bool,
    /// Metadata document (JSON text).
    pub metadata: Option<String>,
    /// Sentiment of the latest explicit feedback record, if any.
    pub latest_feedback: Option<String>,
}

/// One entry-level change to an agent's metric facts, in commit order (conversation rows are
/// applied whole, with [`AgentIndex::conversation`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// A message was stored.
    Message {
        /// Conversation.
        pk: i64,
        /// Event time.
        ts: Micros,
        /// Sender.
        sender: Sender,
        /// Its bot response time, when it is a response.
        response_us: Option<i64>,
    },
    /// A stored message's response time changed (a predecessor arrived out of order).
    Response {
        /// Conversation.
        pk: i64,
        /// The message's event time.
        ts: Micros,
        /// Before.
        old: Option<i64>,
        /// After.
        new: Option<i64>,
    },
    /// An action was stored.
    Action {
        /// Conversation.
        pk: i64,
        /// Event time (`started_at` when given).
        ts: Micros,
        /// Name.
        name: String,
        /// Known duration.
        duration_us: Option<i64>,
        /// Has a non-empty error message.
        error: bool,
    },
    /// A button press was stored.
    Button {
        /// Conversation.
        pk: i64,
        /// Event time.
        ts: Micros,
    },
}

/// The index was fed something that contradicts what it holds; the store rebuilds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// An entry for a conversation the index never saw.
    #[error("entry for unknown conversation {0}")]
    UnknownConversation(i64),
    /// A response-time change for a message the index does not hold.
    #[error("response change for a message the index does not hold (conversation {0})")]
    UnknownMessage(i64),
}

/// Strings to small integers; 0 is null.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn intern(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else { return 0 };
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        self.names.push(s.into());
        let id = self.names.len() as u32;
        self.ids.insert(s.into(), id);
        id
    }

    fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    fn name(&self, id: u32) -> Option<&str> {
        id.checked_sub(1).and_then(|i| self.names.get(i as usize)).map(|s| &**s)
    }

    /// Ids in use, 0 included.
    fn len(&self) -> usize {
        self.names.len() + 1
    }

    fn bytes(&self) -> usize {
        self.names.iter().map(|n| 2 * n.len() + 40).sum()
    }
}

/// Dimensions held per conversation, in this order.
const ENV: usize = 0;
const SOURCE: usize = 1;
const DEVICE: usize = 2;
const LANGUAGE: usize = 3;
const COUNTRY: usize = 4;
const DIMS: usize = 5;

/// "None" for an instant field.
const NO_TIME: Micros = i64::MIN;

/// "None" for a first-seen instant (larger than any start, so `min` works).
const NO_FIRST: Micros = i64::MAX;

#[derive(Debug)]
struct Conv {
    pk: i64,
    started_at: Micros,
    ended_at: Micros,
    last_entry: Micros,
    lat: f64,
    lon: f64,
    meta_rating: f64,
    dims: [u32; DIMS],
    city: u32,
    customer: u32,
    messages: u32,
    used: bool,
    deleted: bool,
    explicit: Option<Sentiment>,
    meta_sentiment: Option<Sentiment>,
    /// Distinct action-name ids.
    actions: Vec<u32>,
    /// Top-level metadata pairs (key id, text id) the metadata filter compares.
    meta: Box<[(u32, u32)]>,
}

impl Conv {
    fn new(pk: i64) -> Conv {
        Conv {
            pk,
            started_at: NO_TIME,
            ended_at: NO_TIME,
            last_entry: NO_TIME,
            lat: f64::NAN,
            lon: f64::NAN,
            meta_rating: f64::NAN,
            dims: [0; DIMS],
            city: 0,
            customer: 0,
            messages: 0,
            used: false,
            deleted: false,
            explicit: None,
            meta_sentiment: None,
            actions: Vec::new(),
            meta: Box::new([]),
        }
    }

    fn touch(&mut self, ts: Micros) {
        self.last_entry = self.last_entry.max(ts);
        self.used = true;
    }

    fn feedback(&self) -> Option<Feedback> {
        match (self.explicit, self.meta_sentiment) {
            (Some(sentiment), _) => Some(Feedback { sentiment, rating: None }),
            (None, Some(sentiment)) => {
                Some(Feedback { sentiment, rating: (!self.meta_rating.is_nan()).then_some(self.meta_rating) })
            }
            (None, None) => None,
        }
    }
}

fn opt(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

/// Messages of one conversation in one bucket.
#[derive(Debug, Clone, Copy, Default)]
struct MsgAgg {
    conv: u32,
    by_sender: [u32; 3],
    responses: u32,
    response_us: i64,
}

/// Actions of one name in one conversation in one bucket.
#[derive(Debug, Clone, Copy, Default)]
struct ToolAgg {
    conv: u32,
    name: u32,
    calls: u32,
    errors: u32,
    known: u32,
    duration_us: i64,
}

/// The aggregates of one bucket and where each key's row is.
#[derive(Debug)]
struct Bucket<T, K> {
    rows: Vec<T>,
    slots: HashMap<K, u32>,
}

impl<T: Default, K: std::hash::Hash + Eq> Bucket<T, K> {
    fn new() -> Self {
        Bucket { rows: Vec::new(), slots: HashMap::default() }
    }

    fn row(&mut self, key: K, init: impl FnOnce() -> T) -> &mut T {
        let rows = &mut self.rows;
        let i = *self.slots.entry(key).or_insert_with(|| {
            rows.push(init());
            (rows.len() - 1) as u32
        });
        &mut self.rows[i as usize]
    }

    fn existing(&mut self, key: &K) -> Option<&mut T> {
        let i = *self.slots.get(key)?;
        self.rows.get_mut(i as usize)
    }
}

/// One agent's metric facts.
#[derive(Debug)]
pub struct AgentIndex {
    convs: Vec<Conv>,
    by_pk: HashMap<i64, u32>,
    started: BTreeMap<i64, Vec<u32>>,
    messages: BTreeMap<i64, Bucket<MsgAgg, u32>>,
    tools: BTreeMap<i64, Bucket<ToolAgg, (u32, u32)>>,
    dims: [Interner; DIMS],
    cities: HashMap<(u32, u32), u32>,
    city_names: Interner,
    /// City id → (country id, city-name id); id 0 is (null, null).
    city_keys: Vec<(u32, u32)>,
    customers: Interner,
    /// Per customer id: the conversations naming it (live or not) and the earliest start of
    /// its live ones ([`NO_FIRST`] when none): "first seen" of the users metrics. Derived from
    /// `convs`, so never written to a snapshot.
    customer_convs: Vec<Vec<u32>>,
    first_seen: Vec<Micros>,
    meta: Interner,
    actions: Interner,
    deleted: usize,
    entries: u64,
}

impl Default for AgentIndex {
    fn default() -> Self {
        AgentIndex::new()
    }
}

/// Local date, weekday and hour of every instant of a bucket.
#[derive(Debug, Clone, Copy)]
struct LocalSlot {
    day: usize,
    weekday: usize,
    hour: usize,
}

/// Which conversations a query keeps.
enum Keep {
    All,
    Some(Vec<bool>),
}

impl Keep {
    #[inline]
    fn get(&self, i: u32) -> bool {
        match self {
            Keep::All => true,
            Keep::Some(v) => v.get(i as usize).copied().unwrap_or(false),
        }
    }
}

/// A compiled dimension filter: the id to equal (`u32::MAX` when the value was never seen).
type DimTest = Option<u32>;

const NEVER: u32 = u32::MAX;

impl AgentIndex {
    /// An empty index.
    pub fn new() -> AgentIndex {
        AgentIndex {
            convs: Vec::new(),
            by_pk: HashMap::default(),
            started: BTreeMap::new(),
            messages: BTreeMap::new(),
            tools: BTreeMap::new(),
            dims: Default::default(),
            cities: HashMap::default(),
            city_names: Interner::default(),
            city_keys: vec![(0, 0)],
            customers: Interner::default(),
            customer_convs: Vec::new(),
            first_seen: Vec::new(),
            meta: Interner::default(),
            actions: Interner::default(),
            deleted: 0,
            entries: 0,
        }
    }

    /// Conversations held.
    pub fn conversations(&self) -> usize {
        self.convs.len()
    }

    /// Messages, actions and buttons applied.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// A rough count of the bytes held (for logs and benchmarks).
    pub fn approx_bytes(&self) -> usize {
        let conv = std::mem::size_of::<Conv>() + 24;
        let convs: usize =
            self.convs.iter().map(|c| conv + 4 * c.actions.capacity() + 8 * c.meta.len()).sum();
        let msg_rows: usize =
            self.messages.values().map(|b| b.rows.capacity() * 32 + b.slots.capacity() * 9).sum();
        let tool_rows: usize =
            self.tools.values().map(|b| b.rows.capacity() * 24 + b.slots.capacity() * 13).sum();
        let started: usize = self.started.values().map(|v| v.capacity() * 4 + 48).sum();
        let interned: usize = self.dims.iter().map(Interner::bytes).sum::<usize>()
            + self.customers.bytes()
            + self.customer_convs.iter().map(|v| 24 + 4 * v.capacity()).sum::<usize>()
            + 8 * self.first_seen.capacity()
            + self.meta.bytes()
            + self.actions.bytes()
            + self.city_names.bytes();
        convs + self.by_pk.capacity() * 13 + msg_rows + tool_rows + started + interned
    }

    fn conv_idx(&self, pk: i64) -> Result<u32, IndexError> {
        self.by_pk.get(&pk).copied().ok_or(IndexError::UnknownConversation(pk))
    }

    /// Applies one entry-level change.
    pub fn apply(&mut self, d: &Delta) -> Result<(), IndexError> {
        match d {
            Delta::Message { pk, ts, sender, response_us } => {
                let i = self.conv_idx(*pk)?;
                let row = self
                    .messages
                    .entry(bucket_of(*ts))
                    .or_insert_with(Bucket::new)
                    .row(i, || MsgAgg { conv: i, ..Default::default() });
                row.by_sender[sender.slot()] += 1;
                if let Some(r) = response_us {
                    row.responses += 1;
                    row.response_us += r;
                }
                let c = &mut self.convs[i as usize];
                c.messages += 1;
                c.touch(*ts);
                self.entries += 1;
                Ok(())
            }
            Delta::Response { pk, ts, old, new } => {
                let i = self.conv_idx(*pk)?;
                let row = self
                    .messages
                    .get_mut(&bucket_of(*ts))
                    .and_then(|b| b.existing(&i))
                    .ok_or(IndexError::UnknownMessage(*pk))?;
                if let Some(o) = old {
                    row.responses = row.responses.saturating_sub(1);
                    row.response_us -= o;
                }
                if let Some(n) = new {
                    row.responses += 1;
                    row.response_us += n;
                }
                Ok(())
            }
            Delta::Action { pk, ts, name, duration_us, error } => {
                self.action(*pk, *ts, name, *duration_us, *error)
            }
            Delta::Button { pk, ts } => {
                let i = self.conv_idx(*pk)?;
                self.convs[i as usize].touch(*ts);
                self.entries += 1;
                Ok(())
            }
        }
    }

    /// An action was stored (the borrowed form of [`Delta::Action`], for bulk loads).
    pub fn action(
        &mut self,
        pk: i64,
        ts: Micros,
        name: &str,
        duration_us: Option<i64>,
        error: bool,
    ) -> Result<(), IndexError> {
        let i = self.conv_idx(pk)?;
        let name_id = self.actions.intern(Some(name));
        // `token_usage` is bookkeeping, never a tool call: only its conversation learns of it
        // (its time and name), no tool aggregate is kept for it.
        if name != TOKEN_USAGE_ACTION {
            let row = self
                .tools
                .entry(bucket_of(ts))
                .or_insert_with(Bucket::new)
                .row((i, name_id), || ToolAgg { conv: i, name: name_id, ..Default::default() });
            row.calls += 1;
            if error {
                row.errors += 1;
            }
            if let Some(d) = duration_us {
                row.known += 1;
                row.duration_us += d;
            }
        }
        let c = &mut self.convs[i as usize];
        if !c.actions.contains(&name_id) {
            c.actions.push(name_id);
        }
        c.touch(ts);
        self.entries += 1;
        Ok(())
    }

    /// A conversation was removed for good (retention, erase): it counts nowhere from now on.
    /// Its slot stays as a deleted one that no pk names (so a later conversation given the same
    /// pk starts afresh) until the index is next loaded.
    pub fn remove(&mut self, pk: i64) {
        if let Some(i) = self.by_pk.remove(&pk) {
            let c = &mut self.convs[i as usize];
            if !c.deleted {
                c.deleted = true;
                self.deleted += 1;
                let customer = c.customer;
                self.refresh_first_seen(customer);
            }
        }
    }

    /// Recomputes a customer's first seen from its conversations.
    fn refresh_first_seen(&mut self, customer: u32) {
        if customer == 0 {
            return;
        }
        let convs = &self.convs;
        let first = self.customer_convs[customer as usize]
            .iter()
            .map(|&i| &convs[i as usize])
            .filter(|c| !c.deleted)
            .map(|c| c.started_at)
            .min()
            .unwrap_or(NO_FIRST);
        self.first_seen[customer as usize] = first;
    }

    /// Conversation `i` now names `customer` (0: none) instead of `old`: the lists follow.
    fn move_customer(&mut self, i: u32, old: u32, customer: u32) {
        if old == customer {
            return;
        }
        if old != 0 {
            self.customer_convs[old as usize].retain(|x| *x != i);
        }
        if customer != 0 {
            let n = self.customers.len();
            if self.customer_convs.len() < n {
                self.customer_convs.resize_with(n, Vec::new);
                self.first_seen.resize(n, NO_FIRST);
            }
            self.customer_convs[customer as usize].push(i);
        }
    }

    /// Rebuilds every customer's conversations and first seen from `convs` (after a decode).
    fn rebuild_first_seen(&mut self) {
        let n = self.customers.len();
        self.customer_convs = vec![Vec::new(); n];
        self.first_seen = vec![NO_FIRST; n];
        for (i, c) in self.convs.iter().enumerate() {
            if c.customer != 0 && (c.customer as usize) < n {
                self.customer_convs[c.customer as usize].push(i as u32);
                if !c.deleted && c.started_at != NO_TIME {
                    let f = &mut self.first_seen[c.customer as usize];
                    *f = (*f).min(c.started_at);
                }
            }
        }
    }

    /// Creates a conversation or replaces its row-level state.
    pub fn conversation(&mut self, s: &ConvState) {
        let i = match self.by_pk.get(&s.pk) {
            Some(i) => *i,
            None => {
                self.convs.push(Conv::new(s.pk));
                let i = (self.convs.len() - 1) as u32;
                self.by_pk.insert(s.pk, i);
                i
            }
        };
        let old_start = self.convs[i as usize].started_at;
        if old_start != s.started_at {
            if let Some(v) = self.started.get_mut(&bucket_of(old_start)).filter(|_| old_start != NO_TIME) {
                v.retain(|x| *x != i);
            }
            self.started.entry(bucket_of(s.started_at)).or_default().push(i);
        }
        let dims = [
            self.dims[ENV].intern(s.environment.as_deref()),
            self.dims[SOURCE].intern(s.source.as_deref()),
            self.dims[DEVICE].intern(s.device.as_deref()),
            self.dims[LANGUAGE].intern(s.language.as_deref()),
            self.dims[COUNTRY].intern(s.country.as_deref()),
        ];
        let city_key = (dims[COUNTRY], self.city_names.intern(s.city.as_deref()));
        let city = match self.cities.get(&city_key) {
            Some(id) => *id,
            None if city_key == (0, 0) => 0,
            None => {
                self.city_keys.push(city_key);
                let id = (self.city_keys.len() - 1) as u32;
                self.cities.insert(city_key, id);
                id
            }
        };
        let customer = self.customers.intern(s.customer_id.as_deref());
        let doc: Option<Value> = s.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok());
        let meta_fb = doc.as_ref().and_then(feedback::from_metadata);
        let mut meta: Vec<(u32, u32)> = Vec::new();
        if let Some(Value::Object(m)) = &doc {
            for (k, v) in m {
                if let Some(text) = metadata_text(v) {
                    meta.push((self.meta.intern(Some(k)), self.meta.intern(Some(&text))));
                }
            }
        }
        let (old_customer, old_deleted) = (self.convs[i as usize].customer, self.convs[i as usize].deleted);
        let c = &mut self.convs[i as usize];
        if c.deleted != s.is_deleted {
            if s.is_deleted {
                self.deleted += 1;
            } else {
                self.deleted = self.deleted.saturating_sub(1);
            }
        }
        c.started_at = s.started_at;
        c.ended_at = s.ended_at.unwrap_or(NO_TIME);
        c.dims = dims;
        c.city = city;
        c.lat = s.lat.unwrap_or(f64::NAN);
        c.lon = s.lon.unwrap_or(f64::NAN);
        c.customer = customer;
        c.used = s.is_used || c.used;
        c.deleted = s.is_deleted;
        c.explicit = s.latest_feedback.as_deref().and_then(Sentiment::parse);
        c.meta_sentiment = meta_fb.map(|f| f.sentiment);
        c.meta_rating = meta_fb.and_then(|f| f.rating).unwrap_or(f64::NAN);
        c.meta = meta.into_boxed_slice();
        // First seen: a live conversation's start can only lower its customer's; anything
        // else (a start moved later, a delete, another customer) recomputes from the lists.
        self.move_customer(i, old_customer, customer);
        if old_customer != customer {
            self.refresh_first_seen(old_customer);
        }
        if customer != 0 {
            let first = self.first_seen[customer as usize];
            if s.is_deleted
                || (old_customer == customer
                    && !old_deleted
                    && old_start == first
                    && s.started_at > old_start)
            {
                self.refresh_first_seen(customer);
            } else if !s.is_deleted {
                self.first_seen[customer as usize] = first.min(s.started_at);
            }
        }
    }

    /// Writes the whole index (the snapshot file's body; see [`super::codec`]). Read back with
    /// [`AgentIndex::decode`] it is the same index: the same interned ids, rows in the same
    /// order, so every answer is the same.
    pub fn encode<W: std::io::Write>(&self, e: &mut Enc<W>) -> std::io::Result<()> {
        e.len(self.convs.len())?;
        for c in &self.convs {
            e.i64(c.pk)?;
            e.i64(c.started_at)?;
            e.i64(c.ended_at)?;
            e.i64(c.last_entry)?;
            e.f64(c.lat)?;
            e.f64(c.lon)?;
            e.f64(c.meta_rating)?;
            for d in c.dims {
                e.u32(d)?;
            }
            e.u32(c.city)?;
            e.u32(c.customer)?;
            e.u32(c.messages)?;
            e.bool(c.used)?;
            e.bool(c.deleted)?;
            e.u8(codec::sentiment_byte(c.explicit))?;
            e.u8(codec::sentiment_byte(c.meta_sentiment))?;
            e.len(c.actions.len())?;
            for a in &c.actions {
                e.u32(*a)?;
            }
            e.len(c.meta.len())?;
            for (k, v) in &c.meta {
                e.u32(*k)?;
                e.u32(*v)?;
            }
        }
        e.len(self.started.len())?;
        for (b, idxs) in &self.started {
            e.i64(*b)?;
            e.len(idxs.len())?;
            for i in idxs {
                e.u32(*i)?;
            }
        }
        e.len(self.messages.len())?;
        for (b, bucket) in &self.messages {
            e.i64(*b)?;
            e.len(bucket.rows.len())?;
            for r in &bucket.rows {
                e.u32(r.conv)?;
                for n in r.by_sender {
                    e.u32(n)?;
                }
                e.u32(r.responses)?;
                e.i64(r.response_us)?;
            }
        }
        e.len(self.tools.len())?;
        for (b, bucket) in &self.tools {
            e.i64(*b)?;
            e.len(bucket.rows.len())?;
            for r in &bucket.rows {
                e.u32(r.conv)?;
                e.u32(r.name)?;
                e.u32(r.calls)?;
                e.u32(r.errors)?;
                e.u32(r.known)?;
                e.i64(r.duration_us)?;
            }
        }
        for i in self.dims.iter().chain([&self.city_names, &self.customers, &self.meta, &self.actions]) {
            e.len(i.names.len())?;
            for n in &i.names {
                e.str(n)?;
            }
        }
        e.len(self.city_keys.len() - 1)?;
        for (country, city) in &self.city_keys[1..] {
            e.u32(*country)?;
            e.u32(*city)?;
        }
        e.u64(self.deleted as u64)?;
        e.u64(self.entries)
    }

    /// Reads what [`AgentIndex::encode`] wrote; an error for anything that does not hold
    /// together (the caller then builds the index from the database).
    pub fn decode<R: std::io::Read>(d: &mut Dec<R>) -> std::io::Result<AgentIndex> {
        let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
        let mut ix = AgentIndex::new();
        let n = d.len(codec::MAX_COUNT)?;
        ix.convs.reserve_exact(codec::reserve(n));
        ix.by_pk.reserve(codec::reserve(n));
        for i in 0..n {
            let pk = d.i64()?;
            let mut c = Conv::new(pk);
            c.started_at = d.i64()?;
            c.ended_at = d.i64()?;
            c.last_entry = d.i64()?;
            c.lat = d.f64()?;
            c.lon = d.f64()?;
            c.meta_rating = d.f64()?;
            for x in &mut c.dims {
                *x = d.u32()?;
            }
            c.city = d.u32()?;
            c.customer = d.u32()?;
            c.messages = d.u32()?;
            c.used = d.bool()?;
            c.deleted = d.bool()?;
            c.explicit = codec::byte_sentiment(d.u8()?)?;
            c.meta_sentiment = codec::byte_sentiment(d.u8()?)?;
            let na = d.len(codec::MAX_COUNT)?;
            c.actions = (0..na).map(|_| d.u32()).collect::<std::io::Result<_>>()?;
            let nm = d.len(codec::MAX_COUNT)?;
            c.meta = (0..nm).map(|_| Ok((d.u32()?, d.u32()?))).collect::<std::io::Result<_>>()?;
            if ix.by_pk.insert(pk, i as u32).is_some() {
                return Err(bad("a conversation twice"));
            }
            ix.convs.push(c);
        }
        let conv_ok = |i: u32| if (i as usize) < n { Ok(i) } else { Err(bad("a row of no conversation")) };
        for _ in 0..d.len(codec::MAX_COUNT)? {
            let b = d.i64()?;
            let k = d.len(codec::MAX_COUNT)?;
            let v = (0..k).map(|_| conv_ok(d.u32()?)).collect::<std::io::Result<Vec<u32>>>()?;
            ix.started.insert(b, v);
        }
        for _ in 0..d.len(codec::MAX_COUNT)? {
            let b = d.i64()?;
            let k = d.len(codec::MAX_COUNT)?;
            let mut bucket =
                Bucket { rows: Vec::with_capacity(codec::reserve(k)), slots: HashMap::default() };
            bucket.slots.reserve(codec::reserve(k));
            for j in 0..k {
                let conv = conv_ok(d.u32()?)?;
                let by_sender = [d.u32()?, d.u32()?, d.u32()?];
                let row = MsgAgg { conv, by_sender, responses: d.u32()?, response_us: d.i64()? };
                if bucket.slots.insert(conv, j as u32).is_some() {
                    return Err(bad("a message row twice"));
                }
                bucket.rows.push(row);
            }
            ix.messages.insert(b, bucket);
        }
        for _ in 0..d.len(codec::MAX_COUNT)? {
            let b = d.i64()?;
            let k = d.len(codec::MAX_COUNT)?;
            let mut bucket =
                Bucket { rows: Vec::with_capacity(codec::reserve(k)), slots: HashMap::default() };
            bucket.slots.reserve(codec::reserve(k));
            for j in 0..k {
                let row = ToolAgg {
                    conv: conv_ok(d.u32()?)?,
                    name: d.u32()?,
                    calls: d.u32()?,
                    errors: d.u32()?,
                    known: d.u32()?,
                    duration_us: d.i64()?,
                };
                if bucket.slots.insert((row.conv, row.name), j as u32).is_some() {
                    return Err(bad("a tool row twice"));
                }
                bucket.rows.push(row);
            }
            ix.tools.insert(b, bucket);
        }
        let AgentIndex { dims, city_names, customers, meta, actions, .. } = &mut ix;
        for i in dims.iter_mut().chain([city_names, customers, meta, actions]) {
            for _ in 0..d.len(codec::MAX_COUNT)? {
                let name = d.str()?;
                if i.intern(Some(&name)) as usize != i.names.len() {
                    return Err(bad("a name twice"));
                }
            }
        }
        for _ in 0..d.len(codec::MAX_COUNT)? {
            let key = (d.u32()?, d.u32()?);
            ix.city_keys.push(key);
            if ix.cities.insert(key, (ix.city_keys.len() - 1) as u32).is_some() {
                return Err(bad("a city twice"));
            }
        }
        ix.deleted = usize::try_from(d.u64()?).map_err(|_| bad("a count beyond memory"))?;
        ix.entries = d.u64()?;
        if ix.convs.iter().any(|c| c.customer as usize >= ix.customers.len()) {
            return Err(bad("a customer of no name"));
        }
        ix.rebuild_first_seen();
        Ok(ix)
    }

    fn dim_test(&self, dim: usize, f: &Option<DimFilter>) -> Option<DimTest> {
        f.as_ref().map(|f| match f {
            DimFilter::Unknown => Some(0),
            DimFilter::Is(v) => Some(self.dims[dim].get(v).unwrap_or(NEVER)),
        })
    }

    /// The conversations the query's filters keep (deleted ones never).
    fn keep(&self, q: &MetricsQuery) -> Keep {
        let f = &q.filters;
        let tests: Vec<(usize, u32)> = [
            (ENV, &f.environment),
            (SOURCE, &f.source),
            (DEVICE, &f.device),
            (LANGUAGE, &f.language),
            (COUNTRY, &f.country),
        ]
        .into_iter()
        .filter_map(|(d, filt)| self.dim_test(d, filt).flatten().map(|id| (d, id)))
        .collect();
        let customer: Option<u32> = f.customer_id.as_ref().map(|c| match c {
            DimFilter::Unknown => 0,
            DimFilter::Is(v) => self.customers.get(v).unwrap_or(NEVER),
        });
        let meta: Option<(u32, u32)> =
            f.metadata.as_ref().map(|(k, v)| match (self.meta.get(k), self.meta.get(v)) {
                (Some(k), Some(v)) => (k, v),
                _ => (NEVER, NEVER),
            });
        if tests.is_empty() && customer.is_none() && meta.is_none() && self.deleted == 0 {
            return Keep::All;
        }
        Keep::Some(
            self.convs
                .iter()
                .map(|c| {
                    !c.deleted
                        && tests.iter().all(|(d, id)| c.dims[*d] == *id)
                        && customer.is_none_or(|id| c.customer == id)
                        && meta.is_none_or(|pair| c.meta.contains(&pair))
                })
                .collect(),
        )
    }

    /// The overview for `q`, or `None` when the query's zone does not keep whole quarter hours
    /// over the range (the store then answers from raw rows).
    pub fn overview(
        &self,
        q: &MetricsQuery,
        escalation: &[String],
        agent: AgentRef,
    ) -> Option<OverviewResponse> {
        let (start, end) = q.instants();
        let mut clock = Clock::new(q, start, end)?;
        let (sb, eb) = (bucket_of(start), bucket_of(end));
        let keep = self.keep(q);
        let mut p = OverviewParts::new(q);
        let escalation: Vec<u32> = escalation.iter().filter_map(|n| self.actions.get(n)).collect();

        // Conversations in range.
        let mut dim_counts: Vec<Vec<u64>> = (0..DIMS).map(|d| vec![0u64; self.dims[d].len()]).collect();
        // City id → (conversations, pk of its first conversation, lat, lon).
        let mut cities: Vec<(u64, i64, f64, f64)> =
            vec![(0, i64::MAX, f64::NAN, f64::NAN); self.city_keys.len()];
        let mut users = vec![0u64; self.customers.len().div_ceil(64)];
        let empty_customer = self.customers.get("");
        let mut unique_users = 0u64;
        for (&b, idxs) in self.started.range(sb..eb) {
            let slot = clock.slot(b)?;
            for &i in idxs {
                if !keep.get(i) {
                    continue;
                }
                let c = &self.convs[i as usize];
                p.total_conversations += 1;
                p.daily_conversations[slot.day] += 1;
                if c.used {
                    p.used += 1;
                }
                if c.messages > 0 {
                    let ended = if c.ended_at != NO_TIME { c.ended_at } else { c.last_entry };
                    p.durations.0 += 1;
                    p.durations.1 += i128::from(ended - c.started_at);
                }
                for d in [SOURCE, DEVICE, LANGUAGE, COUNTRY] {
                    dim_counts[d][c.dims[d] as usize] += 1;
                }
                let e = &mut cities[c.city as usize];
                if c.pk < e.1 {
                    (e.1, e.2, e.3) = (c.pk, c.lat, c.lon);
                }
                e.0 += 1;
                if c.customer != 0 && Some(c.customer) != empty_customer {
                    let (w, bit) = ((c.customer / 64) as usize, c.customer % 64);
                    if users[w] & (1 << bit) == 0 {
                        users[w] |= 1 << bit;
                        unique_users += 1;
                    }
                }
                if c.actions.iter().any(|a| escalation.contains(a)) {
                    p.escalated += 1;
                }
                if let Some(f) = c.feedback() {
                    p.add_feedback(&f);
                }
            }
        }
        p.unique_users = unique_users;
        let named = |d: usize, counts: &[u64]| -> Vec<(Option<String>, u64)> {
            counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(id, n)| (self.dims[d].name(id as u32).map(str::to_string), *n))
                .collect()
        };
        p.devices = named(DEVICE, &dim_counts[DEVICE]);
        p.sources = named(SOURCE, &dim_counts[SOURCE]);
        p.languages = named(LANGUAGE, &dim_counts[LANGUAGE]);
        p.countries = named(COUNTRY, &dim_counts[COUNTRY]);
        p.cities = cities
            .into_iter()
            .enumerate()
            .filter(|(_, c)| c.0 > 0)
            .map(|(id, (n, _, lat, lon))| {
                let (country, city) = self.city_keys.get(id).copied().unwrap_or((0, 0));
                (
                    (
                        self.dims[COUNTRY].name(country).map(str::to_string),
                        self.city_names.name(city).map(str::to_string),
                    ),
                    (opt(lat), opt(lon), n),
                )
            })
            .collect();

        // Messages and responses in range.
        for (&b, bucket) in self.messages.range(sb..eb) {
            let slot = clock.slot(b)?;
            let mut n = [0u64; 3];
            let (mut r_n, mut r_sum) = (0u64, 0i128);
            for row in &bucket.rows {
                if !keep.get(row.conv) {
                    continue;
                }
                for (acc, x) in n.iter_mut().zip(row.by_sender) {
                    *acc += u64::from(x);
                }
                r_n += u64::from(row.responses);
                r_sum += i128::from(row.response_us);
            }
            let total = n[0] + n[1] + n[2];
            p.total_messages += total;
            p.by_sender.end_user += n[0];
            p.by_sender.agent += n[1];
            p.by_sender.system += n[2];
            p.daily_messages[slot.day] += total;
            p.matrix[slot.weekday][slot.hour] += total;
            p.responses.0 += r_n;
            p.responses.1 += r_sum;
        }

        // Tools in range.
        let token_usage = self.actions.get(TOKEN_USAGE_ACTION);
        let mut tools: HashMap<u32, (u64, u64, u64, i128)> = HashMap::default();
        for (&b, bucket) in self.tools.range(sb..eb) {
            clock.slot(b)?;
            for row in &bucket.rows {
                if Some(row.name) == token_usage || !keep.get(row.conv) {
                    continue;
                }
                let t = tools.entry(row.name).or_default();
                t.0 += u64::from(row.calls);
                t.1 += u64::from(row.errors);
                t.2 += u64::from(row.known);
                t.3 += i128::from(row.duration_us);
            }
        }
        p.tools = tools
            .into_iter()
            .map(|(name, (calls, errors, known, sum))| ToolRow {
                name: self.actions.name(name).unwrap_or_default().to_string(),
                calls,
                avg_duration_ms: (known > 0).then(|| sum as f64 / known as f64 / 1000.0),
                errors,
            })
            .collect();
        Some(p.assemble(q, agent))
    }

    /// One metric by local hour, day, week or month, or `None` as for [`AgentIndex::overview`].
    pub fn timeseries(
        &self,
        q: &MetricsQuery,
        metric: SeriesMetric,
        interval: Interval,
        agent: AgentRef,
    ) -> Option<TimeseriesResponse> {
        let (start, end) = q.instants();
        let mut clock = Clock::new(q, start, end)?;
        let (sb, eb) = (bucket_of(start), bucket_of(end));
        let keep = self.keep(q);
        let buckets = Buckets::new(q, interval);
        let mut counts = vec![0u64; buckets.len()];
        let mut sums = vec![0i128; buckets.len()];
        let mut at = |b: i64, n: u64, sum: i128, clock: &mut Clock<'_>| -> Option<()> {
            clock.slot(b)?;
            if let Some(i) = buckets.of(b * BUCKET_US) {
                counts[i] += n;
                sums[i] += sum;
            }
            Some(())
        };
        match metric {
            SeriesMetric::Conversations | SeriesMetric::UniqueInteractions => {
                for (&b, idxs) in self.started.range(sb..eb) {
                    let n = idxs
                        .iter()
                        .filter(|i| {
                            keep.get(**i)
                                && (metric == SeriesMetric::Conversations || self.convs[**i as usize].used)
                        })
                        .count() as u64;
                    at(b, n, 0, &mut clock)?;
                }
            }
            SeriesMetric::Messages | SeriesMetric::BotResponses | SeriesMetric::AvgBotResponseTimeMs => {
                for (&b, bucket) in self.messages.range(sb..eb) {
                    let (mut n, mut sum) = (0u64, 0i128);
                    for row in bucket.rows.iter().filter(|r| keep.get(r.conv)) {
                        if metric == SeriesMetric::Messages {
                            n += row.by_sender.iter().map(|x| u64::from(*x)).sum::<u64>();
                        } else {
                            n += u64::from(row.responses);
                            sum += i128::from(row.response_us);
                        }
                    }
                    at(b, n, sum, &mut clock)?;
                }
            }
            SeriesMetric::ToolCalls => {
                let token_usage = self.actions.get(TOKEN_USAGE_ACTION);
                for (&b, bucket) in self.tools.range(sb..eb) {
                    let n = bucket
                        .rows
                        .iter()
                        .filter(|r| Some(r.name) != token_usage && keep.get(r.conv))
                        .map(|r| u64::from(r.calls))
                        .sum();
                    at(b, n, 0, &mut clock)?;
                }
            }
        }
        Some(super::series::response(agent, q, metric, interval, &buckets, &counts, &sums))
    }
}

impl AgentIndex {
    /// Users over time (`docs/metrics.md`, *Users over time*), or `None` as for
    /// [`AgentIndex::overview`]: the conversations in range by their start's bucket, each
    /// user's first seen from the per-customer map, whatever the filters.
    pub fn users(&self, q: &MetricsQuery, interval: Interval, agent: AgentRef) -> Option<UsersResponse> {
        let (start, end) = q.instants();
        let mut clock = Clock::new(q, start, end)?;
        let keep = self.keep(q);
        let empty = self.customers.get("");
        let mut b = UsersBuilder::new(q, interval);
        for (&bk, idxs) in self.started.range(bucket_of(start)..bucket_of(end)) {
            let slot = clock.slot(bk)?;
            for &i in idxs {
                let c = &self.convs[i as usize];
                if c.customer == 0 || Some(c.customer) == empty || c.deleted || !keep.get(i) {
                    continue;
                }
                b.add(c.customer, slot.day as u32);
            }
        }
        Some(b.finish(agent, |u| {
            let first = self.first_seen.get(u as usize).copied().unwrap_or(NO_FIRST);
            if first == NO_FIRST { i64::MAX } else { (q.local_date(first) - q.from).num_days() }
        }))
    }
}

/// Local date, weekday and hour of the buckets of a range, worked out once per bucket read.
struct Clock<'q> {
    q: &'q MetricsQuery,
    first: i64,
    slots: Vec<Option<LocalSlot>>,
}

impl<'q> Clock<'q> {
    /// `None` when the range does not start and end on quarter hours.
    fn new(q: &'q MetricsQuery, start: Micros, end: Micros) -> Option<Clock<'q>> {
        if start.rem_euclid(BUCKET_US) != 0 || end.rem_euclid(BUCKET_US) != 0 {
            return None;
        }
        let n = usize::try_from(bucket_of(end) - bucket_of(start)).ok()?;
        Some(Clock { q, first: bucket_of(start), slots: vec![None; n] })
    }

    /// The local slot of bucket `b`, or `None` when its instants do not share one local hour
    /// (an offset that is not a whole number of quarter hours, or a change inside it).
    fn slot(&mut self, b: i64) -> Option<LocalSlot> {
        let i = usize::try_from(b - self.first).ok()?;
        if let Some(s) = *self.slots.get(i)? {
            return Some(s);
        }
        let at = |us: Micros| DateTime::<Utc>::from_timestamp_micros(us).map(|d| d.with_timezone(&self.q.tz));
        let first = at(b * BUCKET_US)?;
        let last = at((b + 1) * BUCKET_US - 1)?;
        let offset = first.offset().fix().local_minus_utc();
        if offset % 900 != 0 || offset != last.offset().fix().local_minus_utc() {
            return None;
        }
        let day = usize::try_from((first.date_naive() - self.q.from).num_days()).ok()?;
        if day >= usize::try_from(self.q.days()).ok()? {
            return None;
        }
        let s = LocalSlot {
            day,
            weekday: first.weekday().num_days_from_monday() as usize,
            hour: first.hour() as usize,
        };
        self.slots[i] = Some(s);
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::query;

    fn q(pairs: &[(&str, &str)]) -> MetricsQuery {
        let m: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        query::parse(&m, &["production".into(), "development".into()], 0).unwrap()
    }

    fn agent() -> AgentRef {
        AgentRef { id: 1, name: "a".into() }
    }

    const T: Micros = 1_778_000_000_000_000; // 2026-05-05T16:53:20Z

    fn conv(pk: i64, started_at: Micros) -> ConvState {
        ConvState { pk, started_at, is_used: true, device: Some("mobile".into()), ..Default::default() }
    }

    fn may5() -> MetricsQuery {
        q(&[("from", "2026-05-05"), ("to", "2026-05-05")])
    }

    #[test]
    fn a_zone_without_whole_quarter_hours_is_left_to_raw_rows() {
        // Monrovia kept UTC−0:44:30 until 1972.
        let ix = AgentIndex::new();
        let old = q(&[("from", "1971-06-01"), ("to", "1971-06-02"), ("tz", "Africa/Monrovia")]);
        assert!(ix.overview(&old, &[], agent()).is_none());
        let later = q(&[("from", "1973-06-01"), ("to", "1973-06-02"), ("tz", "Africa/Monrovia")]);
        assert!(ix.overview(&later, &[], agent()).is_some());
    }

    #[test]
    fn deleted_conversations_and_their_entries_leave_every_metric() {
        let mut ix = AgentIndex::new();
        ix.conversation(&conv(1, T));
        ix.conversation(&conv(2, T));
        for pk in [1, 2] {
            ix.apply(&Delta::Message { pk, ts: T + 1, sender: Sender::EndUser, response_us: None }).unwrap();
            ix.apply(&Delta::Message { pk, ts: T + 5, sender: Sender::Agent, response_us: Some(4) }).unwrap();
        }
        let o = ix.overview(&may5(), &[], agent()).unwrap();
        assert_eq!((o.total_conversations, o.total_messages, o.bot_responses), (2, 4, 2));
        ix.conversation(&ConvState { is_deleted: true, ..conv(2, T) });
        let o = ix.overview(&may5(), &[], agent()).unwrap();
        assert_eq!((o.total_conversations, o.total_messages, o.bot_responses), (1, 2, 1));
        assert_eq!(o.devices[0].conversations, 1);
    }

    #[test]
    fn a_removed_conversation_leaves_every_metric_and_its_pk_may_start_afresh() {
        let mut ix = AgentIndex::new();
        ix.conversation(&conv(1, T));
        ix.conversation(&conv(2, T));
        for pk in [1, 2] {
            ix.apply(&Delta::Message { pk, ts: T + 1, sender: Sender::EndUser, response_us: None }).unwrap();
            ix.apply(&Delta::Message { pk, ts: T + 5, sender: Sender::Agent, response_us: Some(4) }).unwrap();
        }
        ix.remove(2);
        ix.remove(2);
        let o = ix.overview(&may5(), &[], agent()).unwrap();
        assert_eq!((o.total_conversations, o.total_messages, o.bot_responses), (1, 2, 1));
        assert_eq!(ix.apply(&Delta::Button { pk: 2, ts: T }), Err(IndexError::UnknownConversation(2)));
        // SQLite may give the pk of a removed conversation to a new one: nothing old comes back.
        ix.conversation(&conv(2, T));
        ix.apply(&Delta::Message { pk: 2, ts: T + 9, sender: Sender::EndUser, response_us: None }).unwrap();
        let o = ix.overview(&may5(), &[], agent()).unwrap();
        assert_eq!((o.total_conversations, o.total_messages, o.bot_responses), (2, 3, 1));
    }

    #[test]
    fn a_conversation_whose_start_moves_counts_on_its_new_day() {
        let mut ix = AgentIndex::new();
        ix.conversation(&conv(1, T));
        ix.conversation(&conv(1, T - 86_400_000_000));
        let o = ix.overview(&q(&[("from", "2026-05-04"), ("to", "2026-05-05")]), &[], agent()).unwrap();
        assert_eq!(o.daily.iter().map(|d| d.conversations).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(ix.overview(&may5(), &[], agent()).unwrap().total_conversations, 0);
    }

    #[test]
    fn a_response_change_moves_the_mean_and_an_unknown_one_is_an_error() {
        let mut ix = AgentIndex::new();
        ix.conversation(&conv(1, T));
        ix.apply(&Delta::Message { pk: 1, ts: T + 10, sender: Sender::Agent, response_us: None }).unwrap();
        ix.apply(&Delta::Message { pk: 1, ts: T + 4, sender: Sender::EndUser, response_us: None }).unwrap();
        ix.apply(&Delta::Response { pk: 1, ts: T + 10, old: None, new: Some(6) }).unwrap();
        let o = ix.overview(&may5(), &[], agent()).unwrap();
        assert_eq!((o.bot_responses, o.avg_bot_response_time_ms), (1, Some(0.006)));
        assert_eq!(
            ix.apply(&Delta::Response { pk: 1, ts: T + 3_600_000_000, old: None, new: Some(1) }),
            Err(IndexError::UnknownMessage(1))
        );
        assert_eq!(ix.apply(&Delta::Button { pk: 9, ts: T }), Err(IndexError::UnknownConversation(9)));
    }

    #[test]
    fn an_encoded_index_reads_back_as_the_same_index() {
        let mut ix = AgentIndex::new();
        let mut c = conv(1, T);
        c.metadata = Some(r#"{"plan":"pro","feedback":{"rating":4}}"#.into());
        c.city = Some("Zagreb".into());
        c.country = Some("HR".into());
        c.customer_id = Some("u1".into());
        ix.conversation(&c);
        ix.conversation(&ConvState { latest_feedback: Some("negative".into()), ..conv(2, T + 1) });
        ix.conversation(&ConvState { is_deleted: true, ..conv(3, T + 2) });
        ix.apply(&Delta::Message { pk: 1, ts: T + 10, sender: Sender::Agent, response_us: Some(7) }).unwrap();
        ix.apply(&Delta::Message { pk: 2, ts: T + 3_600_000_000, sender: Sender::System, response_us: None })
            .unwrap();
        ix.apply(&Delta::Action {
            pk: 1,
            ts: T,
            name: "open_ticket".into(),
            duration_us: Some(3),
            error: true,
        })
        .unwrap();
        ix.apply(&Delta::Action {
            pk: 2,
            ts: T,
            name: TOKEN_USAGE_ACTION.into(),
            duration_us: None,
            error: false,
        })
        .unwrap();
        ix.apply(&Delta::Button { pk: 3, ts: T + 5 }).unwrap();
        let bytes = |ix: &AgentIndex| {
            let mut e = Enc::new(Vec::new());
            ix.encode(&mut e).unwrap();
            e.finish().unwrap().0
        };
        let first = bytes(&ix);
        let mut d = Dec::new(&first[..]);
        let mut back = AgentIndex::decode(&mut d).unwrap();
        d.finish().unwrap();
        assert_eq!(bytes(&back), first, "the same structure, id for id");
        let esc = ["open_ticket".to_string()];
        for params in
            [vec![], vec![("country", "HR")], vec![("metadata", "plan:pro")], vec![("customer_id", "u1")]]
        {
            let mut p = vec![("from", "2026-05-05"), ("to", "2026-05-05")];
            p.extend(params);
            let q = q(&p);
            assert_eq!(back.overview(&q, &esc, agent()), ix.overview(&q, &esc, agent()));
        }
        // And it goes on from there as the original does.
        for x in [&mut ix, &mut back] {
            x.apply(&Delta::Response { pk: 1, ts: T + 10, old: Some(7), new: Some(9) }).unwrap();
            x.apply(&Delta::Message { pk: 2, ts: T + 20, sender: Sender::EndUser, response_us: None })
                .unwrap();
        }
        assert_eq!(bytes(&back), bytes(&ix));
        // A truncated body is an error, not a smaller index.
        let mut d = Dec::new(&first[..first.len() / 2]);
        assert!(AgentIndex::decode(&mut d).is_err());
    }

    /// A row-level change for the users property: an upsert of conversation `pk` or its removal.
    #[derive(Debug, Clone)]
    enum UserOp {
        Upsert { pk: i64, start: Micros, customer: Option<&'static str>, mobile: bool, deleted: bool },
        Remove(i64),
    }

    fn user_op() -> impl proptest::strategy::Strategy<Value = UserOp> {
        use proptest::prelude::*;
        const DAY: Micros = 86_400_000_000;
        prop_oneof![
            6 => (1i64..9, 0..(40 * DAY), prop::option::of(prop::sample::select(vec!["u1", "u2", "u3", ""])), any::<bool>(), prop::bool::weighted(0.15))
                .prop_map(|(pk, off, customer, mobile, deleted)| UserOp::Upsert { pk, start: T - 10 * DAY + off, customer, mobile, deleted }),
            1 => (1i64..9).prop_map(UserOp::Remove),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Users over time from the index (its first-seen map kept through upserts that move a
        /// start, change a customer, delete and restore, and removals) and from named facts
        /// (the raw-row engines' way) equal the reference, for several ranges, zones, filters
        /// and both grains.
        #[test]
        fn users_over_time_agree_with_the_reference(ops in proptest::collection::vec(user_op(), 1..40)) {
            use crate::metrics::reference::{self, Dataset, RefConversation};
            use crate::metrics::users::{NamedUsers, UsersBuilder, day_of};
            let mut ix = AgentIndex::new();
            let mut d = Dataset::default();
            for op in &ops {
                match *op {
                    UserOp::Upsert { pk, start, customer, mobile, deleted } => {
                        let device = Some(if mobile { "mobile" } else { "desktop" }.to_string());
                        let customer_id = customer.map(str::to_string);
                        ix.conversation(&ConvState { pk, started_at: start, customer_id: customer_id.clone(), device: device.clone(), is_deleted: deleted, ..Default::default() });
                        d.conversations.retain(|c| c.pk != pk);
                        d.conversations.push(RefConversation { pk, started_at: start, customer_id, device, is_deleted: deleted, metadata: serde_json::json!({}), ..Default::default() });
                    }
                    UserOp::Remove(pk) => {
                        ix.remove(pk);
                        d.conversations.retain(|c| c.pk != pk);
                    }
                }
            }
            for (from, to) in [("2026-04-25", "2026-06-14"), ("2026-05-06", "2026-05-20"), ("2026-05-11", "2026-05-11")] {
                for extra in [vec![], vec![("tz", "America/New_York")], vec![("tz", "Asia/Kathmandu"), ("device", "mobile")], vec![("customer_id", "u2")]] {
                    let mut p = vec![("from", from), ("to", to)];
                    p.extend(extra);
                    let q = q(&p);
                    for interval in [Interval::Day, Interval::Week] {
                        let want = reference::users(&d, &q, interval, agent());
                        let got = ix.users(&q, interval, agent()).expect("quarter-hour zones");
                        proptest::prop_assert_eq!(&got, &want, "index {:?} {:?}", p, interval);
                        // The raw-row way: facts of the matching conversations, first seen of all.
                        let (start, end) = q.instants();
                        let mut named = NamedUsers::new();
                        for c in d.conversations.iter().filter(|c| !c.is_deleted) {
                            if let Some(u) = c.customer_id.as_deref().filter(|u| !u.is_empty()) {
                                named.id(u, c.started_at);
                            }
                        }
                        let mut b = UsersBuilder::new(&q, interval);
                        for c in &d.conversations {
                            let device_ok = !p.contains(&("device", "mobile")) || c.device.as_deref() == Some("mobile");
                            let customer_ok = !p.contains(&("customer_id", "u2")) || c.customer_id.as_deref() == Some("u2");
                            if c.is_deleted || c.started_at < start || c.started_at >= end || !device_ok || !customer_ok {
                                continue;
                            }
                            if let Some(u) = c.customer_id.as_deref().filter(|u| !u.is_empty()) {
                                let id = named.id(u, c.started_at);
                                b.add(id, day_of(&q, c.started_at).expect("in range"));
                            }
                        }
                        proptest::prop_assert_eq!(&named.finish(b, agent()), &want, "named {:?} {:?}", p, interval);
                    }
                }
            }
            // A snapshot read back answers the same (removals left out: a pk removed and used
            // again leaves two slots of one pk, which a snapshot does not take back).
            if ops.iter().any(|o| matches!(o, UserOp::Remove(_))) {
                return Ok(());
            }
            let mut e = Enc::new(Vec::new());
            ix.encode(&mut e).unwrap();
            let bytes = e.finish().unwrap().0;
            let back = AgentIndex::decode(&mut Dec::new(&bytes[..])).unwrap();
            let q = q(&[("from", "2026-04-25"), ("to", "2026-06-14")]);
            proptest::prop_assert_eq!(back.users(&q, Interval::Week, agent()), ix.users(&q, Interval::Week, agent()));
        }
    }

    #[test]
    fn escalation_is_decided_at_query_time_from_the_action_names() {
        let mut ix = AgentIndex::new();
        ix.conversation(&conv(1, T));
        ix.apply(&Delta::Action {
            pk: 1,
            ts: T,
            name: "open_ticket".into(),
            duration_us: None,
            error: false,
        })
        .unwrap();
        let o = ix.overview(&may5(), &["open_ticket".into()], agent()).unwrap();
        assert_eq!(o.human_escalation.conversations, 1);
        let o = ix.overview(&may5(), &["handoff".into()], agent()).unwrap();
        assert_eq!(o.human_escalation.conversations, 0);
        assert_eq!(o.tools[0].name, "open_ticket");
    }
}
