//! The handle every service runs with: settings, the event bus, and the token keys.

use std::sync::Arc;
use std::time::Duration;

use lyceum_auth::keys::{self, KeyError};
use lyceum_auth::{TokenSigner, TokenVerifier};
use lyceum_bus::{BusError, EventBus, MemoryBus, NatsBus, NatsSettings};
use lyceum_config::Config;

/// Why the platform cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Token keys are missing or unreadable.
    #[error("token keys: {0}")]
    Keys(#[from] KeyError),
    /// The bus cannot be set up.
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Settings, bus and keys, shared by the services of one process. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Platform {
    /// Settings.
    pub config: Arc<Config>,
    /// The event bus.
    pub bus: EventBus,
    /// Verifies tokens.
    pub verifier: TokenVerifier,
    /// Signs tokens; present where the private key is (the gateway, the embedded mode).
    pub signer: Option<TokenSigner>,
}

impl Platform {
    /// Builds the platform from settings: NATS when `nats_url` is set (else the in-process
    /// bus), keys from the configured PEM files (else generated once under the data directory).
    pub async fn from_config(config: Config, client_name: &str) -> Result<Platform, PlatformError> {
        let bus = match &config.nats_url {
            Some(url) => {
                EventBus::Nats(NatsBus::connect(NatsSettings::new(url, client_name)).await?)
            }
            None => EventBus::Memory(MemoryBus::new()),
        };
        Self::with_bus(config, bus)
    }

    /// Builds the platform on a given bus.
    pub fn with_bus(config: Config, bus: EventBus) -> Result<Platform, PlatformError> {
        let jwt = &config.jwt;
        let (pair, public) = match (&jwt.private_key_file, &jwt.public_key_file) {
            (Some(private), public_file) => {
                let pair = keys::load_private(private)?;
                let public = match public_file {
                    Some(p) => keys::load_public(p)?,
                    None => pair.public.clone(),
                };
                (Some(pair), public)
            }
            (None, Some(public_file)) => (None, keys::load_public(public_file)?),
            (None, None) => {
                let pair = keys::load_or_generate(&config.data_dir)?;
                let public = pair.public.clone();
                (Some(pair), public)
            }
        };
        let ttl = Duration::from_secs(jwt.ttl_secs);
        Ok(Platform {
            verifier: TokenVerifier::new(&public, &jwt.issuer),
            signer: pair.map(|p| TokenSigner::new(&p, &jwt.issuer, ttl)),
            bus,
            config: Arc::new(config),
        })
    }

    /// A platform for one-off maintenance (migrations): in-process bus, a throwaway key, nothing
    /// written to disk.
    pub fn for_maintenance(config: Config) -> Platform {
        let pair = keys::generate();
        Platform {
            verifier: TokenVerifier::new(&pair.public, &config.jwt.issuer),
            signer: None,
            bus: EventBus::Memory(MemoryBus::new()),
            config: Arc::new(config),
        }
    }

    /// How long in-flight work may take at shutdown.
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.config.shutdown_grace_secs)
    }

    /// A readiness check of the bus.
    pub fn bus_check(&self) -> crate::Check {
        let bus = self.bus.clone();
        Arc::new(move || {
            let bus = bus.clone();
            Box::pin(async move {
                if bus.is_ready().await {
                    Ok(())
                } else {
                    Err(format!("{} bus unreachable", bus.kind()))
                }
            })
        })
    }

    /// A readiness check of a database.
    pub fn store_check(store: &lyceum_store::Store) -> crate::Check {
        let store = store.clone();
        Arc::new(move || {
            let store = store.clone();
            Box::pin(async move { store.ping().await.map_err(|e| e.to_string()) })
        })
    }
}
