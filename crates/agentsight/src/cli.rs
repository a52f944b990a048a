//! The command line: `serve`, `demo`, `backup`, `restore`, `erase`, and the operator commands for agents, keys, users
//! and prices.
//!
//! Operator commands open the stores directly: the data dir's database (SQLite's WAL lets them
//! run while a server is serving the same data dir), or with `--postgres` and `--clickhouse`
//! the scale-out stores that every node shares (`crate::backend`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::backend::{Given, Target, with_config, with_stores};
use agentsight_core::keys::{self, Role};
use agentsight_core::time::{now_micros, to_iso};
use agentsight_server::app::Stores;
use agentsight_server::{App, Settings};
use agentsight_store::prelude::*;
use agentsight_store::{AgentRow, ConfigStore, EventStore, NewUser, StoreError};
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// AgentSight, self-hosted: conversation analytics for AI agents and chatbots.
#[derive(Debug, Parser)]
#[command(name = "agentsight", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines on stderr: `text` (coloured only when stderr is a terminal and NO_COLOR is
    /// unset) or `json` (one JSON object a line, for a log collector). `AGENTSIGHT_LOG` filters.
    #[arg(long, env = "AGENTSIGHT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line: `timestamp`, `level`, `message`, the event's fields, `target`.
    Json,
}

impl Cli {
    /// The log format chosen with `--log-format` or `AGENTSIGHT_LOG_FORMAT`.
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }

    /// Whether the command is `serve` (which takes a listening socket passed in by systemd).
    pub fn is_serve(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }

    /// Threads serving HTTP: `serve --workers`, by default one fewer than the CPUs (at least
    /// one), so the single writer thread keeps a core of its own.
    pub fn worker_threads(&self) -> usize {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        match &self.command {
            Command::Serve(a) => a.workers.unwrap_or(cpus.saturating_sub(1)).max(1),
            _ => 1,
        }
    }
}

/// Where the stores are: a data dir (the embedded SQLite store), or PostgreSQL and ClickHouse
/// (scale-out: `--postgres` and `--clickhouse`, both or neither).
#[derive(Debug, Args, Clone)]
pub(crate) struct DataDir {
    /// Directory holding the database (`agentsight.db`), the span archive
    /// (`agentsight.archive.db`) and attachment files; created 0700, its files 0600
    /// [default: ./data]. Not with --postgres/--clickhouse.
    #[arg(long, env = "AGENTSIGHT_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Scale-out (in progress): the configuration (agents, keys, users, settings) and the
    /// events' conversation registry in this PostgreSQL database, e.g.
    /// `postgres://agentsight:PASSWORD@db.internal:5432/agentsight` (the environment variable
    /// keeps a password out of the process list). Needs --clickhouse; shared by every node.
    #[arg(long, env = "AGENTSIGHT_POSTGRES", value_name = "URL", global = true, hide_env_values = true)]
    postgres: Option<String>,
    /// Scale-out (in progress): the events in ClickHouse (18.16 or later), its HTTP URL with
    /// the database, e.g. `http://ch.internal:8123/?database=agentsight` (`user` and
    /// `password` go in the query too). Needs --postgres; shared by every node.
    #[arg(long, env = "AGENTSIGHT_CLICKHOUSE", value_name = "URL", global = true, hide_env_values = true)]
    clickhouse: Option<String>,
    /// The ClickHouse cluster (of the servers' `remote_servers`) to shard the events over:
    /// `<table>_local` on every node and `Distributed` tables over them. Without it, one server.
    #[arg(long, env = "AGENTSIGHT_CLICKHOUSE_CLUSTER", value_name = "NAME", global = true)]
    clickhouse_cluster: Option<String>,
    /// The HTTP URL of a node of the cluster, once per node in the order `system.clusters`
    /// lists them (by shard, then replica), when the nodes do not all answer HTTP on the port
    /// of --clickhouse [default: the host the cluster lists, the port of --clickhouse].
    #[arg(
        long = "clickhouse-shard",
        env = "AGENTSIGHT_CLICKHOUSE_SHARDS",
        value_name = "URL",
        value_delimiter = ',',
        global = true,
        hide_env_values = true
    )]
    clickhouse_shards: Vec<String>,
    /// How long, in milliseconds, a node gathers the rows of concurrent writes into one
    /// ClickHouse insert per table [default: 50]. Longer: fewer, larger inserts (fewer parts
    /// for ClickHouse to merge, less of its CPU per row) and slower answers to the SDK (each
    /// write waits for its insert).
    #[arg(long, env = "AGENTSIGHT_CLICKHOUSE_BATCH_MS", value_name = "MS", global = true,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    clickhouse_batch_ms: Option<u64>,
}

impl DataDir {
    /// The backends these flags name (see [`Target::of`]).
    pub(crate) fn target(&self) -> anyhow::Result<Target> {
        Target::of(&Given {
            data_dir: self.data_dir.clone(),
            postgres: self.postgres.clone(),
            clickhouse: self.clickhouse.clone(),
            cluster: self.clickhouse_cluster.clone(),
            shards: self.clickhouse_shards.clone(),
            batch_ms: self.clickhouse_batch_ms,
        })
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (embedded SQLite; creates and migrates the database on first start,
    /// backing it up into `<data-dir>/backups/` before migrating a database that has data).
    ///
    /// Scale-out (in progress): with --postgres and --clickhouse the server keeps nothing of
    /// its own: any number of nodes serve the same agents, conversations, metrics and
    /// attachments (their bytes in PostgreSQL). The tables are created or migrated at start.
    ///
    /// Socket activation: when systemd passes a listening TCP socket (LISTEN_FDS=1 and
    /// LISTEN_PID naming this process, the socket as fd 3; see deploy/agentsight.socket) the
    /// server serves on it and `--listen` is not used. Connections that arrive while the
    /// server restarts then wait in the socket's queue and are served by the next process.
    ///
    /// On SIGTERM or SIGINT the server stops accepting, ends the live feed's event streams,
    /// lets the requests in flight finish (at most `--shutdown-timeout`), commits everything
    /// queued, checkpoints the database and exits 0.
    Serve(ServeArgs),
    /// Manage agents (one per chatbot).
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage dashboard users (admins see every agent; viewers only their assigned agents,
    /// read-only).
    #[command(subcommand)]
    User(UserCommand),
    /// Alert rules: list, create, delete, and their history (firing episodes). The server
    /// evaluates them every --alert-interval and notifies every target.
    #[command(subcommand)]
    Alert(crate::notify_cli::AlertCommand),
    /// Notification delivery: the SMTP server (set, show, clear, test), targets (webhooks,
    /// e-mail addresses) and the sends log.
    #[command(subcommand)]
    Notify(crate::notify_cli::NotifyCommand),
    /// Fill an agent with realistic demo data ending now, through the same write path as the
    /// API. Writes without fsync (demo data need not survive a power loss).
    Demo(DemoArgs),
    /// The LLM price table token costs are computed with (dated, with its sources), and
    /// restating stored costs with it.
    #[command(subcommand)]
    Prices(PricesCommand),
    /// Check a data dir (the embedded store only) without changing it: both databases'
    /// integrity (read-only) and schema
    /// versions against this build, the permissions of the dir (0700) and its databases (0600),
    /// free disk space (a warning under 1 GiB) and the geolocation files. Prints one line a
    /// finding, then `OK` (exit 0) or `PROBLEMS: n` (exit 1).
    Check(CheckArgs),
    /// Copy the data dir (the embedded store only: main database, span archive, attachment
    /// files; agents, keys, users
    /// and settings are in the database) into a new directory, consistently, while a server
    /// runs and ingests: SQLite's online backup from a read connection, which does not block
    /// the server. Shows progress on a terminal and prints what it wrote. The geolocation
    /// files (`<data-dir>/geo`) are not copied.
    Backup(BackupArgs),
    /// Bring a backup into a new data dir (the embedded store only; missing or empty: restore
    /// never overwrites a data
    /// dir, in use by a server or not), checking both databases; then `serve` it. Span batches
    /// archived after the backup's copy of the main database are projected at that start.
    Restore(RestoreArgs),
    /// Copy a single box (the data dir of --data-dir) into the scale-out deployment of
    /// --postgres and --clickhouse [--clickhouse-cluster NAME]: agents, environments, keys
    /// (their stored hashes: the keys keep working), users, share links, branding, then every
    /// agent's conversations, messages, actions, buttons, feedback, votes, token usage,
    /// attachments and 0.1.x span rows, with their ids (ids the SDK holds stay valid), plus
    /// alert rules, notification targets, SMTP settings and report schedules. Not copied:
    /// sign-in sessions and the notification sends log. The target must be new (no agents)
    /// before the first run. Reads one snapshot of the data dir (it may be
    /// served meanwhile; rows added later are copied by the next run, changes to rows already
    /// copied are not: stop the server for the last run). Resumes where a stopped run ended;
    /// a repeated run copies nothing twice. Shows progress on a terminal, plain lines otherwise.
    /// Here --data-dir (required, no default) is the source and goes with --postgres and
    /// --clickhouse.
    Migrate(MigrateArgs),
    /// Erase a customer's data (GDPR art. 17): every conversation of that customer of the agent,
    /// with its messages, actions, buttons, feedback, attachments (rows and files), spans and
    /// token usage. The metrics reflect it at once (a server on the same data dir applies it from
    /// its metrics journal); the audit log keeps when, which agent, `cli` and how much went, never the
    /// customer's id. Running it again removes nothing more.
    Erase(EraseArgs),
    /// Scheduled client reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print the OpenAPI 3.1 document of the HTTP API (the one `GET /api/openapi.json` serves),
    /// generated from the server's types and handlers. `web/openapi.json` is this output; the
    /// dashboard's TypeScript types are generated from it.
    Openapi,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// Rows per chunk (one ClickHouse insert or PostgreSQL transaction, and the unit a
    /// stopped run resumes from).
    #[arg(long, default_value_t = crate::migrate::DEFAULT_CHUNK_ROWS as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    chunk_rows: u64,
    /// Test hook: stop (exit 1) after this many ClickHouse chunks went in, before they are
    /// recorded, as a run killed at the worst moment.
    #[arg(long, hide = true)]
    stop_after_chunks: Option<u64>,
    /// Test hook: count only the chunks of this step (`messages`, `spans`, …) towards
    /// --stop-after-chunks.
    #[arg(long, hide = true, requires = "stop_after_chunks")]
    stop_in_step: Option<String>,
    #[command(flatten)]
    data: DataDir,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Directory with the DB-IP geolocation files [default: <data-dir>/geo].
    #[arg(long, env = "AGENTSIGHT_GEO_DIR")]
    geo_dir: Option<PathBuf>,
    #[command(flatten)]
    data: DataDir,
}

#[derive(Debug, Args)]
struct BackupArgs {
    /// The backup directory to create (0700, files 0600); an existing non-empty one is refused.
    #[arg(long)]
    to: PathBuf,
    #[command(flatten)]
    data: DataDir,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// A directory written by `agentsight backup`.
    #[arg(long)]
    from: PathBuf,
    #[command(flatten)]
    data: DataDir,
}

#[derive(Debug, Subcommand)]
enum PricesCommand {
    /// Print this build's price table: its date, its sources and USD per 1M tokens by model.
    List,
    /// Reprice stored token usage with this build's table (after an upgrade that corrected or
    /// added prices): each row's cost is recomputed from its token counts and stamped with the
    /// table's date; models the table does not know become `unpriced`. Costs the SDK reported
    /// are kept. Safe while the server runs.
    Restate {
        /// Only this agent (id or name) [default: every agent].
        #[arg(long)]
        agent: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Conversations to generate (about 20% are visits without messages; the rest have about
    /// 12 messages each, so about 10 per conversation overall).
    #[arg(long, default_value_t = 2000)]
    conversations: u64,
    /// Spread the conversation starts over this many days, ending now.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// The agent to fill; when missing it is created with its environments and a write key,
    /// printed as the last line.
    #[arg(long, default_value = "demo")]
    agent: String,
    /// Random seed: the same seed gives the same data (relative to the time of the run).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Directory with the DB-IP geolocation files [default: <data-dir>/geo]; without them the
    /// demo's countries are unknown, as the server's would be.
    #[arg(long, env = "AGENTSIGHT_GEO_DIR")]
    geo_dir: Option<PathBuf>,
    #[command(flatten)]
    data: DataDir,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on; not used when systemd passes in a listening socket (see above).
    #[arg(long, env = "AGENTSIGHT_LISTEN", default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// Seconds the requests in flight have to finish after SIGTERM or SIGINT; connections
    /// still open then are cut. Keep systemd's TimeoutStopSec above it.
    #[arg(long, env = "AGENTSIGHT_SHUTDOWN_TIMEOUT", default_value_t = agentsight_server::config::DEFAULT_SHUTDOWN_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    shutdown_timeout: u64,
    #[command(flatten)]
    data: DataDir,
    /// Scale-out only, optional: keep attachment files in this directory (created 0700)
    /// instead of PostgreSQL, where they are by default. Every node must then see the same
    /// files (a shared file system), or an attachment reads back only through the node that
    /// received it (the embedded store keeps them in `<data-dir>/attachments`).
    #[arg(long, env = "AGENTSIGHT_ATTACHMENTS_DIR", value_name = "DIR")]
    attachments_dir: Option<PathBuf>,
    /// Skip the fsync at each commit: an acknowledged write then survives a crash of the
    /// process but not a power loss (the embedded store only).
    #[arg(long, env = "AGENTSIGHT_NO_FSYNC")]
    no_fsync: bool,
    /// Directory with the DB-IP geolocation files (`scripts/fetch-geo.sh` installs them)
    /// [default: <data-dir>/geo; scale-out: none]. Without them the server runs and countries
    /// are unknown.
    #[arg(long, env = "AGENTSIGHT_GEO_DIR")]
    geo_dir: Option<PathBuf>,
    /// Keep `customer_ip_address` as sent; `--store-ip=false` keeps only its location.
    #[arg(long, env = "AGENTSIGHT_STORE_IP", default_value_t = true, action = clap::ArgAction::Set)]
    store_ip: bool,
    /// Answer metrics from the in-memory index, loaded in the background at start (about 40
    /// bytes per message; see docs/benchmarks.md); `--metrics-index=false` reads raw rows. The
    /// embedded store only: ClickHouse aggregates every query.
    #[arg(long, env = "AGENTSIGHT_METRICS_INDEX", default_value_t = true, action = clap::ArgAction::Set)]
    metrics_index: bool,
    /// Threads serving HTTP [default: CPUs - 1, at least 1; the writer thread takes the last].
    #[arg(long, env = "AGENTSIGHT_WORKERS")]
    workers: Option<usize>,
    /// Largest JSON request body in bytes (also an OTLP body at /v1/traces; gzip bodies once
    /// inflated).
    #[arg(long, env = "AGENTSIGHT_MAX_BODY_BYTES", default_value_t = agentsight_core::limits::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Largest attachment file in bytes (larger ones get 413).
    #[arg(long, env = "AGENTSIGHT_MAX_ATTACHMENT_BYTES", default_value_t = agentsight_core::limits::DEFAULT_MAX_ATTACHMENT_BYTES)]
    max_attachment_bytes: usize,
    /// `POST /api/ingest/` batches (and `POST /v1/traces` requests) per second one agent may
    /// send (0: no limit); over it the server answers 429 with Retry-After.
    #[arg(long, env = "AGENTSIGHT_INGEST_RATE", default_value_t = agentsight_server::config::DEFAULT_INGEST_RATE)]
    ingest_rate: u32,
    /// Ingest batches one agent may send at once above its rate.
    #[arg(long, env = "AGENTSIGHT_INGEST_BURST", default_value_t = agentsight_server::config::DEFAULT_INGEST_BURST)]
    ingest_burst: u32,
    /// Seconds a connection has to send a complete request head, counted from when it opens
    /// or finished its last response (so also the idle keep-alive timeout); then it is closed.
    #[arg(long, env = "AGENTSIGHT_HEADER_TIMEOUT", default_value_t = agentsight_server::config::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Connections open at once. At the cap the server stops accepting: new clients wait in
    /// the listen queue until a connection closes. Keep it below `ulimit -n`.
    #[arg(long, env = "AGENTSIGHT_MAX_CONNECTIONS", default_value_t = agentsight_server::config::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    max_connections: usize,
    /// The server's address as clients reach it, e.g. `https://agentsight.example.com` behind a
    /// proxy: links the server writes (the `next`/`previous` pages of a listing) use it instead
    /// of the request's Host header.
    #[arg(long, env = "AGENTSIGHT_PUBLIC_URL", value_parser = agentsight_server::config::parse_public_url)]
    public_url: Option<String>,
    /// A reverse proxy whose X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host are
    /// believed: an address or a CIDR network (repeat the flag, or comma-separate in the
    /// environment variable). From any other peer those headers are ignored. The client's
    /// address (sign-in rate limit, logs) is then the right-most untrusted address of
    /// X-Forwarded-For, and session cookies get Secure when the proxy says https. Default: none.
    #[arg(long = "trusted-proxy", value_name = "ADDR|CIDR", env = "AGENTSIGHT_TRUSTED_PROXY",
          value_delimiter = ',', value_parser = agentsight_server::proxy::parse_trusted_proxy)]
    trusted_proxies: Vec<agentsight_server::proxy::IpNet>,
    /// Seconds between runs of the retention job (at start, then at this interval), which
    /// removes the conversations older than their agent's retention
    /// (`agentsight agent retention`); 0 never runs it.
    #[arg(long, env = "AGENTSIGHT_RETENTION_INTERVAL", default_value_t = agentsight_server::config::DEFAULT_RETENTION_INTERVAL.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    retention_interval: u64,
    /// Seconds between rounds of the alert rules, the scheduled client reports that are due and
    /// the retries of failed notification sends (the first round at start: a report missed
    /// while the server was down goes out then, once); 0 never runs them. On several nodes
    /// sharing a PostgreSQL configuration store one node at a time does it (a lease).
    #[arg(long, env = "AGENTSIGHT_ALERT_INTERVAL", default_value_t = agentsight_server::config::DEFAULT_ALERT_INTERVAL.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    alert_interval: u64,
    /// Seconds before the first retry of a failed e-mail or webhook send; each next retry
    /// waits twice as long (5 attempts in all).
    #[arg(long, env = "AGENTSIGHT_NOTIFY_RETRY_BASE", default_value_t = agentsight_server::config::DEFAULT_NOTIFY_RETRY_BASE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    notify_retry_base: u64,
    /// Seconds after which a send whose first attempt never finished, or a scheduled report
    /// whose sending never finished (its node stopped), is taken up again by the node doing
    /// the rounds. Keep it well above 60 s, the longest one SMTP conversation may take.
    #[arg(long, env = "AGENTSIGHT_NOTIFY_STALE_AFTER", default_value_t = agentsight_server::config::DEFAULT_NOTIFY_STALE_AFTER.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    notify_stale_after: u64,
    /// A PEM file of CA certificates to trust, besides the system's, for SMTP (STARTTLS, TLS)
    /// and HTTPS webhooks: a mail server or webhook with a private CA.
    #[arg(long, env = "AGENTSIGHT_NOTIFY_CA_FILE", value_name = "PEM")]
    notify_ca_file: Option<PathBuf>,
    /// Accept any TLS certificate from the SMTP server. For tests only: the server is then not
    /// authenticated at all. (Webhooks always check theirs: use --notify-ca-file.)
    #[arg(long, env = "AGENTSIGHT_NOTIFY_INSECURE_TLS")]
    notify_insecure_tls: bool,
    /// Serve `GET /metrics` (the Prometheus text format: requests, ingest outcomes, the
    /// store's queues, the metrics engine, memory) to scrapes that send `Authorization: Bearer
    /// TOKEN`; without it `/metrics` answers 404. 16 to 512 printable characters without
    /// spaces (e.g. `openssl rand -hex 32`); prefer the environment variable, as a flag shows
    /// in the process list. Never logged.
    #[arg(long, env = "AGENTSIGHT_PROMETHEUS_TOKEN", value_name = "TOKEN", hide_env_values = true,
          value_parser = agentsight_server::config::ScrapeToken::parse)]
    prometheus_token: Option<agentsight_server::config::ScrapeToken>,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Create an agent (environments production and development) and a write key for it;
    /// the key is the last line printed.
    Create {
        /// Unique agent name.
        name: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// List agents.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Show or change the tool names counted as human escalation for an agent (applies to
    /// past data too). Without --set or --reset, prints the current list.
    Escalation {
        /// Agent id or name.
        agent: String,
        /// Comma-separated action names, e.g. `fallback_to_human,call_support`.
        #[arg(long, conflicts_with = "reset", value_delimiter = ',')]
        set: Option<Vec<String>>,
        /// Go back to the default list.
        #[arg(long)]
        reset: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// List an agent's environments, or add one (`--add staging`): the slugs its conversations
    /// may carry (the 0.1.x SDK learns them from `GET /api/me/`).
    Env {
        /// Agent id or name.
        agent: String,
        /// New environment slug (lower-case letters, digits, `-` and `_`; not `prod`, `dev` or
        /// `unknown`, which filters read as production, development and "none").
        #[arg(long)]
        add: Option<String>,
        /// Display name of the new environment [default: the slug].
        #[arg(long, requires = "add")]
        name: Option<String>,
        /// Mark the new environment as a production one.
        #[arg(long, requires = "add")]
        production: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Show or set how long an agent's conversations are kept: a running server removes, every
    /// few minutes, each conversation whose last event (start, end, latest message, action or
    /// button) is older than that, with everything of it. Without --days or --off, prints it.
    Retention {
        /// Agent id or name.
        agent: String,
        /// Keep conversations this many days after their last event (1 to 36500).
        #[arg(long, conflicts_with = "off")]
        days: Option<i64>,
        /// Keep conversations for ever (the default).
        #[arg(long)]
        off: bool,
        #[command(flatten)]
        data: DataDir,
    },
}

/// `agentsight erase`.
#[derive(Debug, Args)]
struct EraseArgs {
    /// Agent id or name.
    #[arg(long)]
    agent: String,
    /// The customer whose conversations go (their `customer_id`, as the SDK sent it).
    #[arg(long)]
    customer_id: String,
    /// Scale-out only: this node's attachment directory, where files of the erased
    /// conversations that this node received are deleted (the embedded store's are in
    /// `<data-dir>/attachments`).
    #[arg(long, env = "AGENTSIGHT_ATTACHMENTS_DIR", value_name = "DIR")]
    attachments_dir: Option<PathBuf>,
    #[command(flatten)]
    data: DataDir,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Render an agent's report of one period into a directory, as the client would receive
    /// it (nothing is sent or recorded): report.eml (the whole message), report.html (images
    /// as cid:), report-preview.html (images inline, for a browser), report.txt and the PNG
    /// images. The zone and the share link are those of the agent's first report schedule,
    /// else --tz and no link.
    Preview {
        /// Agent id or name.
        #[arg(long)]
        agent: String,
        /// The period: an ISO week (2026-W48) or a month (2026-11).
        #[arg(long)]
        period: String,
        /// The zone of the days when the agent has no schedule (IANA name).
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// The server's public address, for the dashboard link (as `serve --public-url`).
        #[arg(long, env = "AGENTSIGHT_PUBLIC_URL")]
        public_url: Option<String>,
        /// Where the files go (created when missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Write,
    Read,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create a key for an agent; the key is the last line printed (it is shown only once).
    Create {
        /// Agent id or name.
        #[arg(long)]
        agent: String,
        /// `write` (ingest and read) or `read`.
        #[arg(long, value_enum, default_value = "write")]
        role: RoleArg,
        #[command(flatten)]
        data: DataDir,
    },
    /// List keys (prefixes only; secrets are never stored).
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Revoke a key by id (see `key list`); it stops working within a second.
    Revoke {
        /// Key id.
        id: i64,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum UserRoleArg {
    Admin,
    Viewer,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a dashboard user. The password is read from the first line of standard input
    /// with --password-stdin, else prompted for (never echoed, printed or logged).
    Create {
        /// E-mail address (the sign-in name).
        email: String,
        /// `admin` (every agent and setting) or `viewer` (assigned agents, read-only).
        #[arg(long, value_enum)]
        role: UserRoleArg,
        /// An agent (id or name) the viewer may see; repeat for more.
        #[arg(long = "agent")]
        agents: Vec<String>,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// List dashboard users.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Delete a dashboard user by e-mail (their sessions end; the last admin stays).
    Delete {
        /// E-mail address.
        email: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// A secret (an SMTP password, a webhook's signing secret) from the first line of standard
/// input, or prompted for twice (never echoed).
pub(crate) fn read_secret(what: &str, from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .with_context(|| format!("reading the {what} from standard input"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first =
        rpassword::prompt_password(format!("{what}: ")).with_context(|| format!("reading the {what}"))?;
    let again = rpassword::prompt_password(format!("{what} (again): "))
        .with_context(|| format!("reading the {what}"))?;
    if first != again {
        bail!("the two differ");
    }
    Ok(first)
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password("Password: ").context("reading the password")?;
    let again = rpassword::prompt_password("Password (again): ").context("reading the password")?;
    if first != again {
        bail!("the passwords differ");
    }
    Ok(first)
}

async fn user_command(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create { email, role, agents, password_stdin, data } => {
            let role = match role {
                UserRoleArg::Admin => "admin",
                UserRoleArg::Viewer => "viewer",
            };
            let password = read_password(password_stdin)?;
            let (email, role) = agentsight_core::dashboard::validate_new_user(&email, &password, role)
                .map_err(|e| anyhow::anyhow!("invalid user: {:?}", e.0))?;
            with_config!(data.target()?, |store| {
                let mut ids = Vec::new();
                for a in &agents {
                    ids.push(find_agent(&store, a).await?.id);
                }
                let password_hash =
                    agentsight_core::dashboard::hash_password(&password).map_err(anyhow::Error::msg)?;
                let user = store
                    .create_user(NewUser {
                        email,
                        password_hash,
                        role,
                        agents: ids,
                        created_at: now_micros(),
                    })
                    .await?;
                out(&format!("Created {} '{}' (id {}).", user.role.as_str(), user.email, user.id))
            })
        }
        UserCommand::List { data } => {
            with_config!(data.target()?, |store| {
                out("ID\tEMAIL\tROLE\tAGENTS\tCREATED")?;
                for u in store.list_users().await? {
                    let agents = if u.role == agentsight_core::dashboard::UserRole::Admin {
                        "all".to_string()
                    } else {
                        u.agents.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",")
                    };
                    out(&format!(
                        "{}\t{}\t{}\t{}\t{}",
                        u.id,
                        u.email,
                        u.role.as_str(),
                        agents,
                        to_iso(u.created_at)
                    ))?;
                }
                Ok(())
            })
        }
        UserCommand::Delete { email, data } => {
            with_config!(data.target()?, |store| {
                let email = email.trim().to_lowercase();
                let (user, _) = store
                    .user_by_email(email.clone())
                    .await?
                    .with_context(|| format!("no user '{email}'"))?;
                store.delete_user(user.id).await?;
                out(&format!("Deleted user '{email}'."))
            })
        }
    }
}

/// The listening socket systemd passed in (socket activation: `LISTEN_FDS=1` and `LISTEN_PID`
/// naming this process; the socket is fd 3), if any. Call it before any other thread starts:
/// it unsets those variables, as the protocol asks.
pub fn passed_listener() -> anyhow::Result<Option<std::net::TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    match fds.len() {
        0 => Ok(None),
        1 => fds.take_tcp_listener(0).context(
            "socket activation: fd 3 (LISTEN_FDS=1) must be a listening TCP socket \
             (ListenStream=address:port in the socket unit)",
        ),
        n => bail!(
            "socket activation passed {n} sockets (LISTEN_FDS={n}); agentsight serves one: \
             give the socket unit a single ListenStream"
        ),
    }
}

/// Runs the parsed command; `serve` serves on `passed` when systemd passed a socket in.
pub async fn run(cli: Cli, passed: Option<std::net::TcpListener>) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => serve(a, passed).await,
        Command::Openapi => out(agentsight_server::openapi_document()),
        Command::Alert(cmd) => crate::notify_cli::alert_command(cmd).await,
        Command::Notify(cmd) => crate::notify_cli::notify_command(cmd).await,
        Command::Check(a) => {
            let dir = a.data.target()?.sqlite_only(
                "check",
                "PostgreSQL and ClickHouse check their own files; a node's readiness is `GET /readyz`",
            )?;
            let geo = a.geo_dir.unwrap_or_else(|| dir.join("geo"));
            let findings = crate::check::check(&dir, &geo);
            let (report, problems) = crate::check::render(&findings);
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(report.as_bytes())?;
            stdout.flush()?;
            if problems > 0 {
                anyhow::bail!("{} has {problems} problem(s)", dir.display());
            }
            Ok(())
        }
        Command::Agent(AgentCommand::Create { name, data }) => {
            with_config!(data.target()?, |store| {
                let (agent, key) = create_agent_with_key(&store, &name).await?;
                out(&format!(
                    "Created agent '{}' (id {}) with a write key (shown once):",
                    agent.name, agent.id
                ))?;
                out(&key)
            })
        }
        Command::Agent(AgentCommand::Env { agent, add, name, production, data }) => {
            with_config!(data.target()?, |store| {
                let agent = find_agent(&store, &agent).await?;
                if let Some(slug) = add {
                    let slug = agentsight_core::normalize::environment_slug(&slug)
                        .map_err(|e| anyhow::anyhow!("invalid environment slug: {e}"))?;
                    let title = name.unwrap_or_else(|| slug.clone());
                    store.create_environment(agent.id, slug, title, production, now_micros()).await?;
                }
                for e in store.environments(agent.id).await? {
                    out(&format!(
                        "{}\t{}{}",
                        e.slug,
                        e.name,
                        if e.is_production { "\t(production)" } else { "" }
                    ))?;
                }
                Ok(())
            })
        }
        Command::Agent(AgentCommand::Escalation { agent, set, reset, data }) => {
            with_config!(data.target()?, |store| {
                let agent = find_agent(&store, &agent).await?;
                if let Some(tools) = set {
                    let tools = agentsight_core::metrics::validate_escalation_tools(&tools)
                        .map_err(|e| anyhow::anyhow!("invalid escalation tools: {:?}", e.0))?;
                    store.set_escalation_tools(agent.id, Some(tools)).await?;
                } else if reset {
                    store.set_escalation_tools(agent.id, None).await?;
                }
                let (tools, default) = match store.escalation_tools(agent.id).await? {
                    Some(t) => (t, false),
                    None => (
                        agentsight_core::metrics::DEFAULT_ESCALATION_TOOLS
                            .iter()
                            .map(|s| s.to_string())
                            .collect(),
                        true,
                    ),
                };
                out(&format!(
                    "Escalation tools of agent '{}'{}: {}",
                    agent.name,
                    if default { " (default)" } else { "" },
                    tools.join(",")
                ))
            })
        }
        Command::Agent(AgentCommand::Retention { agent, days, off, data }) => {
            with_config!(data.target()?, |store| {
                let agent = find_agent(&store, &agent).await?;
                if let Some(d) = days {
                    let d = agentsight_core::tracking::retention_days(d)
                        .map_err(|e| anyhow::anyhow!("invalid --days: {e}"))?;
                    store.set_retention_days(agent.id, Some(d)).await?;
                } else if off {
                    store.set_retention_days(agent.id, None).await?;
                }
                match store.retention_days(agent.id).await? {
                    Some(d) => out(&format!(
                        "Retention of agent '{}': {d} days after a conversation's last event",
                        agent.name
                    )),
                    None => {
                        out(&format!("Retention of agent '{}': off (conversations are kept)", agent.name))
                    }
                }
            })
        }
        Command::Erase(EraseArgs { agent, customer_id, attachments_dir, data }) => {
            let customer = agentsight_core::tracking::customer_id_to_erase(&customer_id)
                .map_err(|e| anyhow::anyhow!("invalid --customer-id: {:?}", e.0))?;
            let target = data.target()?;
            let files = match &target {
                Target::Sqlite(dir) => Some(Settings::new(dir).attachments_dir()),
                Target::ScaleOut(_) => attachments_dir,
            };
            // Files in a directory; on scale-out without one the bytes are in PostgreSQL and
            // the event store removes them with the rows.
            let blobs = files
                .map(|d| {
                    agentsight_server::blobs::FileBlobs::new(d.clone())
                        .with_context(|| format!("{}", d.display()))
                })
                .transpose()?;
            with_stores!(target, |stores| {
                let agent = find_agent(&stores.config, &agent).await?;
                let erased = agentsight_server::erasure::erase(
                    &stores.config,
                    &stores.events,
                    blobs.as_ref().map(|b| b as &dyn agentsight_store::BlobStore),
                    agent.id,
                    agentsight_store::EraseSelector::Customer(customer),
                    agentsight_store::ErasureKind::Erase,
                    "cli".into(),
                )
                .await?;
                out(&format!(
                    "Erased {} conversation(s), {} message(s) and {} attachment file(s) of that customer from agent '{}'",
                    erased.conversations,
                    erased.messages,
                    erased.attachment_keys.len(),
                    agent.name
                ))
            })
        }
        Command::Report(ReportCommand::Preview { agent, period, tz, public_url, out: dir, data }) => {
            let period = agentsight_core::reports::ReportPeriod::parse(&period)
                .map_err(|e| anyhow::anyhow!("invalid --period: {e}"))?;
            let tz: chrono_tz::Tz =
                tz.parse().map_err(|_| anyhow::anyhow!("invalid --tz: unknown time zone '{tz}'"))?;
            with_stores!(data.target()?, |stores| {
                let agent = find_agent(&stores.config, &agent).await?;
                let schedule = stores.config.report_schedules(Some(agent.id)).await?.into_iter().next();
                let cadence = match (&schedule, period.key.contains('W')) {
                    (Some(s), _)
                        if (s.settings.timing.cadence.kind() == "weekly") == period.key.contains('W') =>
                    {
                        s.settings.timing.cadence
                    }
                    (_, true) => agentsight_core::reports::Cadence::Weekly(chrono::Weekday::Mon),
                    (_, false) => agentsight_core::reports::Cadence::Monthly(1),
                };
                let tz = schedule.as_ref().map(|s| s.settings.timing.tz).unwrap_or(tz);
                let share = schedule.as_ref().and_then(|s| {
                    Some(agentsight_report::gather::ShareLink {
                        id: s.share_id?,
                        token: s.share_token.clone()?,
                    })
                });
                let key = period.key.clone();
                let data = agentsight_report::gather(
                    &stores.config,
                    &stores.events,
                    agent.id,
                    cadence,
                    period,
                    tz,
                    share.as_ref(),
                    public_url.as_deref(),
                    agentsight_core::time::now_micros(),
                )
                .await?;
                let mid = agentsight_report::run::message_id(
                    schedule.as_ref().map_or(0, |s| s.id),
                    &key,
                    "preview.invalid",
                );
                let mail = agentsight_report::render(&data, &mid)?;
                std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
                let write = |name: &str, bytes: &[u8]| {
                    let p = dir.join(name);
                    std::fs::write(&p, bytes).with_context(|| format!("{}", p.display()))
                };
                write("report.html", mail.html.as_bytes())?;
                write(
                    "report-preview.html",
                    agentsight_report::render::html_with_data_urls(&mail).as_bytes(),
                )?;
                write("report.txt", mail.text.as_bytes())?;
                for p in &mail.inline {
                    write(&p.filename, &p.bytes)?;
                }
                // As each recipient receives it (one message each), here to the first.
                let to = schedule
                    .as_ref()
                    .and_then(|s| s.settings.recipients.first().cloned())
                    .unwrap_or_else(|| "client@example.invalid".into());
                let email = agentsight_server::notify::Email::from_report(&mail, to);
                let msg = agentsight_server::notify::message("reports@example.invalid", &email)?;
                write("report.eml", &msg.formatted())?;
                out(&format!("Wrote the report of {key} for agent '{}' into {}", agent.name, dir.display()))
            })
        }
        Command::Agent(AgentCommand::List { data }) => {
            with_config!(data.target()?, |store| {
                out("ID\tNAME\tENVIRONMENTS\tCREATED")?;
                for a in store.list_agents().await? {
                    out(&format!(
                        "{}\t{}\t{}\t{}",
                        a.id,
                        a.name,
                        a.environments.join(","),
                        to_iso(a.created_at)
                    ))?;
                }
                Ok(())
            })
        }
        Command::Key(KeyCommand::Create { agent, role, data }) => {
            with_config!(data.target()?, |store| {
                let agent = find_agent(&store, &agent).await?;
                let role = match role {
                    RoleArg::Write => Role::Write,
                    RoleArg::Read => Role::Read,
                };
                let key = create_key(&store, agent.id, role).await?;
                out(&format!("Created a {} key for agent '{}' (shown once):", role.as_str(), agent.name))?;
                out(&key)
            })
        }
        Command::Key(KeyCommand::List { data }) => {
            with_config!(data.target()?, |store| {
                out("ID\tAGENT\tROLE\tPREFIX\tCREATED\tREVOKED")?;
                for k in store.list_keys().await? {
                    out(&format!(
                        "{}\t{}\t{}\t{}…\t{}\t{}",
                        k.id,
                        k.agent_name,
                        k.role.as_str(),
                        k.prefix,
                        to_iso(k.created_at),
                        k.revoked_at.map(to_iso).unwrap_or_else(|| "-".into())
                    ))?;
                }
                Ok(())
            })
        }
        Command::Key(KeyCommand::Revoke { id, data }) => {
            with_config!(data.target()?, |store| {
                if !store.revoke_key(id, now_micros()).await? {
                    bail!("no active key with id {id}");
                }
                out(&format!("Revoked key {id}."))
            })
        }
        Command::User(cmd) => user_command(cmd).await,
        Command::Prices(PricesCommand::List) => {
            use agentsight_core::prices::{PRICE_TABLE_DATE, PRICE_TABLE_SOURCES, PRICES};
            out(&format!("Price table of {PRICE_TABLE_DATE}, USD per 1M tokens. Sources:"))?;
            for s in PRICE_TABLE_SOURCES {
                out(&format!("  {s}"))?;
            }
            out("MODEL\tINPUT\tOUTPUT\tCACHE_READ\tCACHE_WRITE\tEMBEDDING")?;
            for m in PRICES {
                out(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    m.model,
                    usd_per_million(m.input),
                    usd_per_million(m.output),
                    usd_per_million(m.cache_read),
                    usd_per_million(m.cache_write),
                    usd_per_million(m.embedding)
                ))?;
            }
            Ok(())
        }
        Command::Prices(PricesCommand::Restate { agent, data }) => {
            with_stores!(data.target()?, |stores| {
                let agent = match agent {
                    Some(a) => Some(find_agent(&stores.config, &a).await?),
                    None => None,
                };
                let pricing = agentsight_core::prices::CURRENT;
                let r =
                    stores.events.restate_costs(agent.as_ref().map(|a| a.id), pricing, now_micros()).await?;
                let whose =
                    agent.map(|a| format!("agent '{}'", a.name)).unwrap_or_else(|| "every agent".into());
                out(&format!(
                    "Restated the token costs of {whose} with the price table of {}: {} of {} usage rows changed.",
                    pricing.table_date, r.changed, r.rows
                ))
            })
        }
        Command::Backup(a) => {
            let from = a.data.target()?.sqlite_only(
                "backup",
                "back up PostgreSQL (pg_dump) and ClickHouse (its BACKUP, or a copy of each shard's data) \
                 with their own tools",
            )?;
            let to = a.to;
            let what = format!("backing up {} to {}", from.display(), to.display());
            let report = with_progress(move |p| agentsight_store_sqlite::backup::backup(&from, &to, p))
                .await
                .context(what)?;
            print_report("Backed up", &report)?;
            for key in &report.missing_attachments {
                out(&format!("warning: attachment file {key} was missing from the data dir; not copied"))?;
            }
            Ok(())
        }
        Command::Restore(a) => {
            let to = a.data.target()?.sqlite_only(
                "restore",
                "restore PostgreSQL and ClickHouse with their own tools; a backup of a data dir is served \
                 by `agentsight serve --data-dir`",
            )?;
            let from = a.from;
            let what = format!("restoring {} into {}", from.display(), to.display());
            let report = with_progress(move |p| agentsight_store_sqlite::backup::restore(&from, &to, p))
                .await
                .context(what)?;
            print_report("Restored", &report)
        }
        Command::Migrate(a) => migrate(a).await,
        Command::Demo(a) => {
            let target = a.data.target()?;
            crate::demo::run(
                crate::demo::Options {
                    conversations: a.conversations,
                    days: a.days,
                    agent: a.agent,
                    seed: a.seed,
                    geo_dir: a.geo_dir,
                },
                target,
            )
            .await
        }
    }
}

/// `agentsight migrate`: the data dir into the scale-out deployment.
async fn migrate(a: MigrateArgs) -> anyhow::Result<()> {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;
    let Some(dir) = a.data.data_dir.clone() else {
        bail!("--data-dir DIR names the single box to copy (the data dir its `agentsight serve` used)");
    };
    let target = Target::of(&Given {
        data_dir: None,
        postgres: a.data.postgres.clone(),
        clickhouse: a.data.clickhouse.clone(),
        cluster: a.data.clickhouse_cluster.clone(),
        shards: a.data.clickhouse_shards.clone(),
        batch_ms: a.data.clickhouse_batch_ms,
    })?;
    let Target::ScaleOut(so) = target else {
        bail!(
            "migrate needs the deployment to copy into: --postgres URL --clickhouse URL [--clickhouse-cluster NAME] \
             (or AGENTSIGHT_POSTGRES and AGENTSIGHT_CLICKHOUSE)"
        );
    };
    let terminal = std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(
        Some(0),
        if terminal { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    if let Ok(style) = ProgressStyle::with_template("{msg:32} [{bar:32}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    let opts = crate::migrate::Options {
        data_dir: dir.clone(),
        chunk_rows: usize::try_from(a.chunk_rows).unwrap_or(crate::migrate::DEFAULT_CHUNK_ROWS),
        stop_after_chunks: a.stop_after_chunks,
        stop_in_step: a.stop_in_step,
    };
    let mut shown = |step: &str, agent: i64, done: u64, total: u64| {
        let msg = if agent == 0 { step.to_string() } else { format!("agent {agent} {step}") };
        if terminal {
            bar.set_message(msg);
            bar.set_length(total);
            bar.set_position(done);
        } else {
            eprintln!("migrate: {msg}: {done}/{total}");
        }
    };
    let report = crate::migrate::run(opts, &so, &mut shown).await.with_context(|| {
        format!("copying {} into PostgreSQL and ClickHouse (run it again to resume)", dir.display())
    });
    bar.finish_and_clear();
    let report = report?;
    out(&format!("Copied {} into {}:", dir.display(), Target::ScaleOut(so).describe()))?;
    for (what, n) in &report.copied {
        out(&format!("  {what}\t{n} rows"))?;
    }
    for key in &report.missing_files {
        out(&format!(
            "warning: attachment file {key} was missing from the data dir; its row was not copied"
        ))?;
    }
    out("Done: start `agentsight serve` with the same --postgres and --clickhouse flags on every node.")
}

/// Runs a backup or restore on a blocking thread, showing its progress on stderr when stderr is
/// a terminal.
async fn with_progress<F>(job: F) -> anyhow::Result<agentsight_store_sqlite::backup::BackupReport>
where
    F: FnOnce(
            &mut dyn FnMut(agentsight_store_sqlite::backup::Progress),
        ) -> agentsight_store::StoreResult<agentsight_store_sqlite::backup::BackupReport>
        + Send
        + 'static,
{
    use agentsight_store_sqlite::backup::Progress;
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    if let Ok(style) = ProgressStyle::with_template("{msg:24} [{bar:32}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    let shown = bar.clone();
    let report = tokio::task::spawn_blocking(move || {
        job(&mut |p| {
            let (msg, done, total) = match p {
                Progress::Database { file, done, total } => (format!("{file} (pages)"), done, total),
                Progress::Attachments { done, total } => ("attachments (files)".to_string(), done, total),
            };
            if shown.message() != msg {
                shown.set_message(msg);
            }
            shown.set_length(total);
            shown.set_position(done);
        })
    })
    .await
    .context("the backup thread")?;
    bar.finish_and_clear();
    Ok(report?)
}

/// Prints what a backup or restore wrote.
fn print_report(done: &str, r: &agentsight_store_sqlite::backup::BackupReport) -> anyhow::Result<()> {
    out(&format!(
        "{done} {} conversations, {} messages and {} attachment files ({} bytes):",
        r.conversations, r.messages, r.attachment_files, r.attachment_bytes
    ))?;
    for (path, size) in &r.files {
        out(&format!("  {}\t{size} bytes", path.display()))?;
    }
    Ok(())
}

/// A price in micro-USD per 1M tokens as USD (`0.15`, `2.50`, `0.075`).
fn usd_per_million(micro: i64) -> String {
    let s = format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000);
    let t = s.trim_end_matches('0');
    match t.len() - t.find('.').unwrap_or(0) {
        n if n < 3 => format!("{t}{}", "0".repeat(3 - n)),
        _ => t.to_string(),
    }
}

pub(crate) fn out(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

async fn create_key(store: &impl ConfigStore, agent_id: i64, role: Role) -> anyhow::Result<String> {
    let k = keys::generate();
    store
        .create_key(agent_id, role, k.prefix.clone(), k.hash, now_micros())
        .await
        .context("storing the key")?;
    Ok(k.secret)
}

async fn create_agent_with_key(store: &impl ConfigStore, name: &str) -> anyhow::Result<(AgentRow, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        bail!("an agent name must have 1 to 255 characters");
    }
    let agent = store.create_agent(name.to_string(), now_micros()).await.context("creating the agent")?;
    let key = create_key(store, agent.id, Role::Write).await?;
    Ok((agent, key))
}

pub(crate) async fn find_agent(store: &impl ConfigStore, id_or_name: &str) -> anyhow::Result<AgentRow> {
    let agents = store.list_agents().await?;
    let by_id = id_or_name.parse::<i64>().ok();
    agents
        .into_iter()
        .find(|a| Some(a.id) == by_id || a.name == id_or_name)
        .with_context(|| format!("no agent with id or name '{id_or_name}'"))
}

async fn serve(a: ServeArgs, passed: Option<std::net::TcpListener>) -> anyhow::Result<()> {
    let target = a.data.target()?;
    let data_dir = match &target {
        Target::Sqlite(dir) => {
            if let Some(dir) = &a.attachments_dir {
                bail!(
                    "--attachments-dir ({}) is for scale-out (--postgres and --clickhouse); the embedded \
                     store keeps attachment files in <data-dir>/attachments, where backups find them",
                    dir.display()
                );
            }
            dir.clone()
        }
        Target::ScaleOut(_) => {
            if a.no_fsync {
                bail!(
                    "--no-fsync applies to the embedded SQLite store only, not to --postgres and --clickhouse"
                );
            }
            // The node keeps nothing in a data dir: attachment bytes go to PostgreSQL, or to
            // --attachments-dir when given (the only path the server then uses).
            a.attachments_dir.clone().unwrap_or_default()
        }
    };
    let settings = Settings {
        listen: a.listen,
        data_dir: data_dir.clone(),
        attachments_dir: a.attachments_dir.clone(),
        fsync: !a.no_fsync,
        max_body_bytes: a.max_body_bytes,
        max_attachment_bytes: a.max_attachment_bytes,
        geo_dir: a.geo_dir.clone(),
        store_ip: a.store_ip,
        metrics_index: a.metrics_index,
        ingest_rate: a.ingest_rate,
        ingest_burst: a.ingest_burst,
        header_read_timeout: std::time::Duration::from_secs(a.header_timeout),
        max_connections: a.max_connections,
        shutdown_timeout: std::time::Duration::from_secs(a.shutdown_timeout),
        public_url: a.public_url.clone(),
        trusted_proxies: a.trusted_proxies.clone(),
        retention_interval: std::time::Duration::from_secs(a.retention_interval),
        prometheus_token: a.prometheus_token.clone(),
        alert_interval: std::time::Duration::from_secs(a.alert_interval),
        notify_retry_base: std::time::Duration::from_secs(a.notify_retry_base),
        notify_stale_after: std::time::Duration::from_secs(a.notify_stale_after),
        notify_ca_file: a.notify_ca_file.clone(),
        notify_insecure_tls: a.notify_insecure_tls,
        ..Settings::new(&data_dir)
    };
    let located = target.describe();
    match target {
        Target::Sqlite(_) => {
            let enrich = agentsight_server::app::enrichment(&settings);
            let stores = crate::backend::start(&settings, &enrich).await?;
            run_serve(a, settings, stores, enrich, passed, None, &located).await
        }
        Target::ScaleOut(so) => {
            let enrich = crate::backend::scale_out_enrichment(&settings);
            let stores = so.stores().await?;
            let blobs: Option<std::sync::Arc<dyn agentsight_store::BlobStore>> = match &a.attachments_dir {
                Some(_) => None,
                None => Some(std::sync::Arc::new(stores.events.blobs())),
            };
            run_serve(a, settings, stores, enrich, passed, blobs, &located).await
        }
    }
}

/// Serves on the stores the binary opened (SQLite, or PostgreSQL and ClickHouse), until
/// SIGTERM or SIGINT; `located` says where the data is, for the start-up line.
async fn run_serve<C: ConfigStore, E: EventStore>(
    a: ServeArgs,
    settings: Settings,
    stores: Stores<C, E>,
    enrich: agentsight_core::tracking::Enrichment,
    passed: Option<std::net::TcpListener>,
    blobs: Option<std::sync::Arc<dyn agentsight_store::BlobStore>>,
    located: &str,
) -> anyhow::Result<()> {
    let activated = passed.is_some();
    let app = App::build_on(settings, stores, enrich, passed, blobs).await.context("starting the server")?;
    let url = format!("http://{}", app.local_addr());
    if app.config().list_agents().await?.is_empty() {
        match create_agent_with_key(app.config(), "default").await {
            Ok((agent, key)) => {
                out(&format!(
                    "Created the first agent '{}' (id {}) and a write key for it (shown once).",
                    agent.name, agent.id
                ))?;
                out("Point the AgentSight SDK at this server:")?;
                // Behind a proxy the SDK reaches the public address, not the loopback one.
                let endpoint = a.public_url.as_deref().unwrap_or(&url);
                out(&format!("  export AGENTSIGHT_API_ENDPOINT={endpoint}"))?;
                out(&format!("  export AGENTSIGHT_API_KEY={key}"))?;
            }
            // Another node sharing the configuration created it at the same moment.
            Err(e) if matches!(e.downcast_ref::<StoreError>(), Some(StoreError::Conflict { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(token) = app.setup_token() {
        let base = a.public_url.as_deref().unwrap_or(&url);
        out(&format!(
            "No dashboard admin yet. Open {base}/setup?token={token} to create the first admin account"
        ))?;
        out(&format!(
            "(the link works once, for {} hours, until the server restarts; or run `agentsight user create EMAIL --role admin`).",
            agentsight_core::dashboard::SETUP_TOKEN_TTL_MICROS / 3_600_000_000
        ))?;
    }
    let socket = if activated { "the socket systemd passed in (fd 3)" } else { "--listen" };
    out(&format!("AgentSight listening on {url} ({located})"))?;
    tracing::info!(%url, socket, "listening");
    if !a.trusted_proxies.is_empty() {
        let proxies: Vec<String> = a.trusted_proxies.iter().map(ToString::to_string).collect();
        tracing::info!(trusted_proxies = %proxies.join(","), "X-Forwarded-* believed from these peers only");
    }
    let drained = app.run_until_stopped(shutdown_signal(a.shutdown_timeout)).await.context("serving")?;
    if drained.cut > 0 {
        tracing::warn!(
            cut = drained.cut,
            "stopped: every write committed; {} connection(s) still open at --shutdown-timeout were cut",
            drained.cut
        );
    } else {
        tracing::info!(
            connections_drained = drained.open,
            "stopped cleanly: every request finished, every write committed"
        );
    }
    Ok(())
}

/// Resolves at the first SIGTERM (systemd's stop) or SIGINT (Ctrl-C), saying which.
async fn shutdown_signal(timeout_s: u64) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    let signal = tokio::select! {
        () = ctrl_c => "SIGINT",
        () = term => "SIGTERM",
    };
    tracing::info!(
        signal,
        "shutting down: accepting no new connections; requests in flight finish (at most {timeout_s} s)"
    );
}

#[cfg(test)]
mod tests {
    use super::usd_per_million;

    #[test]
    fn prices_per_million_tokens_read_as_dollars_and_cents() {
        let cases =
            [(150_000, "0.15"), (2_500_000, "2.50"), (75_000, "0.075"), (0, "0.00"), (10_000_000, "10.00")];
        for (micro, usd) in cases {
            assert_eq!(usd_per_million(micro), usd, "{micro}");
        }
    }
}
