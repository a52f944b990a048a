//! The `agentsight` binary: parses the command line, sets up logging, runs the command.

mod backend;
mod cli;
mod demo;

use clap::Parser;

/// mimalloc instead of the system allocator: the server allocates on its HTTP threads and frees
/// on the writer thread (and back), which glibc's arenas handle poorly (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the command; an error is printed with its chain of causes (`error: what: why: …`) and
/// the process exits with status 1.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AGENTSIGHT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.worker_threads())
        .thread_name("agentsight-http")
        .enable_all()
        .build()?;
    runtime.block_on(cli::run(args))
}
