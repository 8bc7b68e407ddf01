//! Running Lyceum's services: one of them (`--target lms`), or all in one process (the
//! embedded default: SQLite files and the in-process bus; the services still talk gRPC to
//! each other on loopback).

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use lyceum_config::Config;
use lyceum_server::{Listener, Platform};
use tokio_util::sync::CancellationToken;

pub mod probe;

/// Which service(s) a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Every service in this process.
    All,
    /// The LMS.
    Lms,
    /// The LXP.
    Lxp,
    /// The LRS.
    Lrs,
    /// The API gateway.
    Gateway,
}

impl Target {
    /// The name used in logs and traces.
    pub fn name(self) -> &'static str {
        match self {
            Target::All => "lyceum",
            Target::Lms => "lyceum-lms",
            Target::Lxp => "lyceum-lxp",
            Target::Lrs => "lyceum-lrs",
            Target::Gateway => "lyceum-gateway",
        }
    }
}

/// Pre-bound listeners of the all-in-one mode.
pub struct AllListeners {
    /// LMS (gRPC + health).
    pub lms: Listener,
    /// LXP (gRPC + health).
    pub lxp: Listener,
    /// LRS (xAPI HTTP, gRPC, health).
    pub lrs: Listener,
    /// Gateway (REST, /xapi).
    pub gateway: Listener,
}

impl AllListeners {
    /// Binds every service's configured address.
    pub async fn bind(config: &Config) -> anyhow::Result<AllListeners> {
        Ok(AllListeners {
            lms: bind(config.lms.addr).await?,
            lxp: bind(config.lxp.addr).await?,
            lrs: bind(config.lrs.addr).await?,
            gateway: bind(config.gateway.addr).await?,
        })
    }

    /// Binds every service to a free loopback port (tests).
    pub async fn ephemeral() -> anyhow::Result<AllListeners> {
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        Ok(AllListeners {
            lms: bind(any).await?,
            lxp: bind(any).await?,
            lrs: bind(any).await?,
            gateway: bind(any).await?,
        })
    }
}

/// Binds `addr`, saying which address failed.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<Listener> {
    Listener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Runs every service in this process until `shutdown`; the gateway reaches the others at
/// their bound addresses. If one service fails, the others are stopped too.
pub async fn run_all(
    mut config: Config,
    listeners: AllListeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.gateway.lms_url = format!("http://{}", listeners.lms.local_addr()?);
    config.gateway.lxp_url = format!("http://{}", listeners.lxp.local_addr()?);
    config.gateway.lrs_url = format!("http://{}", listeners.lrs.local_addr()?);
    let platform = Platform::from_config(config, Target::All.name()).await?;
    let stop = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let signal = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        signal.cancel();
    });
    {
        let (p, s) = (platform.clone(), stop.clone());
        tasks.spawn(async move {
            (
                "lms",
                lyceum_lms::run(p, listeners.lms, s.cancelled_owned())
                    .await
                    .map_err(anyhow::Error::from),
            )
        });
        let (p, s) = (platform.clone(), stop.clone());
        tasks.spawn(async move {
            (
                "lxp",
                lyceum_lxp::run(p, listeners.lxp, s.cancelled_owned())
                    .await
                    .map_err(anyhow::Error::from),
            )
        });
        let (p, s) = (platform.clone(), stop.clone());
        tasks.spawn(async move {
            (
                "lrs",
                lyceum_lrs::run(p, listeners.lrs, s.cancelled_owned())
                    .await
                    .map_err(anyhow::Error::from),
            )
        });
        let (p, s) = (platform.clone(), stop.clone());
        tasks.spawn(async move {
            (
                "gateway",
                lyceum_gateway::run(p, listeners.gateway, s.cancelled_owned())
                    .await
                    .map_err(anyhow::Error::from),
            )
        });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let (name, result) = joined.context("a service task panicked")?;
        if let Err(e) = result {
            tracing::error!(service = name, error = %e, "service failed; stopping the others");
            stop.cancel();
            first_error.get_or_insert(e.context(format!("{name} failed")));
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Runs one service until `shutdown`.
pub async fn run_target(
    target: Target,
    config: Config,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if config.nats_url.is_none() {
        anyhow::bail!(
            "{} alone needs LYCEUM_NATS_URL: the in-process bus only connects services of one process (use --target all)",
            target.name()
        );
    }
    let platform = Platform::from_config(config, target.name()).await?;
    match target {
        Target::Lms => lyceum_lms::run(platform, listener, shutdown).await?,
        Target::Lxp => lyceum_lxp::run(platform, listener, shutdown).await?,
        Target::Lrs => lyceum_lrs::run(platform, listener, shutdown).await?,
        Target::Gateway => lyceum_gateway::run(platform, listener, shutdown).await?,
        Target::All => anyhow::bail!("use run_all for --target all"),
    }
    Ok(())
}

/// The listen address of one service.
pub fn addr_of(target: Target, config: &Config) -> SocketAddr {
    match target {
        Target::Lms => config.lms.addr,
        Target::Lxp => config.lxp.addr,
        Target::Lrs => config.lrs.addr,
        Target::Gateway | Target::All => config.gateway.addr,
    }
}

/// Applies the migrations of one service's database and returns.
pub async fn migrate(target: Target, config: Config) -> anyhow::Result<()> {
    let platform = Platform::for_maintenance(config);
    match target {
        Target::Lms => {
            lyceum_lms::open_store(&platform).await?.close().await;
        }
        Target::Lxp => {
            lyceum_lxp::open_store(&platform).await?.close().await;
        }
        Target::Lrs => {
            lyceum_lrs::open_store(&platform).await?.close().await;
        }
        Target::Gateway | Target::All => anyhow::bail!("migrate needs --target lms, lxp or lrs"),
    }
    Ok(())
}
