//! `palisade-verifier`: the verifier and registrar daemon. Wiring only.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use palisade_verifier::{app, config::Config};

#[derive(Debug, Parser)]
#[command(
    name = "palisade-verifier",
    version,
    about = "Enrols palisade agents and attests them"
)]
struct Cli {
    /// Configuration file (TOML); `PALISADE_VERIFIER_*` environment variables override it.
    #[arg(long, short, env = "PALISADE_VERIFIER_CONFIG")]
    config: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    palisade_transport::logging::init();
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref(), std::env::vars())
        .context("loading the configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        app::start(config, async move {
            let _ = rx.await;
        })
        .await?;
        shutdown_signal().await;
        let _ = tx.send(());
        tracing::info!("shutting down");
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
