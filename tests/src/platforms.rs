//! The platform started in-process for tests, in its two modes:
//! - [`Embedded`]: `lyceum serve` as `make run` starts it — every service in one process,
//!   SQLite files, the in-process bus, gRPC between services on loopback;
//! - [`Microservices`]: each service with its own settings, its own PostgreSQL database, its
//!   own NATS connection (a real `nats-server`), keys from PEM files like a deployment.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use lyceum::AllListeners;
use lyceum_config::Config;
use lyceum_testkit::{NatsServer, TestDatabase};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::eventually;
use crate::http::Http;
use crate::journey::Credentials;

const ADMIN_EMAIL: &str = "admin@journey.test";
const ADMIN_PASSWORD: &str = "journey-admin-password";
const XAPI_CLIENT: &str = "journey-client:journey-secret";
const PUBLIC_URL: &str = "http://lyceum.journey.test";

fn credentials() -> Credentials {
    Credentials {
        admin_email: ADMIN_EMAIL.into(),
        admin_password: ADMIN_PASSWORD.into(),
        xapi_client: XAPI_CLIENT.into(),
    }
}

fn base_config(data_dir: &Path) -> Config {
    Config {
        data_dir: data_dir.to_path_buf(),
        public_url: PUBLIC_URL.into(),
        shutdown_grace_secs: 5,
        admin: lyceum_config::AdminConfig {
            email: Some(ADMIN_EMAIL.into()),
            password: Some(ADMIN_PASSWORD.into()),
        },
        lrs: lyceum_config::LrsConfig {
            bootstrap_client: Some(XAPI_CLIENT.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn wait_ready(http: &Http) -> anyhow::Result<()> {
    eventually("the gateway is ready", Duration::from_secs(30), || async {
        let r = http.send(http::Method::GET, "/readyz", &[], None).await?;
        Ok(r.status.is_success().then_some(()))
    })
    .await
}

/// The embedded platform in this process.
pub struct Embedded {
    /// Client of the gateway.
    pub http: Http,
    /// How to sign in.
    pub creds: Credentials,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    /// The data directory (SQLite files, generated key).
    pub dir: tempfile::TempDir,
}

impl Embedded {
    /// Starts every service on free loopback ports with SQLite files in a temp dir.
    pub async fn start() -> anyhow::Result<Embedded> {
        Self::start_with(|_| {}).await
    }

    /// Like [`Embedded::start`], with settings adjusted by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> anyhow::Result<Embedded> {
        let dir = tempfile::tempdir()?;
        Self::start_in(dir, adjust).await
    }

    /// Starts on an existing data directory (a restart keeps the SQLite files and the key).
    pub async fn start_in(
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Embedded> {
        let mut config = base_config(dir.path());
        adjust(&mut config);
        let listeners = AllListeners::ephemeral().await?;
        let gateway = listeners.gateway.local_addr()?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(lyceum::run_all(
            config,
            listeners,
            stop.clone().cancelled_owned(),
        ));
        let http = Http::new(format!("http://{gateway}"));
        wait_ready(&http).await?;
        Ok(Embedded {
            http,
            creds: credentials(),
            stop,
            task,
            dir,
        })
    }

    /// Stops gracefully and reports how it ended.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop_keeping_data().await.map(|_| ())
    }

    /// Stops gracefully and hands back the data directory, for a restart.
    pub async fn stop_keeping_data(self) -> anyhow::Result<tempfile::TempDir> {
        self.stop.cancel();
        self.task.await.context("platform task")??;
        Ok(self.dir)
    }
}

/// Where each service of the microservices platform listens.
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    /// The LMS.
    pub lms: SocketAddr,
    /// The LXP.
    pub lxp: SocketAddr,
    /// The LRS.
    pub lrs: SocketAddr,
    /// The gateway.
    pub gateway: SocketAddr,
}

/// The microservices platform: four services, three PostgreSQL databases, one NATS server.
pub struct Microservices {
    /// Client of the gateway.
    pub http: Http,
    /// Each service's address.
    pub addrs: Addrs,
    /// How to sign in.
    pub creds: Credentials,
    /// The NATS server (tests may stop and restart it).
    pub nats: NatsServer,
    services: Vec<(
        &'static str,
        CancellationToken,
        JoinHandle<anyhow::Result<()>>,
    )>,
    _databases: Vec<TestDatabase>,
    _dir: tempfile::TempDir,
}

impl Microservices {
    /// Starts the services; `None` (skipped) when PostgreSQL or NATS is missing outside CI.
    pub async fn start() -> anyhow::Result<Option<Microservices>> {
        let Some(nats) = NatsServer::start() else {
            return Ok(None);
        };
        let mut databases = Vec::new();
        for _ in 0..3 {
            match TestDatabase::postgres().await {
                Some(db) => databases.push(db),
                None => return Ok(None),
            }
        }
        let dir = tempfile::tempdir()?;
        let pair = lyceum_auth::keys::generate();
        let private = dir.path().join("jwt-private.pem");
        let public = dir.path().join("jwt-public.pem");
        std::fs::write(&private, lyceum_auth::keys::private_pem(&pair))?;
        std::fs::write(&public, lyceum_auth::keys::public_pem(&pair.public))?;

        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        let (lms, lxp, lrs, gw) = (
            lyceum::bind(any).await?,
            lyceum::bind(any).await?,
            lyceum::bind(any).await?,
            lyceum::bind(any).await?,
        );
        let mut base = base_config(dir.path());
        base.nats_url = Some(nats.url());
        base.jwt.public_key_file = Some(public);
        base.gateway.lms_url = format!("http://{}", lms.local_addr()?);
        base.gateway.lxp_url = format!("http://{}", lxp.local_addr()?);
        base.gateway.lrs_url = format!("http://{}", lrs.local_addr()?);
        let addrs = Addrs {
            lms: lms.local_addr()?,
            lxp: lxp.local_addr()?,
            lrs: lrs.local_addr()?,
            gateway: gw.local_addr()?,
        };

        let mut services = Vec::new();
        let mut start = |name: &'static str, target: lyceum::Target, config: Config, listener| {
            let stop = CancellationToken::new();
            let task = tokio::spawn(lyceum::run_target(
                target,
                config,
                listener,
                stop.clone().cancelled_owned(),
            ));
            services.push((name, stop, task));
        };
        let mut c = base.clone();
        c.lms.database_url = Some(databases[0].url().to_string());
        start("lms", lyceum::Target::Lms, c, lms);
        let mut c = base.clone();
        c.lxp.database_url = Some(databases[1].url().to_string());
        start("lxp", lyceum::Target::Lxp, c, lxp);
        let mut c = base.clone();
        c.lrs.database_url = Some(databases[2].url().to_string());
        start("lrs", lyceum::Target::Lrs, c, lrs);
        let mut c = base.clone();
        c.jwt.private_key_file = Some(private);
        start("gateway", lyceum::Target::Gateway, c, gw);

        let http = Http::new(format!("http://{}", addrs.gateway));
        wait_ready(&http).await?;
        Ok(Some(Microservices {
            http,
            addrs,
            creds: credentials(),
            nats,
            services,
            _databases: databases,
            _dir: dir,
        }))
    }

    /// Stops every service gracefully; fails if any of them failed.
    pub async fn stop(self) -> anyhow::Result<()> {
        for (_, stop, _) in &self.services {
            stop.cancel();
        }
        for (name, _, task) in self.services {
            task.await
                .with_context(|| format!("{name} task"))?
                .with_context(|| format!("{name} failed"))?;
        }
        Ok(())
    }
}
