//! `agentsight demo`: fills an agent with realistic, varied demo data ending now.
//!
//! Every item goes through the same write path as the API: a wire payload shaped exactly as
//! SDK 0.0.44 sends it (explicit nulls, ISO timestamps with `+00:00`), then
//! `agentsight_ingest` (validation, enrichment such as geolocation, the store).
//!
//! The data is deterministic for a seed: each conversation draws from its own random stream
//! (seed, conversation index), so the order in which the concurrent tasks finish changes
//! nothing. Times are relative to the moment the command starts.
//!
//! Speed: every store write waits for a group commit of the writer thread, so many
//! conversations run at once ([`CONCURRENCY`] tasks), each writing its own items in order.
//! The store is opened without fsync (demo data need not survive a power loss).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{DEFAULT_DATA_DIR, Target};
use agentsight_core::keys::{self, Role};
use agentsight_core::time::{Micros, now_micros};
use agentsight_core::tracking::{AgentScope, FeedbackSource};
use agentsight_ingest::{self as ingest, Enrichment, IngestError};
use agentsight_protocol::{self as wire, PkRef};
use agentsight_server::Settings;
use agentsight_server::app::enrichment;
use agentsight_store::AgentRow;
use agentsight_store::{ConfigStore, EventStore};
use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// Conversations written at once. Each waits for a group commit per item, so this many keep
/// the writer's groups full (it commits up to 512 queued writes at a time).
const CONCURRENCY: usize = 512;

const SEC: Micros = 1_000_000;
const DAY: Micros = 86_400 * SEC;

/// What `agentsight demo` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Conversations to generate.
    pub conversations: u64,
    /// Days back from now over which conversations start.
    pub days: u32,
    /// Agent name (created when missing).
    pub agent: String,
    /// Random seed.
    pub seed: u64,
    /// Geolocation files (`None`: `<data-dir>/geo`; with scale-out, none).
    pub geo_dir: Option<PathBuf>,
}

/// Runs `agentsight demo` on the stores of `target`.
pub async fn run(o: Options, target: Target) -> anyhow::Result<()> {
    if o.days == 0 || o.days > 3660 {
        bail!("--days must be between 1 and 3660");
    }
    match target {
        Target::Sqlite(dir) => {
            let mut settings = Settings::new(&dir);
            settings.geo_dir = o.geo_dir.clone();
            // Demo data need not survive a power loss: commit without fsync.
            settings.fsync = false;
            let store = crate::backend::open(&settings)?;
            let enrich = enrichment(&settings);
            fill(o, store.clone(), store, enrich).await
        }
        Target::ScaleOut(so) => {
            let mut settings = Settings::new(DEFAULT_DATA_DIR);
            settings.geo_dir = o.geo_dir.clone();
            let enrich = crate::backend::scale_out_enrichment(&settings);
            let stores = so.stores().await?;
            fill(o, stores.config, stores.events, enrich).await
        }
    }
}

/// Writes the demo data through `store`, with the agent from `config`.
async fn fill<C: ConfigStore, E: EventStore>(
    o: Options,
    config: C,
    store: E,
    enrich: Enrichment,
) -> anyhow::Result<()> {
    let enrich = Arc::new(enrich);
    let (agent, new_key) = find_or_create_agent(&config, &o.agent).await?;
    drop(config);
    let scope = Arc::new(AgentScope { agent_id: agent.id, environments: agent.environments.clone() });
    let now = now_micros();
    let world = Arc::new(World {
        seed: o.seed,
        now,
        window_start: now - i64::from(o.days) * DAY,
        pool: (o.conversations * 7 / 20).max(1),
    });

    let started = Instant::now();
    let mut pending = world.schedule(o.conversations).into_iter();
    let bar = progress_bar(o.conversations);
    let mut totals = Counts::default();
    let mut tasks: JoinSet<anyhow::Result<Counts>> = JoinSet::new();
    loop {
        while tasks.len() < CONCURRENCY {
            let Some((start, index)) = pending.next() else { break };
            let (store, enrich, scope, world) = (store.clone(), enrich.clone(), scope.clone(), world.clone());
            tasks.spawn(async move {
                let plan = world.plan(index, start);
                write_plan(&store, &enrich, &scope, plan).await
            });
        }
        let Some(done) = tasks.join_next().await else { break };
        let counts = done.context("a demo task failed")??;
        totals.add(&counts);
        bar.inc(1);
        if totals.conversations % 128 == 0 {
            let rate = totals.conversations as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} messages, {} conversations/s",
                thousands(totals.messages),
                thousands(rate as u64)
            ));
        }
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    // Dropping the last handle joins the writer thread after it committed what was queued.
    tokio::task::spawn_blocking(move || drop(store)).await.context("closing the store")?;

    out(&summary(&agent, &o, &totals, elapsed))?;
    if let Some(key) = new_key {
        out(&format!("Created agent '{}' (id {}) with a write key (shown once):", agent.name, agent.id))?;
        out(&key)?;
    }
    Ok(())
}

fn out(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

async fn find_or_create_agent(
    store: &impl ConfigStore,
    name: &str,
) -> anyhow::Result<(AgentRow, Option<String>)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        bail!("an agent name must have 1 to 255 characters");
    }
    if let Some(agent) = store.list_agents().await?.into_iter().find(|a| a.name == name) {
        return Ok((agent, None));
    }
    let agent = store.create_agent(name.to_string(), now_micros()).await.context("creating the agent")?;
    let k = keys::generate();
    store
        .create_key(agent.id, Role::Write, k.prefix.clone(), k.hash, now_micros())
        .await
        .context("storing the key")?;
    Ok((agent, Some(k.secret)))
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {elapsed_precise} [{bar:24}] {human_pos}/{human_len} conversations, {msg}, eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("0 messages");
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn summary(agent: &AgentRow, o: &Options, t: &Counts, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    format!(
        "Demo data for agent '{}' (id {}) over the last {} days: {} conversations ({} used, {} visits), \
         {} messages, {} actions ({} tool calls with {} errors, {} escalations, {} token_usage), \
         {} buttons, {} feedback records + {} metadata.feedback, in {:.1} s \
         ({} conversations/s, {} messages/s)",
        agent.name,
        agent.id,
        o.days,
        thousands(t.conversations),
        thousands(t.used),
        thousands(t.conversations - t.used),
        thousands(t.messages),
        thousands(t.actions),
        thousands(t.tool_calls),
        thousands(t.tool_errors),
        thousands(t.escalations),
        thousands(t.token_usage),
        thousands(t.buttons),
        thousands(t.feedback),
        thousands(t.meta_feedback),
        secs,
        thousands((t.conversations as f64 / secs) as u64),
        thousands((t.messages as f64 / secs) as u64),
    )
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut r = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            r.push(',');
        }
        r.push(c);
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Writing a conversation
// ---------------------------------------------------------------------------------------------

/// What was written, for the progress bar and the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    conversations: u64,
    used: u64,
    messages: u64,
    actions: u64,
    tool_calls: u64,
    tool_errors: u64,
    escalations: u64,
    token_usage: u64,
    buttons: u64,
    feedback: u64,
    meta_feedback: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.conversations += o.conversations;
        self.used += o.used;
        self.messages += o.messages;
        self.actions += o.actions;
        self.tool_calls += o.tool_calls;
        self.tool_errors += o.tool_errors;
        self.escalations += o.escalations;
        self.token_usage += o.token_usage;
        self.buttons += o.buttons;
        self.feedback += o.feedback;
        self.meta_feedback += o.meta_feedback;
    }
}

/// One payload as the SDK would send it, and the (simulated) time the server received it.
enum Step {
    /// `initialize_conversation` (is_used false) or `get_or_create_conversation`.
    Upsert(wire::ConversationPayload, Micros),
    /// `track_human_message` / `track_agent_message`.
    Message(wire::TrackPayload, Micros),
    /// `track_action` (tool calls, escalations, token usage).
    Action(wire::ActionPayload, Micros),
    /// `track_button`.
    Button(wire::ButtonPayload, Micros),
    /// `send_conversation_feedback`; `true`: by the conversation's pk, else by its string id.
    Feedback(wire::FeedbackPayload, Micros, bool),
}

/// A conversation's payloads in sending order.
struct Plan {
    steps: Vec<Step>,
    used: bool,
    meta_feedback: bool,
}

fn api(e: IngestError) -> anyhow::Error {
    anyhow::Error::new(e).context("a demo write was refused")
}

/// Sends a conversation's payloads in order, as the SDK's `send_tracked_data` would: the pk
/// returned by `get_or_create_conversation` goes into `conversation` of every later item.
async fn write_plan<E: EventStore>(
    store: &E,
    enrich: &Enrichment,
    scope: &AgentScope,
    plan: Plan,
) -> anyhow::Result<Counts> {
    let mut c = Counts {
        conversations: 1,
        used: u64::from(plan.used),
        meta_feedback: u64::from(plan.meta_feedback),
        ..Counts::default()
    };
    let mut pk: Option<i64> = None;
    for step in plan.steps {
        match step {
            Step::Upsert(p, at) => {
                let up = ingest::conversation(store, enrich, scope, &p, at).await.map_err(api)?;
                // initialize_conversation ignores the answer; get_or_create keeps the pk.
                if p.is_used == Some(true) {
                    pk = Some(up.row.id);
                }
            }
            Step::Message(mut p, at) => {
                p.conversation = pk.map(PkRef::Pk);
                ingest::message(store, scope, p, at).await.map_err(api)?;
                c.messages += 1;
            }
            Step::Action(mut p, at) => {
                p.conversation = pk.map(PkRef::Pk);
                ingest::action(store, scope, &p, at).await.map_err(api)?;
                c.actions += 1;
                if p.action_name == "token_usage" {
                    c.token_usage += 1;
                } else if ESCALATIONS.contains(&p.action_name.as_str()) {
                    c.escalations += 1;
                } else {
                    c.tool_calls += 1;
                    c.tool_errors += u64::from(p.error_msg.is_some());
                }
            }
            Step::Button(mut p, at) => {
                p.conversation = pk.map(PkRef::Pk);
                ingest::button(store, scope, &p, at).await.map_err(api)?;
                c.buttons += 1;
            }
            Step::Feedback(mut p, at, by_pk) => {
                if let (true, Some(pk)) = (by_pk, pk) {
                    p.conversation = Some(PkRef::Pk(pk));
                    p.conversation_id = None;
                }
                ingest::feedback(store, scope, &p, FeedbackSource::Customer, at).await.map_err(api)?;
                c.feedback += 1;
            }
        }
    }
    Ok(c)
}

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

type Rng64 = ChaCha8Rng;

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An independent stream for (seed, purpose, index).
fn stream(seed: u64, purpose: u64, index: u64) -> Rng64 {
    Rng64::seed_from_u64(splitmix64(splitmix64(seed ^ splitmix64(purpose)) ^ index))
}

fn pick<'a, T>(rng: &mut Rng64, xs: &'a [T]) -> &'a T {
    &xs[rng.random_range(0..xs.len())]
}

fn weighted<'a, T>(rng: &mut Rng64, xs: &'a [(T, u32)]) -> &'a T {
    let total: u32 = xs.iter().map(|(_, w)| w).sum();
    let mut r = rng.random_range(0..total.max(1));
    for (x, w) in xs {
        if r < *w {
            return x;
        }
        r -= w;
    }
    &xs[xs.len() - 1].0
}

fn chance(rng: &mut Rng64, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Roughly log-normal around `median` (spread 0 = exact).
fn lognormal(rng: &mut Rng64, median: f64, spread: f64) -> f64 {
    let z: f64 = (0..4).map(|_| rng.random::<f64>()).sum::<f64>() - 2.0; // ~N(0, 0.58)
    median * (z * spread * 1.7).exp()
}

/// Seconds, log-uniform in [lo, hi].
fn log_uniform(rng: &mut Rng64, lo: f64, hi: f64) -> f64 {
    lo * (hi / lo).powf(rng.random::<f64>())
}

fn secs(s: f64) -> Micros {
    (s * SEC as f64) as Micros
}

/// ISO 8601 with microseconds and `+00:00`, as Python's `datetime.now(timezone.utc).isoformat()`.
fn iso(us: Micros) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Micros, false))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The simulated world: customers and when they write
// ---------------------------------------------------------------------------------------------

const S_START: u64 = 1;
const S_CONTENT: u64 = 2;
const S_CUSTOMER: u64 = 3;
const S_PICK: u64 = 4;
const S_ANON: u64 = 5;

struct World {
    seed: u64,
    now: Micros,
    window_start: Micros,
    /// Repeat customers: conversations draw from a pool smaller than their number.
    pool: u64,
}

/// Relative activity by local hour (0–23).
const HOURLY: [f64; 24] = [
    0.15, 0.10, 0.07, 0.05, 0.05, 0.08, 0.20, 0.40, 0.65, 0.85, 0.95, 1.00, 0.95, 0.90, 0.95, 1.00, 0.95,
    0.85, 0.75, 0.70, 0.65, 0.55, 0.40, 0.25,
];
/// Relative activity by local weekday, Monday first.
const WEEKLY: [f64; 7] = [1.00, 1.00, 0.97, 0.95, 0.90, 0.55, 0.45];

struct Customer {
    id: Option<String>,
    country: &'static Country,
    offset_minutes: i64,
    language: Option<&'static str>,
    ip: Option<String>,
    device: Option<&'static str>,
    source: Option<&'static str>,
    display_name: String,
    plan: &'static str,
}

impl World {
    fn customer(&self, rng: &mut Rng64, id: Option<String>) -> Customer {
        let country = weighted(rng, COUNTRIES);
        let offset_minutes = i64::from(*pick(rng, country.offsets));
        let language = if chance(rng, 0.05) { None } else { Some(*weighted(rng, country.languages)) };
        let ip = customer_ip(rng, country);
        let mut sources: Vec<(Option<&'static str>, u32)> = SOURCES.to_vec();
        sources.push((Some(country.favorite_app), 20));
        let source = *weighted(rng, &sources);
        let device = *match source {
            None => weighted(rng, DEVICES_UNKNOWN),
            Some("web") => weighted(rng, DEVICES_WEB),
            Some(_) => weighted(rng, DEVICES_APP),
        };
        let display_name =
            format!("{} {}.", pick(rng, country.first_names), char::from(b'A' + rng.random_range(0..26u8)));
        let plan = *weighted(rng, &[("free", 55), ("pro", 35), ("enterprise", 10)]);
        Customer { id, country, offset_minutes, language, ip, device, source, display_name, plan }
    }

    /// The customer of conversation `index`: 12% anonymous, else one of the pool, skewed so
    /// that some customers come back often.
    fn customer_of(&self, index: u64) -> Customer {
        let mut r = stream(self.seed, S_PICK, index);
        if chance(&mut r, 0.12) {
            let mut rng = stream(self.seed, S_ANON, index);
            return self.customer(&mut rng, None);
        }
        let u: f64 = r.random();
        let c = ((u.powf(1.3) * self.pool as f64) as u64).min(self.pool - 1);
        let mut rng = stream(self.seed, S_CUSTOMER, c);
        let id = format!("cust_{:010x}", splitmix64(self.seed ^ splitmix64(c)) & 0xff_ffff_ffff);
        self.customer(&mut rng, Some(id))
    }

    /// A start time in the window, more likely at local daytime, on weekdays and recently.
    fn start_time(&self, rng: &mut Rng64, offset_minutes: i64) -> Micros {
        let span = (self.now - self.window_start).max(1);
        let mut t = self.window_start;
        for _ in 0..64 {
            t = self.window_start + rng.random_range(0..span);
            let local_secs = (t / SEC) + offset_minutes * 60;
            let hour = local_secs.div_euclid(3600).rem_euclid(24) as usize;
            // 1970-01-01 was a Thursday (index 3 with Monday = 0).
            let weekday = (local_secs.div_euclid(86_400) + 3).rem_euclid(7) as usize;
            let trend = 0.75 + 0.25 * (t - self.window_start) as f64 / span as f64;
            if rng.random::<f64>() < HOURLY[hour] * WEEKLY[weekday] * trend {
                break;
            }
        }
        t
    }

    /// When conversation `index` starts.
    fn start_of(&self, index: u64) -> Micros {
        let customer = self.customer_of(index);
        let mut rng = stream(self.seed, S_START, index);
        self.start_time(&mut rng, customer.offset_minutes)
    }

    /// Every conversation's start, oldest first: writing them in this order (as live traffic
    /// arrives) keeps the time-ordered indexes' inserts near their end instead of all over
    /// them, which matters once the database outgrows SQLite's page cache.
    fn schedule(&self, conversations: u64) -> Vec<(Micros, u64)> {
        let mut order: Vec<(Micros, u64)> = (0..conversations).map(|i| (self.start_of(i), i)).collect();
        order.sort_unstable();
        order
    }

    /// The payloads of conversation `index` starting at `start`, all ending before now.
    fn plan(&self, index: u64, start: Micros) -> Plan {
        let customer = self.customer_of(index);
        let plan = build(self, index, &customer, start);
        let last = plan.1;
        if last + SEC <= self.now {
            return plan.0;
        }
        // Started so recently that it would end in the future: move it back.
        build(self, index, &customer, start - (last + SEC - self.now)).0
    }
}

fn customer_ip(rng: &mut Rng64, country: &Country) -> Option<String> {
    let roll: f64 = rng.random();
    if roll < 0.06 {
        return None;
    }
    if roll < 0.09 {
        return Some(match rng.random_range(0..3) {
            0 => format!(
                "10.{}.{}.{}",
                rng.random_range(0..256),
                rng.random_range(0..256),
                rng.random_range(1..255)
            ),
            1 => format!("192.168.{}.{}", rng.random_range(0..3), rng.random_range(2..255)),
            _ => format!(
                "172.{}.{}.{}",
                rng.random_range(16..32),
                rng.random_range(0..256),
                rng.random_range(1..255)
            ),
        });
    }
    if !country.v6.is_empty() && chance(rng, 0.2) {
        let (head, lo, hi) = *pick(rng, country.v6);
        return Some(format!(
            "{head}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
            rng.random_range(lo..=hi),
            rng.random_range(0..0x1_0000u32),
            rng.random_range(0..0x1_0000u32),
            rng.random_range(0..0x1_0000u32),
            rng.random_range(0..0x1_0000u32),
            rng.random_range(0..0x1_0000u32),
            rng.random_range(1..0x1_0000u32),
        ));
    }
    let (a, lo, hi) = *pick(rng, country.v4);
    Some(format!(
        "{a}.{}.{}.{}",
        rng.random_range(lo..=hi),
        rng.random_range(0..256),
        rng.random_range(1..255)
    ))
}

// ---------------------------------------------------------------------------------------------
// Building a conversation
// ---------------------------------------------------------------------------------------------

/// Escalation actions (metrics.md's default list).
const ESCALATIONS: [&str; 4] = ["fallback_to_human", "open_ticket", "ticket", "contact_human"];

/// Turns of a used conversation: 1..=12, fewer more likely (about 4.8 on average).
const TURNS: [(u32, u32); 12] =
    [(1, 15), (2, 14), (3, 12), (4, 11), (5, 10), (6, 9), (7, 8), (8, 7), (9, 5), (10, 4), (11, 3), (12, 2)];

struct Ctx {
    order: String,
    city: &'static str,
    country: &'static str,
    temp: i32,
    amount: String,
    tracking: String,
}

impl Ctx {
    fn fill(&self, template: &str) -> String {
        if !template.contains('{') {
            return template.to_string();
        }
        template
            .replace("{order}", &self.order)
            .replace("{city}", self.city)
            .replace("{country}", self.country)
            .replace("{temp}", &self.temp.to_string())
            .replace("{amount}", &self.amount)
            .replace("{tracking}", &self.tracking)
    }
}

struct Builder<'a> {
    rng: Rng64,
    cid: String,
    steps: Vec<Step>,
    ctx: Ctx,
    customer: &'a Customer,
    prompt_tokens: u64,
    completion_tokens: u64,
    embedding_tokens: u64,
    last: Micros,
}

impl Builder<'_> {
    fn at(&mut self, t: Micros) -> Micros {
        self.last = self.last.max(t);
        t
    }

    fn upsert(&mut self, t: Micros, is_used: bool, name: Option<String>, metadata: Option<Value>) {
        let c = self.customer;
        let environment = if chance(&mut self.rng, 0.92) { "production" } else { "development" };
        let p = wire::ConversationPayload {
            timestamp: Some(iso(t)),
            conversation_id: self.cid.clone(),
            customer_id: c.id.clone(),
            customer_ip_address: c.ip.clone(),
            device: c.device.map(str::to_string),
            source: c.source.map(str::to_string),
            language: c.language.map(str::to_string),
            name,
            environment: Some(environment.to_string()),
            metadata,
            is_used: Some(is_used),
        };
        let t = self.at(t);
        self.steps.push(Step::Upsert(p, t));
    }

    fn message(&mut self, t: Micros, sender: &str, content: String, metadata: Value) {
        let p = wire::TrackPayload {
            timestamp: Some(iso(t)),
            content,
            sender: sender.to_string(),
            conversation_id: Some(self.cid.clone()),
            metadata: Some(metadata),
            conversation: None,
        };
        let t = self.at(t);
        self.steps.push(Step::Message(p, t));
    }

    fn user(&mut self, t: Micros, lines: &[&str]) {
        let line = self.ctx.fill(pick::<&str>(&mut self.rng, lines));
        self.message(t, "end_user", line, json!({}));
    }

    fn agent(&mut self, t: Micros, lines: &[&str], intent: &str) {
        let line = self.ctx.fill(pick::<&str>(&mut self.rng, lines));
        let metadata = if chance(&mut self.rng, 0.3) {
            json!({ "intent": intent, "model": pick(&mut self.rng, &["gpt-4o-mini", "gpt-4.1", "claude-sonnet-4"]) })
        } else {
            json!({})
        };
        self.message(t, "agent", line, metadata);
    }

    /// A tool call starting at `t`; returns its end.
    fn tool(&mut self, t: Micros, tool: &Tool) -> Micros {
        let failed = chance(&mut self.rng, tool.error_rate);
        let ms = if failed && chance(&mut self.rng, 0.5) {
            5000.0 + self.rng.random_range(0.0..50.0)
        } else {
            lognormal(&mut self.rng, tool.median_ms, 0.5).clamp(15.0, 12_000.0)
        };
        let end = t + secs(ms / 1000.0);
        let args = match tool.name {
            "get_weather" => json!({ "city": self.ctx.city, "units": "metric" }),
            "search_orders" | "get_order_status" | "track_shipment" | "create_refund" | "update_address" => {
                json!({ "order_id": self.ctx.order })
            }
            "search_knowledge_base" => json!({ "query": "plans pricing shipping", "top_k": 3 }),
            _ => json!({ "customer_id": self.customer.id }),
        };
        let response = (!failed).then(|| Value::String(self.ctx.fill(tool.response)));
        let p = wire::ActionPayload {
            timestamp: Some(iso(end)),
            action_name: tool.name.to_string(),
            conversation_id: Some(self.cid.clone()),
            conversation: None,
            metadata: Some(json!({})),
            started_at: Some(iso(t)),
            ended_at: Some(iso(end)),
            duration_ms: Some(serde_json::Number::from(ms.round() as u64)),
            tools_used: Some(json!({ "tool": tool.name, "provider": tool.provider, "args": args })),
            response,
            error_msg: failed.then(|| pick(&mut self.rng, tool.errors).to_string()),
        };
        self.at(end);
        self.steps.push(Step::Action(p, t));
        end
    }

    /// The 0.0.44 client's `token_usage` action: cumulative counts, no optional keys.
    fn token_usage(&mut self, t: Micros) {
        self.prompt_tokens += self.rng.random_range(250..1800);
        self.completion_tokens += self.rng.random_range(30..420);
        if chance(&mut self.rng, 0.3) {
            self.embedding_tokens += self.rng.random_range(8..64);
        }
        let p = wire::ActionPayload {
            timestamp: Some(iso(t)),
            action_name: "token_usage".to_string(),
            conversation_id: Some(self.cid.clone()),
            conversation: None,
            metadata: Some(json!({
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
                "embedding_tokens": self.embedding_tokens,
            })),
            started_at: None,
            ended_at: None,
            duration_ms: None,
            tools_used: None,
            response: None,
            error_msg: None,
        };
        let t = self.at(t);
        self.steps.push(Step::Action(p, t));
    }

    fn escalate(&mut self, t: Micros) -> Micros {
        let name = *pick(&mut self.rng, &ESCALATIONS);
        let ms = self.rng.random_range(120..700u64);
        let end = t + ms as Micros * 1000;
        let response = match name {
            "open_ticket" | "ticket" => {
                format!("ticket TCK-{} created", self.rng.random_range(10_000..99_999))
            }
            _ => "queued for a human agent".to_string(),
        };
        let p = wire::ActionPayload {
            timestamp: Some(iso(end)),
            action_name: name.to_string(),
            conversation_id: Some(self.cid.clone()),
            conversation: None,
            metadata: Some(
                json!({ "reason": pick(&mut self.rng, &["user_request", "low_confidence", "policy"]) }),
            ),
            started_at: Some(iso(t)),
            ended_at: Some(iso(end)),
            duration_ms: Some(serde_json::Number::from(ms)),
            tools_used: Some(
                json!({ "queue": pick(&mut self.rng, &["support-tier-1", "billing", "returns"]) }),
            ),
            response: Some(Value::String(response)),
            error_msg: None,
        };
        self.at(end);
        self.steps.push(Step::Action(p, t));
        end
    }

    fn button(&mut self, t: Micros, event: &str, label: &str, value: &str) {
        let p = wire::ButtonPayload {
            timestamp: Some(iso(t)),
            button_event: event.to_string(),
            label: label.to_string(),
            value: value.to_string(),
            conversation_id: Some(self.cid.clone()),
            conversation: None,
            metadata: Some(json!({})),
        };
        let t = self.at(t);
        self.steps.push(Step::Button(p, t));
    }

    fn feedback(&mut self, t: Micros, sentiment: &str) {
        let comment = chance(&mut self.rng, 0.55).then(|| {
            let lines = match sentiment {
                "positive" => COMMENTS_POSITIVE,
                "neutral" => COMMENTS_NEUTRAL,
                _ => COMMENTS_NEGATIVE,
            };
            pick(&mut self.rng, lines).to_string()
        });
        let by_pk = chance(&mut self.rng, 0.3);
        let p = wire::FeedbackPayload {
            sentiment: sentiment.to_string(),
            conversation_id: Some(self.cid.clone()),
            conversation: None,
            comment,
            metadata: Some(json!({ "widget": pick(&mut self.rng, &["thumbs", "stars", "survey"]) })),
        };
        let t = self.at(t);
        self.steps.push(Step::Feedback(p, t, by_pk));
    }
}

fn uuid_like(rng: &mut Rng64) -> String {
    let a: u64 = rng.random();
    let b: u64 = rng.random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// Builds conversation `index` starting at `start`; returns it and its last event time.
fn build(world: &World, index: u64, customer: &Customer, start: Micros) -> (Plan, Micros) {
    let mut rng = stream(world.seed, S_CONTENT, index);
    let cid = uuid_like(&mut rng);
    let ph = phrases(customer.language);
    let topic = weighted(&mut rng, TOPICS);
    let country = customer.country;
    let ctx = Ctx {
        order: rng.random_range(100_000..1_000_000u32).to_string(),
        city: pick::<&str>(&mut rng, country.cities),
        country: country.name,
        temp: rng.random_range(-4..34),
        amount: format!("{}.{:02}", rng.random_range(9..240), rng.random_range(0..100)),
        tracking: format!(
            "1Z{:06X}{:010}",
            rng.random_range(0..0xff_ffffu32),
            rng.random_range(0..10_000_000_000u64)
        ),
    };
    let mut b = Builder {
        rng,
        cid,
        steps: Vec::with_capacity(32),
        ctx,
        customer,
        prompt_tokens: 0,
        completion_tokens: 0,
        embedding_tokens: 0,
        last: start,
    };
    let rng = &mut b.rng;
    let visit = chance(rng, 0.20);
    let named = rng.random::<f64>();
    let name = if named < 0.18 {
        Some(customer.display_name.clone())
    } else if named < 0.30 {
        Some(b.ctx.fill(topic.title))
    } else {
        None
    };
    let mut metadata = chance(rng, 0.75).then(|| {
        json!({
            "plan": customer.plan,
            "app_version": format!("3.{}.{}", rng.random_range(0..8), rng.random_range(0..12)),
            "ab_group": pick(rng, &["A", "B"]),
        })
    });
    if visit {
        // The widget opened and nobody typed: initialize_conversation only.
        b.upsert(start, false, name, metadata);
        return (Plan { steps: b.steps, used: false, meta_feedback: false }, b.last);
    }

    let mut t = start;
    let mode = b.rng.random::<f64>();
    if mode < 0.03 {
        // The id came from AGENTSIGHT_CONVERSATION_ID: no upsert, items carry `conversation: null`
        // and the first one creates the conversation (without dimensions).
    } else {
        if mode < 0.40 {
            // initialize_conversation when the widget opened, get_or_create when they typed.
            b.upsert(t, false, name.clone(), metadata.clone());
            t += secs(log_uniform(&mut b.rng, 2.0, 60.0));
        }
        b.upsert(t, true, name.clone(), metadata.clone());
    }
    if chance(&mut b.rng, 0.4) {
        t += secs(b.rng.random_range(0.05..0.4));
        b.agent(t, ph.greeting, "greeting");
        t += secs(log_uniform(&mut b.rng, 3.0, 40.0));
    }

    let turns = *weighted(&mut b.rng, &TURNS);
    let first_follow_up = b.rng.random_range(0..ph.follow_ups.len());
    let escalated = chance(&mut b.rng, 0.08);
    for turn in 0..turns {
        // The customer writes (sometimes twice in a row).
        // Later turns walk the follow-up questions (each with its answer) without repeating.
        let follow_up = (first_follow_up + turn as usize) % ph.follow_ups.len();
        let user_lines =
            if turn == 0 { ph.openers[topic.index] } else { &ph.follow_ups[follow_up..=follow_up] };
        t += secs(b.rng.random_range(0.01..0.2));
        b.user(t, user_lines);
        let mut asked = t;
        if chance(&mut b.rng, 0.10) {
            t += secs(log_uniform(&mut b.rng, 2.0, 25.0));
            b.user(t, ph.nudges);
            asked = t;
        }
        // Tools: the topic's on the first turn, sometimes one later.
        let mut tools_end = t;
        let tools: Vec<&Tool> = if turn == 0 {
            let n = b.rng.random_range(1..=topic.tools.len());
            topic.tools[..n].iter().map(|name| tool(name)).collect()
        } else if chance(&mut b.rng, 0.3) {
            vec![tool(pick::<&str>(&mut b.rng, topic.tools))]
        } else {
            Vec::new()
        };
        for tl in tools {
            let s = tools_end + secs(b.rng.random_range(0.15..0.9));
            tools_end = b.tool(s, tl);
        }
        if escalated && turn + 1 == turns {
            let s = tools_end + secs(b.rng.random_range(0.2..1.0));
            let end = b.escalate(s);
            t = (asked + secs(log_uniform(&mut b.rng, 0.5, 8.0))).max(end + secs(0.3));
            b.agent(t, ph.handoff, "handoff");
            if chance(&mut b.rng, 0.5) {
                t += secs(b.rng.random_range(0.1..1.0));
                let line = pick(&mut b.rng, SYSTEM_HANDOFF).to_string();
                b.message(t, "system", line, json!({ "event": "handoff" }));
            }
            break;
        }
        // The agent answers 0.5–8 s after the question (after its tools).
        let delay = secs(log_uniform(&mut b.rng, 0.5, 8.0));
        t = (asked + delay).max(tools_end + secs(b.rng.random_range(0.2..1.2)));
        let answer = follow_up.min(ph.answers.len() - 1);
        let lines = if turn == 0 { ph.replies[topic.index] } else { &ph.answers[answer..=answer] };
        b.agent(t, lines, topic.key);
        if chance(&mut b.rng, 0.85) {
            let at = t + secs(b.rng.random_range(0.01..0.1));
            b.token_usage(at);
        }
        if chance(&mut b.rng, 0.12) {
            // A reply in two messages.
            t += secs(b.rng.random_range(0.8..4.0));
            b.agent(t, ph.extras, topic.key);
        }
        if chance(&mut b.rng, 0.10) {
            t += secs(log_uniform(&mut b.rng, 1.5, 12.0));
            let (label, value) = *pick(&mut b.rng, QUICK_REPLIES);
            b.button(t, "quick_reply", label, value);
        }
        // The customer reads and types.
        t += secs(log_uniform(&mut b.rng, 6.0, 120.0));
    }
    if !escalated && chance(&mut b.rng, 0.55) {
        b.user(t, ph.thanks);
        t += secs(log_uniform(&mut b.rng, 0.5, 4.0));
        b.agent(t, ph.closings, "closing");
    }

    // Feedback: a thumbs button, an explicit record, metadata.feedback, sometimes both.
    let mood = if escalated { [30, 20, 50] } else { [62, 16, 22] };
    let sentiment =
        *weighted(&mut b.rng, &[("positive", mood[0]), ("neutral", mood[1]), ("negative", mood[2])]);
    if chance(&mut b.rng, 0.08) {
        t += secs(log_uniform(&mut b.rng, 2.0, 20.0));
        let (label, value) = if sentiment == "negative" { ("👎", "down") } else { ("👍", "up") };
        b.button(t, "feedback", label, value);
    }
    let mut meta_feedback = false;
    if chance(&mut b.rng, 0.18) {
        // The bot calls get_or_create_conversation again with metadata.feedback, in one of the
        // shapes metrics.md accepts.
        t += secs(log_uniform(&mut b.rng, 1.0, 30.0));
        let value = metadata_feedback(&mut b.rng, sentiment);
        let mut m = match metadata.take() {
            Some(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        m.insert("feedback".to_string(), value);
        b.upsert(t, true, None, Some(Value::Object(m)));
        meta_feedback = true;
    }
    if chance(&mut b.rng, 0.15) {
        // An explicit record (it wins over metadata.feedback); sometimes disagreeing with it.
        t += secs(log_uniform(&mut b.rng, 2.0, 90.0));
        let s = if chance(&mut b.rng, 0.8) {
            sentiment
        } else {
            *pick(&mut b.rng, &["positive", "neutral", "negative"])
        };
        b.feedback(t, s);
    }
    let last = b.last;
    (Plan { steps: b.steps, used: true, meta_feedback }, last)
}

/// `metadata.feedback` in every accepted form: a string in any case, a bool, a 1–5 rating, an
/// object with `sentiment` or `rating`.
fn metadata_feedback(rng: &mut Rng64, sentiment: &str) -> Value {
    let rating = match sentiment {
        "positive" => rng.random_range(4..=5),
        "neutral" => 3,
        _ => rng.random_range(1..=2),
    };
    match rng.random_range(0..6) {
        0 => Value::String(sentiment.to_string()),
        1 => {
            let mut s = sentiment.to_string();
            if chance(rng, 0.5) {
                s = s.to_uppercase();
            } else {
                s[..1].make_ascii_uppercase();
            }
            Value::String(s)
        }
        2 if sentiment != "neutral" => Value::Bool(sentiment == "positive"),
        3 => json!(rating),
        4 => json!({ "sentiment": sentiment, "source": "csat_widget" }),
        _ => json!({ "rating": rating, "scale": 5 }),
    }
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

/// A country customers write from (weighted in [`COUNTRIES`]): UTC offsets (minutes), languages, address ranges
/// of its big ISPs, cities, the messaging app people there favour, first names.
struct Country {
    name: &'static str,
    offsets: &'static [i32],
    languages: &'static [(&'static str, u32)],
    /// `a.b.x.y` with `b` in the range: (a, b_lo, b_hi) inside an ISP's allocation.
    v4: &'static [(u8, u8, u8)],
    /// An IPv6 prefix: first group and a range for the second.
    v6: &'static [(&'static str, u32, u32)],
    cities: &'static [&'static str],
    favorite_app: &'static str,
    first_names: &'static [&'static str],
}

/// Addresses are drawn inside well-known allocations of each country's big providers
/// (geolocation turns them into the world map).
static COUNTRIES: &[(Country, u32)] = &[
    (
        Country {
            name: "the United States",
            offsets: &[-300, -360, -480],
            languages: &[("en-US", 70), ("en", 25), ("es", 5)],
            // Comcast 73.0.0.0/8, Verizon 71.160.0.0/11
            v4: &[(73, 0, 255), (71, 160, 191)],
            // Comcast 2601::/20
            v6: &[("2601", 0x0000, 0x0fff)],
            cities: &["New York", "Chicago", "San Francisco", "Austin"],
            favorite_app: "messenger",
            first_names: &["James", "Emily", "Michael", "Sarah", "Jessica", "David"],
        },
        22,
    ),
    (
        Country {
            name: "Germany",
            offsets: &[60],
            languages: &[("de", 85), ("en", 15)],
            // Deutsche Telekom 79.192.0.0/10, 87.128.0.0/10
            v4: &[(79, 192, 255), (87, 128, 191)],
            // Deutsche Telekom 2003::/19
            v6: &[("2003", 0x00c0, 0x1fff)],
            cities: &["Berlin", "München", "Hamburg", "Köln"],
            favorite_app: "whatsapp",
            first_names: &["Lukas", "Anna", "Felix", "Lena", "Jonas", "Marie"],
        },
        10,
    ),
    (
        Country {
            name: "the United Kingdom",
            offsets: &[0],
            languages: &[("en", 95), ("fr", 5)],
            // BT 86.128.0.0/10, 81.128.0.0/11
            v4: &[(86, 128, 191), (81, 128, 159)],
            v6: &[],
            cities: &["London", "Manchester", "Leeds", "Bristol"],
            favorite_app: "whatsapp",
            first_names: &["Oliver", "Amelia", "Harry", "Isla", "George", "Sophie"],
        },
        9,
    ),
    (
        Country {
            name: "Croatia",
            offsets: &[60],
            languages: &[("hr", 80), ("en", 20)],
            // Hrvatski Telekom 93.136.0.0/13, CARNet 161.53.0.0/16
            v4: &[(93, 136, 143), (161, 53, 53)],
            v6: &[],
            cities: &["Zagreb", "Split", "Rijeka", "Osijek"],
            favorite_app: "viber",
            first_names: &["Luka", "Ana", "Ivan", "Petra", "Marko", "Ivana"],
        },
        6,
    ),
    (
        Country {
            name: "France",
            offsets: &[60],
            languages: &[("fr", 90), ("en", 10)],
            // Orange 90.0.0.0/9, Free 82.64.0.0/14
            v4: &[(90, 0, 127), (82, 64, 67)],
            // Free 2a01:e00::/26, Orange 2a01:cb00::/24
            v6: &[("2a01", 0x0e00, 0x0e3f), ("2a01", 0xcb00, 0xcbff)],
            cities: &["Paris", "Lyon", "Marseille", "Toulouse"],
            favorite_app: "whatsapp",
            first_names: &["Louis", "Camille", "Hugo", "Chloé", "Jules", "Léa"],
        },
        6,
    ),
    (
        Country {
            name: "Spain",
            offsets: &[60],
            languages: &[("es", 90), ("en", 10)],
            // Telefónica 83.32.0.0/11, 88.0.0.0/11
            v4: &[(83, 32, 63), (88, 0, 31)],
            v6: &[],
            cities: &["Madrid", "Barcelona", "Valencia", "Sevilla"],
            favorite_app: "whatsapp",
            first_names: &["Hugo", "Lucía", "Martín", "Sofía", "Pablo", "Carmen"],
        },
        5,
    ),
    (
        Country {
            name: "Brazil",
            offsets: &[-180],
            languages: &[("pt-BR", 90), ("es", 5), ("en", 5)],
            // 177.0.0.0/8 (NIC.br allocations), NIC.br 200.160.0.0/20
            v4: &[(177, 0, 255), (200, 160, 160)],
            v6: &[],
            cities: &["São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba"],
            favorite_app: "whatsapp",
            first_names: &["Gabriel", "Maria", "Lucas", "Júlia", "Pedro", "Beatriz"],
        },
        7,
    ),
    (
        Country {
            name: "Japan",
            offsets: &[540],
            languages: &[("ja", 90), ("en", 10)],
            // SoftBank 126.0.0.0/8, University of Tokyo 133.11.0.0/16
            v4: &[(126, 0, 255), (133, 11, 11)],
            // KDDI 2001:268::/32
            v6: &[("2001", 0x0268, 0x0268)],
            cities: &["Tokyo", "Osaka", "Yokohama", "Sapporo"],
            favorite_app: "telegram",
            first_names: &["Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi"],
        },
        5,
    ),
    (
        Country {
            name: "India",
            offsets: &[330],
            languages: &[("en", 90), ("en-US", 10)],
            // BSNL 117.192.0.0/10, Reliance Jio 49.32.0.0/12
            v4: &[(117, 192, 255), (49, 32, 47)],
            // Reliance Jio 2405:200::/29
            v6: &[("2405", 0x0200, 0x0207)],
            cities: &["Mumbai", "Bengaluru", "Delhi", "Chennai"],
            favorite_app: "whatsapp",
            first_names: &["Aarav", "Priya", "Arjun", "Ananya", "Rohan", "Diya"],
        },
        8,
    ),
    (
        Country {
            name: "Australia",
            offsets: &[600, 480],
            languages: &[("en", 100)],
            // Telstra 1.128.0.0/11, 101.160.0.0/11
            v4: &[(1, 128, 159), (101, 160, 191)],
            // Telstra 2001:8000::/20
            v6: &[("2001", 0x8000, 0x8fff)],
            cities: &["Sydney", "Melbourne", "Brisbane", "Perth"],
            favorite_app: "messenger",
            first_names: &["Jack", "Charlotte", "William", "Mia", "Noah", "Olivia"],
        },
        4,
    ),
    (
        Country {
            name: "Canada",
            offsets: &[-300, -480],
            languages: &[("en", 70), ("fr", 30)],
            // Rogers 174.112.0.0/12, Bell Canada 70.48.0.0/13
            v4: &[(174, 112, 127), (70, 48, 55)],
            // Rogers 2607:fea8::/32
            v6: &[("2607", 0xfea8, 0xfea8)],
            cities: &["Toronto", "Montréal", "Vancouver", "Calgary"],
            favorite_app: "messenger",
            first_names: &["Liam", "Emma", "Noah", "Chloé", "Ethan", "Ava"],
        },
        4,
    ),
    (
        Country {
            name: "the Netherlands",
            offsets: &[60],
            languages: &[("en", 75), ("de", 25)],
            // KPN 77.160.0.0/12, Ziggo 84.24.0.0/13
            v4: &[(77, 160, 175), (84, 24, 31)],
            v6: &[],
            cities: &["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven"],
            favorite_app: "whatsapp",
            first_names: &["Daan", "Emma", "Sem", "Julia", "Lucas", "Tess"],
        },
        4,
    ),
    (
        Country {
            name: "Italy",
            offsets: &[60],
            languages: &[("en", 60), ("fr", 20), ("de", 20)],
            // Wind Tre 151.0.0.0/10, Fastweb 93.32.0.0/11
            v4: &[(151, 0, 63), (93, 32, 63)],
            v6: &[],
            cities: &["Roma", "Milano", "Napoli", "Torino"],
            favorite_app: "whatsapp",
            first_names: &["Leonardo", "Sofia", "Francesco", "Giulia", "Alessandro", "Aurora"],
        },
        4,
    ),
    (
        Country {
            name: "Poland",
            offsets: &[60],
            languages: &[("en", 80), ("de", 20)],
            // Orange Polska 83.0.0.0/11, 79.184.0.0/13
            v4: &[(83, 0, 31), (79, 184, 191)],
            v6: &[],
            cities: &["Warszawa", "Kraków", "Wrocław", "Gdańsk"],
            favorite_app: "messenger",
            first_names: &["Jakub", "Zuzanna", "Antoni", "Julia", "Jan", "Maja"],
        },
        3,
    ),
    (
        Country {
            name: "Sweden",
            offsets: &[60],
            languages: &[("en", 90), ("de", 10)],
            // Telia 81.224.0.0/12, 78.64.0.0/12
            v4: &[(81, 224, 239), (78, 64, 79)],
            v6: &[],
            cities: &["Stockholm", "Göteborg", "Malmö", "Uppsala"],
            favorite_app: "messenger",
            first_names: &["William", "Alice", "Lucas", "Maja", "Elias", "Ebba"],
        },
        3,
    ),
];

const SOURCES: &[(Option<&str>, u32)] = &[
    (Some("web"), 54),
    (Some("whatsapp"), 14),
    (Some("messenger"), 9),
    (Some("telegram"), 6),
    (Some("viber"), 5),
    (None, 6),
];
const DEVICES_WEB: &[(Option<&str>, u32)] =
    &[(Some("desktop"), 50), (Some("mobile"), 40), (Some("tablet"), 7), (None, 3)];
const DEVICES_APP: &[(Option<&str>, u32)] =
    &[(Some("mobile"), 85), (Some("desktop"), 10), (Some("tablet"), 3), (None, 2)];
const DEVICES_UNKNOWN: &[(Option<&str>, u32)] =
    &[(Some("mobile"), 30), (Some("desktop"), 25), (Some("tablet"), 5), (None, 40)];

struct Tool {
    name: &'static str,
    provider: &'static str,
    median_ms: f64,
    error_rate: f64,
    response: &'static str,
    errors: &'static [&'static str],
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "search_orders",
        provider: "orders-api",
        median_ms: 450.0,
        error_rate: 0.04,
        response: r#"{"orders": [{"id": "{order}", "status": "shipped", "total": {amount}}]}"#,
        errors: &["orders-api timeout after 5000 ms", "HTTP 502 from orders-api"],
    },
    Tool {
        name: "get_order_status",
        provider: "orders-api",
        median_ms: 300.0,
        error_rate: 0.03,
        response: r#"{"id": "{order}", "status": "in_transit", "eta_days": 2}"#,
        errors: &["order not found", "orders-api timeout after 5000 ms"],
    },
    Tool {
        name: "track_shipment",
        provider: "carrier",
        median_ms: 900.0,
        error_rate: 0.06,
        response: r#"{"tracking": "{tracking}", "carrier": "UPS", "status": "in_transit"}"#,
        errors: &["carrier API returned 502", "tracking number not recognised"],
    },
    Tool {
        name: "lookup_account",
        provider: "crm",
        median_ms: 120.0,
        error_rate: 0.02,
        response: r#"{"verified": true, "orders_last_90d": 3}"#,
        errors: &["account not found", "crm: connection reset"],
    },
    Tool {
        name: "create_refund",
        provider: "payments",
        median_ms: 1400.0,
        error_rate: 0.05,
        response: r#"{"refund_id": "rf_{order}", "amount": {amount}, "status": "pending"}"#,
        errors: &["refund exceeds the order total", "payments: card issuer declined the refund"],
    },
    Tool {
        name: "reset_password",
        provider: "auth",
        median_ms: 250.0,
        error_rate: 0.03,
        response: r#"{"sent": true, "expires_in_min": 30}"#,
        errors: &["too many reset attempts, try again in 15 minutes"],
    },
    Tool {
        name: "get_weather",
        provider: "openweathermap",
        median_ms: 350.0,
        error_rate: 0.06,
        response: r#"{"city": "{city}", "temp_c": {temp}, "conditions": "partly cloudy"}"#,
        errors: &["rate limit exceeded (429)", "weather service timeout after 5000 ms"],
    },
    Tool {
        name: "search_knowledge_base",
        provider: "vector-store",
        median_ms: 600.0,
        error_rate: 0.02,
        response: r#"{"hits": 3, "top": ["kb-1042", "kb-0177", "kb-0311"]}"#,
        errors: &["index unavailable"],
    },
    Tool {
        name: "update_address",
        provider: "orders-api",
        median_ms: 300.0,
        error_rate: 0.04,
        response: r#"{"id": "{order}", "updated": true}"#,
        errors: &["address validation failed: unknown postcode", "order already shipped"],
    },
];

fn tool(name: &str) -> &'static Tool {
    TOOLS.iter().find(|t| t.name == name).unwrap_or(&TOOLS[0])
}

struct Topic {
    index: usize,
    key: &'static str,
    title: &'static str,
    tools: &'static [&'static str],
}

const TOPICS: &[(Topic, u32)] = &[
    (
        Topic {
            index: 0,
            key: "order_status",
            title: "Where is order #{order}?",
            tools: &["search_orders", "get_order_status", "track_shipment"],
        },
        30,
    ),
    (
        Topic {
            index: 1,
            key: "refund",
            title: "Refund for order #{order}",
            tools: &["lookup_account", "search_orders", "create_refund"],
        },
        15,
    ),
    (
        Topic {
            index: 2,
            key: "login",
            title: "Login problem",
            tools: &["lookup_account", "reset_password"],
        },
        15,
    ),
    (Topic { index: 3, key: "weather", title: "Weather in {city}", tools: &["get_weather"] }, 10),
    (Topic { index: 4, key: "product", title: "Plans and shipping", tools: &["search_knowledge_base"] }, 20),
    (
        Topic {
            index: 5,
            key: "address_change",
            title: "New delivery address",
            tools: &["lookup_account", "update_address"],
        },
        10,
    ),
];

const QUICK_REPLIES: &[(&str, &str)] = &[
    ("Track my order", "track_order"),
    ("Talk to a human", "human"),
    ("Return an item", "return"),
    ("Yes", "yes"),
    ("No", "no"),
    ("Show plans", "plans"),
];

const SYSTEM_HANDOFF: &[&str] =
    &["Conversation transferred to a human agent.", "Ticket created; the customer was notified."];

const COMMENTS_POSITIVE: &[&str] =
    &["Quick and helpful, thanks!", "Solved my problem in two minutes.", "Great bot 👍", "Very friendly."];
const COMMENTS_NEUTRAL: &[&str] =
    &["It was okay, but I had to repeat myself.", "Fine, a bit slow.", "Got there in the end."];
const COMMENTS_NEGATIVE: &[&str] = &[
    "The bot didn't understand my question.",
    "Took too long, I just wanted a human.",
    "Still no refund.",
    "Useless answers.",
];

/// Support-chat lines of one language; `{order}`, `{city}`, `{country}`, `{temp}`, `{amount}`
/// and `{tracking}` are filled per conversation. Topic lists follow [`TOPICS`]' indexes.
struct Phrases {
    greeting: &'static [&'static str],
    openers: [&'static [&'static str]; 6],
    replies: [&'static [&'static str]; 6],
    follow_ups: &'static [&'static str],
    answers: &'static [&'static str],
    nudges: &'static [&'static str],
    extras: &'static [&'static str],
    thanks: &'static [&'static str],
    closings: &'static [&'static str],
    handoff: &'static [&'static str],
}

fn phrases(language: Option<&str>) -> &'static Phrases {
    match language.and_then(|l| l.split('-').next()) {
        Some("de") => &DE,
        Some("hr") => &HR,
        Some("es") => &ES,
        Some("fr") => &FR,
        Some("pt") => &PT,
        Some("ja") => &JA,
        _ => &EN,
    }
}

static EN: Phrases = Phrases {
    greeting: &[
        "Hi! I'm the virtual assistant. How can I help you today?",
        "Hello 👋 What can I do for you?",
        "Hi there! Ask me anything about your orders, account or our products.",
    ],
    openers: [
        &[
            "Where is my order #{order}?",
            "hi, my package still hasn't arrived",
            "Can you check the status of order {order}?",
            "I ordered something last week and it still says processing, what's going on",
        ],
        &[
            "I want a refund for order {order}",
            "The item arrived damaged, can I get my money back?",
            "how do I return something and get refunded",
        ],
        &["I can't log in to my account", "I forgot my password", "My account says it's locked, help"],
        &[
            "What's the weather like in {city} tomorrow?",
            "Will it rain in {city} this weekend?",
            "is it going to be cold in {city} today",
        ],
        &[
            "Does the Pro plan include API access?",
            "What's the difference between the Basic and Pro plans?",
            "Do you ship to {country}?",
            "Is the blue version back in stock?",
        ],
        &[
            "I need to change the delivery address on my order",
            "Can I update my shipping address? I moved last week",
            "wrong address on order {order}, can you fix it?",
        ],
    ],
    replies: [
        &[
            "Your order #{order} has shipped and should arrive within 2 business days.",
            "I found order {order}: it's with the carrier now, expected delivery is Thursday.",
            "Order {order} is still being packed; it will ship tomorrow morning.",
        ],
        &[
            "I've started a refund of €{amount} for order {order}. You'll see it on your card in 3–5 business days.",
            "Sorry about that! I've created a return label and a refund for order {order}.",
        ],
        &[
            "I've sent a password reset link to the email on your account. It's valid for 30 minutes.",
            "Your account was locked after too many attempts. I've unlocked it, please try again now.",
        ],
        &[
            "Tomorrow in {city}: {temp}°C and partly cloudy, with a light breeze.",
            "There's a 60% chance of rain in {city} on Saturday, so bring an umbrella.",
            "It'll be around {temp}°C in {city} today, mostly sunny.",
        ],
        &[
            "Yes, the Pro plan includes full API access and priority support.",
            "Basic covers up to 3 users; Pro adds unlimited users, API access and SSO.",
            "We ship to most countries in Europe, the Americas and Asia; delivery takes 3–7 days.",
        ],
        &[
            "Done! The delivery address for order {order} has been updated.",
            "I've updated your shipping address. Future orders will go to the new one too.",
        ],
    ],
    follow_ups: &[
        "ok and how long will that take?",
        "Can you send me a confirmation by email?",
        "What if it doesn't work?",
        "Is there anything I need to do on my side?",
        "Great. One more thing, do you have a phone number?",
        "hmm that's not what I asked",
        "Can I pay with PayPal?",
        "and the tracking number?",
    ],
    answers: &[
        "It usually takes 2–3 business days.",
        "Sure, I've sent a confirmation to the email on your account.",
        "If it doesn't, just reply here and I'll look into it again.",
        "No, nothing else is needed from you.",
        "You can reach us at +1 800 555 0199, Monday to Friday 9–17.",
        "Sorry about that! Could you rephrase your question?",
        "Yes, we accept PayPal, cards and Apple Pay.",
        "Your tracking number is {tracking}.",
    ],
    nudges: &["hello?", "are you there?", "also", "sorry, typo: {order}", "?"],
    extras: &[
        "Is there anything else I can help you with?",
        "You'll also get an email with these details.",
        "Let me know if you have more questions!",
    ],
    thanks: &["thanks!", "Thank you, that helps a lot.", "perfect, thanks", "ok thx"],
    closings: &["You're welcome! Have a great day.", "Happy to help. Bye! 👋", "Glad I could help!"],
    handoff: &[
        "I'm handing this over to a colleague from our support team. They'll get back to you shortly.",
        "Let me connect you with a human agent, please hold on for a moment.",
        "I've opened a ticket for you; our team will reply by email within 24 hours.",
    ],
};

static DE: Phrases = Phrases {
    greeting: &[
        "Hallo! Ich bin der virtuelle Assistent. Wie kann ich helfen?",
        "Guten Tag! Was kann ich für Sie tun?",
    ],
    openers: [
        &[
            "Wo ist meine Bestellung {order}?",
            "Mein Paket ist immer noch nicht angekommen",
            "Können Sie den Status von Bestellung {order} prüfen?",
        ],
        &[
            "Ich möchte eine Rückerstattung für Bestellung {order}",
            "Der Artikel kam beschädigt an. Bekomme ich mein Geld zurück?",
        ],
        &["Ich kann mich nicht einloggen", "Ich habe mein Passwort vergessen"],
        &["Wie wird das Wetter morgen in {city}?", "Regnet es am Wochenende in {city}?"],
        &["Ist beim Pro-Tarif API-Zugang dabei?", "Liefern Sie auch ins Ausland?"],
        &[
            "Ich muss die Lieferadresse meiner Bestellung ändern",
            "Falsche Adresse bei Bestellung {order}, können Sie das korrigieren?",
        ],
    ],
    replies: [
        &[
            "Ihre Bestellung {order} wurde versandt und kommt in 2 Werktagen an.",
            "Bestellung {order} ist beim Paketdienst, Zustellung voraussichtlich am Donnerstag.",
        ],
        &[
            "Ich habe eine Rückerstattung von {amount} € für Bestellung {order} veranlasst. Das Geld ist in 3–5 Werktagen da.",
        ],
        &["Ich habe Ihnen einen Link zum Zurücksetzen des Passworts geschickt. Er ist 30 Minuten gültig."],
        &[
            "Morgen in {city}: {temp} °C, teils bewölkt.",
            "Am Samstag regnet es in {city} wahrscheinlich, nehmen Sie einen Schirm mit.",
        ],
        &[
            "Ja, der Pro-Tarif enthält vollen API-Zugang und Priority-Support.",
            "Wir liefern in die meisten Länder Europas; die Lieferung dauert 3–7 Tage.",
        ],
        &["Erledigt! Die Lieferadresse für Bestellung {order} wurde geändert."],
    ],
    follow_ups: &[
        "Okay, und wie lange dauert das?",
        "Können Sie mir eine Bestätigung per E-Mail schicken?",
        "Und was, wenn es nicht klappt?",
        "Muss ich sonst noch etwas tun?",
        "Und die Sendungsnummer?",
    ],
    answers: &[
        "Das dauert normalerweise 2–3 Werktage.",
        "Klar, die Bestätigung ist unterwegs an Ihre E-Mail-Adresse.",
        "Dann melden Sie sich einfach hier wieder.",
        "Nein, sonst ist nichts nötig.",
        "Ihre Sendungsnummer ist {tracking}.",
    ],
    nudges: &["hallo?", "sind Sie noch da?", "?"],
    extras: &["Kann ich sonst noch helfen?", "Sie erhalten die Details auch per E-Mail."],
    thanks: &["Danke!", "Vielen Dank, das hilft mir sehr.", "super, danke"],
    closings: &["Gern geschehen! Einen schönen Tag noch.", "Gern geholfen. Tschüss! 👋"],
    handoff: &[
        "Ich leite Sie an eine Kollegin aus dem Support weiter. Sie meldet sich gleich.",
        "Ich habe ein Ticket eröffnet; unser Team antwortet innerhalb von 24 Stunden per E-Mail.",
    ],
};

static HR: Phrases = Phrases {
    greeting: &[
        "Bok! Ja sam virtualni asistent. Kako vam mogu pomoći?",
        "Dobar dan! Što mogu učiniti za vas?",
    ],
    openers: [
        &[
            "Gdje je moja narudžba {order}?",
            "Paket mi još nije stigao",
            "Možete li provjeriti status narudžbe {order}?",
        ],
        &[
            "Želim povrat novca za narudžbu {order}",
            "Proizvod je stigao oštećen, mogu li dobiti novac natrag?",
        ],
        &["Ne mogu se prijaviti u svoj račun", "Zaboravio sam lozinku"],
        &["Kakvo će vrijeme biti sutra?", "Hoće li za vikend padati kiša?"],
        &["Uključuje li Pro paket pristup API-ju?", "Dostavljate li u inozemstvo?"],
        &[
            "Trebam promijeniti adresu dostave za narudžbu",
            "Kriva adresa na narudžbi {order}, možete li to ispraviti?",
        ],
    ],
    replies: [
        &[
            "Vaša narudžba {order} je poslana i stiže za 2 radna dana.",
            "Narudžba {order} je kod dostavne službe, očekivana dostava je u četvrtak.",
        ],
        &["Pokrenuo sam povrat od {amount} € za narudžbu {order}. Novac ćete vidjeti za 3–5 radnih dana."],
        &["Poslao sam vam poveznicu za promjenu lozinke na e-mail. Vrijedi 30 minuta."],
        &["Sutra: {temp} °C, djelomično oblačno.", "Za vikend je vjerojatna kiša, ponesite kišobran."],
        &[
            "Da, Pro paket uključuje puni pristup API-ju i prioritetnu podršku.",
            "Dostavljamo u većinu europskih zemalja, dostava traje 3–7 dana.",
        ],
        &["Gotovo! Adresa dostave za narudžbu {order} je promijenjena."],
    ],
    follow_ups: &[
        "Ok, a koliko će to trajati?",
        "Možete li mi poslati potvrdu e-mailom?",
        "A ako ne uspije?",
        "Trebam li još nešto napraviti?",
        "A broj za praćenje pošiljke?",
    ],
    answers: &[
        "Obično traje 2–3 radna dana.",
        "Naravno, potvrda je poslana na vaš e-mail.",
        "Onda mi se samo javite ovdje.",
        "Ne, ništa više nije potrebno.",
        "Broj za praćenje je {tracking}.",
    ],
    nudges: &["halo?", "jeste li tu?", "?"],
    extras: &["Mogu li vam još nekako pomoći?", "Detalje ćete dobiti i e-mailom."],
    thanks: &["Hvala!", "Hvala puno, to mi pomaže.", "super, hvala"],
    closings: &["Nema na čemu! Ugodan dan.", "Drago mi je da sam pomogao. Bok! 👋"],
    handoff: &[
        "Prebacujem vas na kolegicu iz podrške, javit će vam se uskoro.",
        "Otvorio sam zahtjev; naš tim odgovorit će e-mailom unutar 24 sata.",
    ],
};

static ES: Phrases = Phrases {
    greeting: &[
        "¡Hola! Soy el asistente virtual. ¿En qué puedo ayudarte?",
        "¡Buenas! ¿Qué puedo hacer por ti?",
    ],
    openers: [
        &[
            "¿Dónde está mi pedido {order}?",
            "mi paquete todavía no ha llegado",
            "¿Puedes revisar el estado del pedido {order}?",
        ],
        &[
            "Quiero un reembolso del pedido {order}",
            "El artículo llegó dañado, ¿me podéis devolver el dinero?",
        ],
        &["No puedo iniciar sesión en mi cuenta", "Olvidé mi contraseña"],
        &["¿Qué tiempo hará mañana en {city}?", "¿Va a llover este fin de semana en {city}?"],
        &["¿El plan Pro incluye acceso a la API?", "¿Hacéis envíos internacionales?"],
        &[
            "Necesito cambiar la dirección de entrega de mi pedido",
            "La dirección del pedido {order} está mal, ¿la podéis corregir?",
        ],
    ],
    replies: [
        &[
            "Tu pedido {order} ya se ha enviado y llegará en 2 días laborables.",
            "El pedido {order} está con el transportista; entrega prevista el jueves.",
        ],
        &[
            "He iniciado un reembolso de {amount} € del pedido {order}. Lo verás en tu tarjeta en 3–5 días laborables.",
        ],
        &["Te he enviado un enlace para restablecer la contraseña. Es válido durante 30 minutos."],
        &[
            "Mañana en {city}: {temp} °C y parcialmente nublado.",
            "Hay un 60 % de probabilidad de lluvia en {city} el sábado.",
        ],
        &[
            "Sí, el plan Pro incluye acceso completo a la API y soporte prioritario.",
            "Enviamos a la mayoría de países de Europa y América; la entrega tarda 3–7 días.",
        ],
        &["¡Hecho! La dirección de entrega del pedido {order} se ha actualizado."],
    ],
    follow_ups: &[
        "Vale, ¿y cuánto tardará?",
        "¿Me puedes enviar una confirmación por correo?",
        "¿Y si no funciona?",
        "¿Tengo que hacer algo más?",
        "¿Y el número de seguimiento?",
    ],
    answers: &[
        "Normalmente tarda 2–3 días laborables.",
        "Claro, te he enviado la confirmación a tu correo.",
        "Si no funciona, escríbeme aquí y lo reviso.",
        "No, no hace falta nada más.",
        "Tu número de seguimiento es {tracking}.",
    ],
    nudges: &["¿hola?", "¿sigues ahí?", "?"],
    extras: &["¿Puedo ayudarte en algo más?", "También recibirás un correo con los detalles."],
    thanks: &["¡Gracias!", "Muchas gracias, me ayuda mucho.", "perfecto, gracias"],
    closings: &["¡De nada! Que tengas un buen día.", "Encantado de ayudar. ¡Hasta luego! 👋"],
    handoff: &[
        "Te paso con un compañero del equipo de soporte; te responderá enseguida.",
        "He abierto una incidencia; nuestro equipo te responderá por correo en 24 horas.",
    ],
};

static FR: Phrases = Phrases {
    greeting: &[
        "Bonjour ! Je suis l'assistant virtuel. Comment puis-je vous aider ?",
        "Bonjour ! Que puis-je faire pour vous ?",
    ],
    openers: [
        &[
            "Où est ma commande {order} ?",
            "mon colis n'est toujours pas arrivé",
            "Pouvez-vous vérifier le statut de la commande {order} ?",
        ],
        &[
            "Je voudrais un remboursement pour la commande {order}",
            "L'article est arrivé abîmé, puis-je être remboursé ?",
        ],
        &["Je n'arrive pas à me connecter à mon compte", "J'ai oublié mon mot de passe"],
        &["Quel temps fera-t-il demain à {city} ?", "Va-t-il pleuvoir ce week-end à {city} ?"],
        &["L'offre Pro inclut-elle l'accès à l'API ?", "Livrez-vous à l'étranger ?"],
        &[
            "Je dois changer l'adresse de livraison de ma commande",
            "Mauvaise adresse sur la commande {order}, pouvez-vous corriger ?",
        ],
    ],
    replies: [
        &[
            "Votre commande {order} a été expédiée et arrivera sous 2 jours ouvrés.",
            "La commande {order} est chez le transporteur, livraison prévue jeudi.",
        ],
        &[
            "J'ai lancé un remboursement de {amount} € pour la commande {order}. Vous le verrez sous 3 à 5 jours ouvrés.",
        ],
        &["Je vous ai envoyé un lien de réinitialisation du mot de passe, valable 30 minutes."],
        &[
            "Demain à {city} : {temp} °C, partiellement nuageux.",
            "Il y a 60 % de risque de pluie à {city} samedi.",
        ],
        &[
            "Oui, l'offre Pro inclut l'accès complet à l'API et le support prioritaire.",
            "Nous livrons dans la plupart des pays d'Europe ; la livraison prend 3 à 7 jours.",
        ],
        &["C'est fait ! L'adresse de livraison de la commande {order} a été mise à jour."],
    ],
    follow_ups: &[
        "D'accord, et ça prendra combien de temps ?",
        "Pouvez-vous m'envoyer une confirmation par e-mail ?",
        "Et si ça ne marche pas ?",
        "Dois-je faire autre chose ?",
        "Et le numéro de suivi ?",
    ],
    answers: &[
        "Cela prend généralement 2 à 3 jours ouvrés.",
        "Bien sûr, la confirmation est partie sur votre e-mail.",
        "Dans ce cas, répondez-moi ici et je regarderai à nouveau.",
        "Non, rien d'autre n'est nécessaire.",
        "Votre numéro de suivi est {tracking}.",
    ],
    nudges: &["allô ?", "vous êtes là ?", "?"],
    extras: &[
        "Puis-je vous aider pour autre chose ?",
        "Vous recevrez aussi un e-mail avec ces informations.",
    ],
    thanks: &["Merci !", "Merci beaucoup, ça m'aide.", "parfait, merci"],
    closings: &["Avec plaisir ! Bonne journée.", "Ravi d'avoir pu aider. Au revoir ! 👋"],
    handoff: &[
        "Je vous mets en relation avec un conseiller, il vous répondra sous peu.",
        "J'ai ouvert un ticket ; notre équipe vous répondra par e-mail sous 24 heures.",
    ],
};

static PT: Phrases = Phrases {
    greeting: &["Olá! Sou o assistente virtual. Como posso ajudar?", "Oi! O que posso fazer por você?"],
    openers: [
        &[
            "Cadê meu pedido {order}?",
            "meu pacote ainda não chegou",
            "Pode verificar o status do pedido {order}?",
        ],
        &[
            "Quero reembolso do pedido {order}",
            "O produto chegou danificado, posso receber meu dinheiro de volta?",
        ],
        &["Não consigo entrar na minha conta", "Esqueci minha senha"],
        &["Como vai estar o tempo amanhã em {city}?", "Vai chover no fim de semana em {city}?"],
        &["O plano Pro inclui acesso à API?", "Vocês entregam no exterior?"],
        &[
            "Preciso mudar o endereço de entrega do meu pedido",
            "Endereço errado no pedido {order}, podem corrigir?",
        ],
    ],
    replies: [
        &[
            "Seu pedido {order} foi enviado e chega em 2 dias úteis.",
            "O pedido {order} está com a transportadora, entrega prevista para quinta.",
        ],
        &[
            "Iniciei um reembolso de R$ {amount} do pedido {order}. Ele aparece no seu cartão em 3 a 5 dias úteis.",
        ],
        &["Enviei um link para redefinir sua senha. Ele vale por 30 minutos."],
        &[
            "Amanhã em {city}: {temp} °C e parcialmente nublado.",
            "Há 60% de chance de chuva em {city} no sábado.",
        ],
        &[
            "Sim, o plano Pro inclui acesso completo à API e suporte prioritário.",
            "Entregamos na maioria dos países; o prazo é de 3 a 7 dias.",
        ],
        &["Pronto! O endereço de entrega do pedido {order} foi atualizado."],
    ],
    follow_ups: &[
        "Ok, e quanto tempo demora?",
        "Pode me mandar uma confirmação por e-mail?",
        "E se não funcionar?",
        "Preciso fazer mais alguma coisa?",
        "E o código de rastreio?",
    ],
    answers: &[
        "Normalmente leva 2 a 3 dias úteis.",
        "Claro, enviei a confirmação para o seu e-mail.",
        "Se não funcionar, é só me responder aqui.",
        "Não, não precisa de mais nada.",
        "Seu código de rastreio é {tracking}.",
    ],
    nudges: &["oi?", "ainda está aí?", "?"],
    extras: &["Posso ajudar em mais alguma coisa?", "Você também vai receber um e-mail com os detalhes."],
    thanks: &["Obrigado!", "Muito obrigada, ajudou bastante.", "perfeito, valeu"],
    closings: &["Por nada! Tenha um ótimo dia.", "Fico feliz em ajudar. Tchau! 👋"],
    handoff: &[
        "Vou transferir você para um atendente humano, só um momento.",
        "Abri um chamado; nossa equipe responde por e-mail em até 24 horas.",
    ],
};

static JA: Phrases = Phrases {
    greeting: &[
        "こんにちは！バーチャルアシスタントです。ご用件をお聞かせください。",
        "いらっしゃいませ。どのようなご用件でしょうか？",
    ],
    openers: [
        &[
            "注文{order}はどこにありますか？",
            "荷物がまだ届きません",
            "注文{order}の状況を確認してもらえますか？",
        ],
        &["注文{order}を返金してほしいです", "商品が破損して届きました。返金できますか？"],
        &["アカウントにログインできません", "パスワードを忘れました"],
        &["明日の天気は？", "週末は雨ですか？"],
        &["ProプランにはAPIアクセスが含まれますか？", "海外への配送はできますか？"],
        &["注文の配送先住所を変更したいです", "注文{order}の住所が間違っています。直せますか？"],
    ],
    replies: [
        &[
            "ご注文{order}は発送済みで、2営業日以内に届く予定です。",
            "ご注文{order}は配送業者に引き渡されました。木曜日にお届け予定です。",
        ],
        &["ご注文{order}の返金手続きを開始しました。3〜5営業日でカードに反映されます。"],
        &["パスワード再設定用のリンクをメールでお送りしました。有効期限は30分です。"],
        &["明日は{temp}°C、くもり時々晴れです。", "土曜日は雨の確率が60%です。傘をお持ちください。"],
        &[
            "はい、ProプランにはAPIへのフルアクセスと優先サポートが含まれます。",
            "ほとんどの国へ配送可能です。お届けまで3〜7日かかります。",
        ],
        &["変更しました！注文{order}の配送先住所を更新しました。"],
    ],
    follow_ups: &[
        "どのくらい時間がかかりますか？",
        "確認メールを送ってもらえますか？",
        "うまくいかなかったら？",
        "他に何かする必要はありますか？",
        "追跡番号は？",
    ],
    answers: &[
        "通常2〜3営業日かかります。",
        "はい、ご登録のメールアドレスに確認メールをお送りしました。",
        "その場合はこちらに返信してください。再度確認します。",
        "いいえ、他に必要なことはありません。",
        "追跡番号は{tracking}です。",
    ],
    nudges: &["もしもし？", "まだいますか？", "？"],
    extras: &["他にお手伝いできることはありますか？", "詳細はメールでもお送りします。"],
    thanks: &["ありがとうございます！", "助かりました。ありがとう。", "了解です、ありがとう"],
    closings: &["どういたしまして！良い一日を。", "お役に立ててうれしいです。"],
    handoff: &[
        "担当者におつなぎします。少々お待ちください。",
        "お問い合わせチケットを作成しました。24時間以内にメールでご連絡します。",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn world(n: u64) -> World {
        let now = 1_790_000_000 * SEC;
        World { seed: 7, now, window_start: now - 7 * DAY, pool: (n * 7 / 20).max(1) }
    }

    #[test]
    fn plans_are_deterministic_and_end_before_now() {
        let w = world(500);
        for i in 0..500 {
            let a = w.plan(i, w.start_of(i));
            let b = w.plan(i, w.start_of(i));
            assert_eq!(a.steps.len(), b.steps.len());
            for s in &a.steps {
                let at = match s {
                    Step::Upsert(_, t)
                    | Step::Message(_, t)
                    | Step::Action(_, t)
                    | Step::Button(_, t)
                    | Step::Feedback(_, t, _) => *t,
                };
                assert!(at < w.now && at >= w.window_start - DAY, "{i}: {at}");
            }
        }
    }

    #[test]
    fn about_ten_messages_per_conversation() {
        let w = world(5000);
        let (mut msgs, mut visits) = (0usize, 0usize);
        for i in 0..5000 {
            let p = w.plan(i, w.start_of(i));
            visits += usize::from(!p.used);
            msgs += p.steps.iter().filter(|s| matches!(s, Step::Message(..))).count();
        }
        let per = msgs as f64 / 5000.0;
        assert!((8.5..11.5).contains(&per), "{per}");
        assert!((800..1200).contains(&visits), "{visits}");
    }

    #[test]
    fn every_payload_validates() {
        let scope = AgentScope { agent_id: 1, environments: vec!["production".into(), "development".into()] };
        let w = world(300);
        for i in 0..300 {
            for s in w.plan(i, w.start_of(i)).steps {
                match s {
                    Step::Upsert(p, t) => {
                        agentsight_core::tracking::validate_conversation(&scope, &p, t).unwrap();
                    }
                    Step::Message(p, t) => {
                        agentsight_core::tracking::validate_message(&scope, p, t).unwrap();
                    }
                    Step::Action(p, t) => {
                        agentsight_core::tracking::validate_action(&scope, &p, t).unwrap();
                    }
                    Step::Button(p, t) => {
                        agentsight_core::tracking::validate_button(&scope, &p, t).unwrap();
                    }
                    Step::Feedback(p, t, _) => {
                        agentsight_core::tracking::validate_feedback(&scope, &p, FeedbackSource::Customer, t)
                            .unwrap();
                    }
                }
            }
        }
    }

    #[test]
    fn every_language_answers_each_follow_up() {
        for ph in [&EN, &DE, &HR, &ES, &FR, &PT, &JA] {
            assert_eq!(ph.follow_ups.len(), ph.answers.len());
        }
    }

    #[test]
    fn timestamps_look_like_python_isoformat() {
        assert_eq!(iso(1_790_000_000 * SEC + 5), "2026-09-21T14:13:20.000005+00:00");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
