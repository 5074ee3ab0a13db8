use callback_operator::cli::{Cli, Command};
use clap::Parser;

mod allocator;

/// One thread runs everything. Why: the operator mostly waits (on the apiserver and the providers); at the burst of
/// 10,000 new registrations it used a fifth of one core while the apiserver saturated two. A multi-threaded runtime,
/// even with its one worker, spent a fifth of the operator's CPU handing work between that worker and the main thread
/// (docs/benchmark.md, fourteenth session). Throughput beyond one process is sharding's job (docs/scaling.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", callback_operator::api::crd_yaml());
            Ok(())
        }
        Command::Run(args) => allocator::returning_freed_memory(callback_operator::operator::run(*args)).await,
        Command::Plan(args) => {
            let code = callback_operator::commands::plan(*args).await?;
            std::process::exit(code)
        }
        Command::Import(args) => callback_operator::commands::import(*args).await,
    }
}
