use callback_operator::cli::{Cli, Command};
use clap::Parser;

/// mimalloc returns freed pages to the OS and fragments less than glibc's per-thread arenas under the burst of
/// short-lived allocations a large initial sync makes, which keeps resident memory close to the live heap.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", callback_operator::api::crd_yaml());
            Ok(())
        }
        Command::Run(args) => callback_operator::operator::run(*args).await,
        Command::Plan(args) => {
            let code = callback_operator::commands::plan(*args).await?;
            std::process::exit(code)
        }
        Command::Import(args) => callback_operator::commands::import(*args).await,
    }
}
