//! `palisade-agent`: the host daemon and its operator tools. CLI definition and wiring only; the
//! logic is the library.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use palisade_agent::inspect::{self, FirewallFormat, NetworkFormat, RuntimeFormat, RuntimeObject};
use palisade_agent::watch::{self, WatchFormat, WatchSource};
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
    /// Show what the agent measures, read now (needs no TPM and no configuration).
    #[command(subcommand)]
    Inspect(Inspect),
    /// Print changes live (nftables commits, and BPF, socket, routing and firewall writes seen
    /// by eBPF), with the pid and name of the process that made each one.
    Watch {
        #[command(flatten)]
        netns: NetNsArg,
        /// Which events.
        #[arg(long, value_enum, default_value_t)]
        source: WatchSource,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: WatchFormat,
        /// Exit after this many events.
        #[arg(long)]
        count: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
enum Inspect {
    /// The nftables ruleset in canonical form.
    Firewall {
        #[command(flatten)]
        netns: NetNsArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: FirewallFormat,
    },
    /// The network configuration (links, addresses, routes, rules, sysctls) in canonical form.
    Network {
        #[command(flatten)]
        netns: NetNsArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: NetworkFormat,
    },
    /// The runtime inventory: BPF programs and attachments, sockets, kernel modules and sysctls.
    Runtime {
        #[command(flatten)]
        netns: NetNsArg,
        /// Only this part.
        #[arg(long, value_enum)]
        object: Option<RuntimeObject>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: RuntimeFormat,
    },
}

#[derive(Debug, Args)]
struct NetNsArg {
    /// Network namespace: a name from `ip netns` or a path (default: this process's own).
    #[arg(long)]
    netns: Option<String>,
}

impl NetNsArg {
    fn get(&self) -> palisade_collectors::NetNs {
        inspect::netns_arg(self.netns.as_deref())
    }
}

fn main() -> anyhow::Result<()> {
    palisade_transport::logging::init();
    let cli = Cli::parse();
    let load = || {
        Config::load(cli.config.as_deref(), std::env::vars()).context("loading the configuration")
    };
    let mut stdout = std::io::stdout().lock();
    match cli.command.as_ref().unwrap_or(&Command::Run) {
        Command::CheckConfig => {
            println!("{:#?}", load()?);
            Ok(())
        }
        Command::Inspect(Inspect::Firewall { netns, format }) => {
            inspect::firewall(&netns.get(), *format, &mut stdout)?;
            Ok(())
        }
        Command::Inspect(Inspect::Network { netns, format }) => {
            inspect::network(&netns.get(), *format, &mut stdout)?;
            Ok(())
        }
        Command::Inspect(Inspect::Runtime {
            netns,
            object,
            format,
        }) => {
            inspect::runtime(&netns.get(), *object, *format, &mut stdout)?;
            Ok(())
        }
        Command::Watch {
            netns,
            source,
            format,
            count,
        } => {
            watch::watch(&netns.get(), *source, *format, *count, &mut stdout)?;
            Ok(())
        }
        Command::Run => {
            let config = load()?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(app::run(config, app::shutdown_signal()))?;
            Ok(())
        }
    }
}
