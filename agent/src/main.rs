//! `palisade-agent`: the host daemon. CLI definition and wiring only; the logic is the library.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use palisade_agent::{app, config::Config};

#[derive(Debug, Parser)]
#[command(
    name = "palisade-agent",
    version,
    about = "Measures the firewall into a dedicated TPM PCR and serves quotes"
)]
struct Cli {
    /// Configuration file (TOML); `PALISADE_AGENT_*` environment variables override it.
    #[arg(long, short, env = "PALISADE_AGENT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent (the default).
    Run,
    /// Check the configuration and print it.
    CheckConfig,
}

fn main() -> anyhow::Result<()> {
    palisade_transport::logging::init();
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref(), std::env::vars())
        .context("loading the configuration")?;
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => {
            println!("{config:#?}");
            Ok(())
        }
        Command::Run => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(app::run(config, app::shutdown_signal()))?;
            Ok(())
        }
    }
}
