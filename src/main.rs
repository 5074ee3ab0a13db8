use callback_operator::cli::{Cli, Command};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", callback_operator::api::crd_yaml());
            Ok(())
        }
        Command::Run(args) => callback_operator::operator::run(*args).await,
    }
}
