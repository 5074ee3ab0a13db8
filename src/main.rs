use callback_operator::cli::{Cli, Command};
use clap::Parser;

mod allocator;

#[tokio::main]
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
