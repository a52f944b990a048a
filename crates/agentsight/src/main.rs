//! The `agentsight` binary: parses the command line, sets up logging, runs the command.

mod backend;
mod check;
mod cli;
mod demo;
mod migrate;
mod notify_cli;

use clap::Parser;

/// mimalloc instead of the system allocator: the server allocates on its HTTP threads and frees
/// on the writer thread (and back), which glibc's arenas handle poorly (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the command; an error is printed with its chain of causes (`error: what: why: …`), then
/// what to do about it when the error says (`next: …`), and the process exits with status 1.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(step) = e.downcast_ref::<backend::NextStep>() {
                eprintln!("next: {}", step.next);
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    init_logging(args.log_format());
    // Before the runtime's threads start: taking a socket passed in unsets LISTEN_FDS and
    // LISTEN_PID, and the environment must not change while another thread may read it.
    let passed = if args.is_serve() { cli::passed_listener()? } else { None };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.worker_threads())
        .thread_name("agentsight-http")
        .enable_all()
        .build()?;
    runtime.block_on(cli::run(args, passed))
}

/// Logs to stderr, filtered by `AGENTSIGHT_LOG` (default `info`, PostgreSQL's notices left
/// out), as text or JSON lines. Colour
/// codes only when stderr is a terminal and `NO_COLOR` is unset or empty: a pipe, a file or a
/// journal gets plain text.
fn init_logging(format: cli::LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGENTSIGHT_LOG")
        // tokio-postgres logs the server's notices at info ("relation … already exists,
        // skipping" at every start of a scale-out node): warnings and up only.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn"));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = std::io::stderr().is_terminal() && !no_color;
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        cli::LogFormat::Text => builder.init(),
        cli::LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).init(),
    }
}
