//! Lyceum's settings, from (later wins): built-in defaults, a TOML file (`--config` or
//! `LYCEUM_CONFIG`), `LYCEUM_*` environment variables, command-line flags.
//!
//! Environment names follow the file's sections: `LYCEUM_LMS_DATABASE_URL` is `[lms]
//! database_url`, `LYCEUM_PUBLIC_URL` is the top-level `public_url`. [`ENV_VARS`] lists them
//! all; `docs/configuration.md` documents them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
pub use figment::value::Value;
use serde::{Deserialize, Serialize};

pub use lyceum_telemetry::{LogFormat, LogSettings};

/// A settings error: names the setting and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading or parsing a source failed.
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value is out of range or inconsistent.
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Every setting of the platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for SQLite files and generated keys (`LYCEUM_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The platform's public base URL: the gateway as users reach it; also the xAPI
    /// `account.homePage` of platform people and the base of activity ids (`LYCEUM_PUBLIC_URL`).
    pub public_url: String,
    /// NATS URL (`LYCEUM_NATS_URL`); unset: the in-process bus (all services in one process).
    pub nats_url: Option<String>,
    /// Seed demo people and courses on start (`LYCEUM_DEMO`).
    pub demo: bool,
    /// Largest accepted request body in bytes (`LYCEUM_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// How long in-flight requests may take to finish at shutdown, seconds
    /// (`LYCEUM_SHUTDOWN_GRACE_SECS`).
    pub shutdown_grace_secs: u64,
    /// Logging (`LYCEUM_LOG_FILTER`, `LYCEUM_LOG_FORMAT`).
    pub log: LogSettings,
    /// Token signing and verification.
    pub jwt: JwtConfig,
    /// The first administrator.
    pub admin: AdminConfig,
    /// The API gateway.
    pub gateway: GatewayConfig,
    /// The LMS service.
    pub lms: ServiceConfig,
    /// The LXP service.
    pub lxp: ServiceConfig,
    /// The LRS service.
    pub lrs: LrsConfig,
}

/// JWT settings (`LYCEUM_JWT_*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    /// PEM file with the Ed25519 private key (PKCS#8) the gateway signs with. Unset in the
    /// embedded mode: a key is generated once under the data directory.
    pub private_key_file: Option<PathBuf>,
    /// PEM file with the Ed25519 public key services verify with; unset: derived from the
    /// private key.
    pub public_key_file: Option<PathBuf>,
    /// `iss` of issued tokens, checked on verification.
    pub issuer: String,
    /// Token lifetime in seconds, at most 3600.
    pub ttl_secs: u64,
}

/// The administrator created on first start (`LYCEUM_ADMIN_EMAIL`, `LYCEUM_ADMIN_PASSWORD`).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// E-mail; unset: no administrator is created.
    pub email: Option<String>,
    /// Password, at least 8 characters.
    pub password: Option<String>,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("email", &self.email)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The gateway (`LYCEUM_GATEWAY_*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Listen address.
    pub addr: SocketAddr,
    /// Where the LMS is (gRPC).
    pub lms_url: String,
    /// Where the LXP is (gRPC).
    pub lxp_url: String,
    /// Where the LRS is (gRPC and xAPI HTTP).
    pub lrs_url: String,
}

/// A service with a database (`LYCEUM_LMS_*`, `LYCEUM_LXP_*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Listen address (gRPC and HTTP on one port).
    pub addr: SocketAddr,
    /// `postgres://...` or `sqlite://...`; unset: a SQLite file under the data directory.
    pub database_url: Option<String>,
    /// Database pool size.
    pub database_max_connections: u32,
}

/// The LRS (`LYCEUM_LRS_*`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LrsConfig {
    /// Listen address (gRPC and xAPI HTTP on one port).
    pub addr: SocketAddr,
    /// `postgres://...` or `sqlite://...`; unset: a SQLite file under the data directory.
    pub database_url: Option<String>,
    /// Database pool size.
    pub database_max_connections: u32,
    /// An xAPI client created (or kept up to date) at start, `key:secret`, with scope `all`.
    pub bootstrap_client: Option<String>,
}

impl std::fmt::Debug for LrsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LrsConfig")
            .field("addr", &self.addr)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("database_max_connections", &self.database_max_connections)
            .field(
                "bootstrap_client",
                &self
                    .bootstrap_client
                    .as_deref()
                    .map(|c| format!("{}:***", c.split(':').next().unwrap_or(""))),
            )
            .finish()
    }
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s && url[s + 3..at].contains(':') => {
            let user = &url[s + 3..at];
            let user = &user[..user.find(':').unwrap_or(user.len())];
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            public_url: "http://127.0.0.1:8080".into(),
            nats_url: None,
            demo: false,
            max_body_bytes: 16 * 1024 * 1024,
            shutdown_grace_secs: 20,
            log: LogSettings::default(),
            jwt: JwtConfig::default(),
            admin: AdminConfig::default(),
            gateway: GatewayConfig::default(),
            lms: ServiceConfig::on(50051),
            lxp: ServiceConfig::on(50052),
            lrs: LrsConfig::default(),
        }
    }
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            private_key_file: None,
            public_key_file: None,
            issuer: "lyceum".into(),
            ttl_secs: 900,
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            addr: addr(8080),
            lms_url: "http://127.0.0.1:50051".into(),
            lxp_url: "http://127.0.0.1:50052".into(),
            lrs_url: "http://127.0.0.1:50053".into(),
        }
    }
}

impl ServiceConfig {
    fn on(port: u16) -> Self {
        Self {
            addr: addr(port),
            database_url: None,
            database_max_connections: 10,
        }
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self::on(0)
    }
}

impl Default for LrsConfig {
    fn default() -> Self {
        Self {
            addr: addr(50053),
            database_url: None,
            database_max_connections: 16,
            bootstrap_client: None,
        }
    }
}

/// The sections of the file; `LYCEUM_<SECTION>_<KEY>` maps to `[section] key`.
const SECTIONS: &[&str] = &["log", "jwt", "admin", "gateway", "lms", "lxp", "lrs"];

/// Every environment variable Lyceum reads, with its meaning (the configuration reference).
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "LYCEUM_CONFIG",
        "TOML file with settings (read before the environment)",
    ),
    (
        "LYCEUM_DATA_DIR",
        "directory for SQLite files and generated keys (default ./data)",
    ),
    (
        "LYCEUM_PUBLIC_URL",
        "public base URL of the gateway; xAPI account homePage (default http://127.0.0.1:8080)",
    ),
    (
        "LYCEUM_NATS_URL",
        "NATS JetStream URL; unset: in-process bus (single process only)",
    ),
    ("LYCEUM_DEMO", "true: seed demo people and courses at start"),
    (
        "LYCEUM_MAX_BODY_BYTES",
        "largest request body accepted, bytes (default 16 MiB)",
    ),
    (
        "LYCEUM_SHUTDOWN_GRACE_SECS",
        "time in-flight requests get at shutdown (default 20)",
    ),
    (
        "LYCEUM_LOG_FILTER",
        "log filter, e.g. info,lyceum_lms=debug",
    ),
    (
        "LYCEUM_LOG_FORMAT",
        "pretty (development) or json (production)",
    ),
    (
        "LYCEUM_JWT_PRIVATE_KEY_FILE",
        "Ed25519 private key (PKCS#8 PEM) the gateway signs tokens with",
    ),
    (
        "LYCEUM_JWT_PUBLIC_KEY_FILE",
        "Ed25519 public key (PEM) services verify tokens with",
    ),
    ("LYCEUM_JWT_ISSUER", "token issuer (default lyceum)"),
    (
        "LYCEUM_JWT_TTL_SECS",
        "token lifetime, seconds, at most 3600 (default 900)",
    ),
    (
        "LYCEUM_ADMIN_EMAIL",
        "e-mail of the administrator created on first start",
    ),
    ("LYCEUM_ADMIN_PASSWORD", "password of that administrator"),
    (
        "LYCEUM_GATEWAY_ADDR",
        "gateway listen address (default 127.0.0.1:8080)",
    ),
    (
        "LYCEUM_GATEWAY_LMS_URL",
        "LMS address as the gateway reaches it",
    ),
    (
        "LYCEUM_GATEWAY_LXP_URL",
        "LXP address as the gateway reaches it",
    ),
    (
        "LYCEUM_GATEWAY_LRS_URL",
        "LRS address as the gateway reaches it",
    ),
    (
        "LYCEUM_LMS_ADDR",
        "LMS listen address (default 127.0.0.1:50051)",
    ),
    (
        "LYCEUM_LMS_DATABASE_URL",
        "LMS database, postgres:// or sqlite://",
    ),
    (
        "LYCEUM_LMS_DATABASE_MAX_CONNECTIONS",
        "LMS database pool size",
    ),
    (
        "LYCEUM_LXP_ADDR",
        "LXP listen address (default 127.0.0.1:50052)",
    ),
    (
        "LYCEUM_LXP_DATABASE_URL",
        "LXP database, postgres:// or sqlite://",
    ),
    (
        "LYCEUM_LXP_DATABASE_MAX_CONNECTIONS",
        "LXP database pool size",
    ),
    (
        "LYCEUM_LRS_ADDR",
        "LRS listen address (default 127.0.0.1:50053)",
    ),
    (
        "LYCEUM_LRS_DATABASE_URL",
        "LRS database, postgres:// or sqlite://",
    ),
    (
        "LYCEUM_LRS_DATABASE_MAX_CONNECTIONS",
        "LRS database pool size",
    ),
    (
        "LYCEUM_LRS_BOOTSTRAP_CLIENT",
        "xAPI client key:secret created at start with scope all",
    ),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTLP/gRPC collector; set to export traces",
    ),
    ("OTEL_SERVICE_NAME", "service name on exported traces"),
];

fn env_key(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(rest) = key.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
            return format!("{section}.{rest}");
        }
    }
    key
}

impl Config {
    /// Settings that are unset by default (so absent from serialized defaults).
    #[cfg(test)]
    const OPTIONAL_KEYS: &'static [&'static str] = &[
        "nats_url",
        "jwt.private_key_file",
        "jwt.public_key_file",
        "admin.email",
        "admin.password",
        "lms.database_url",
        "lxp.database_url",
        "lrs.database_url",
        "lrs.bootstrap_client",
    ];

    /// Loads defaults, then `file` (or `LYCEUM_CONFIG`) when given, then the environment,
    /// then `overrides` (flags: key paths such as `lms.addr` with their values), and validates.
    pub fn load(file: Option<&Path>, overrides: &[(&str, Value)]) -> Result<Config, ConfigError> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("LYCEUM_CONFIG").map(PathBuf::from));
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = &file {
            if !f.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    f.display()
                )));
            }
            fig = fig.merge(Toml::file(f));
        }
        fig = fig.merge(
            Env::prefixed("LYCEUM_")
                .ignore(&["CONFIG"])
                .map(|k| env_key(k.as_str()).into()),
        );
        for (key, value) in overrides {
            fig = fig.merge(Serialized::default(key, value.clone()));
        }
        let config: Config = fig.extract().map_err(|e| ConfigError::Load(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return bad(format!(
                "public_url (LYCEUM_PUBLIC_URL) must be an http(s) URL, got {:?}",
                self.public_url
            ));
        }
        if self.jwt.ttl_secs == 0 || self.jwt.ttl_secs > 3600 {
            return bad(format!(
                "jwt.ttl_secs (LYCEUM_JWT_TTL_SECS) must be 1 to 3600, got {}",
                self.jwt.ttl_secs
            ));
        }
        if self.admin.email.is_some() != self.admin.password.is_some() {
            return bad("LYCEUM_ADMIN_EMAIL and LYCEUM_ADMIN_PASSWORD must be set together".into());
        }
        if let Some(p) = &self.admin.password
            && p.chars().count() < 8
        {
            return bad(
                "admin.password (LYCEUM_ADMIN_PASSWORD) must have at least 8 characters".into(),
            );
        }
        if let Some(c) = &self.lrs.bootstrap_client
            && !matches!(c.split_once(':'), Some((k, s)) if !k.is_empty() && !s.is_empty())
        {
            return bad(
                "lrs.bootstrap_client (LYCEUM_LRS_BOOTSTRAP_CLIENT) must be key:secret".into(),
            );
        }
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes (LYCEUM_MAX_BODY_BYTES) must be at least 1024".into());
        }
        Ok(())
    }

    /// The database URL of a service, defaulting to a SQLite file under the data directory.
    pub fn database_url(&self, configured: &Option<String>, service: &str) -> String {
        configured.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join(format!("{service}.db")).display()
            )
        })
    }

    /// The public URL without a trailing slash.
    pub fn public_base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

#[cfg(test)]
// figment's test jail returns its own (large) error type from the closures.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order_defaults_file_env_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "lyceum.toml",
                r#"
                public_url = "https://learn.example.com"
                [lms]
                database_url = "postgres://file/lms"
                [lrs]
                bootstrap_client = "file:secret"
                "#,
            )?;
            jail.set_env("LYCEUM_LMS_DATABASE_URL", "postgres://env/lms");
            jail.set_env("LYCEUM_LXP_ADDR", "0.0.0.0:9000");
            jail.set_env("LYCEUM_JWT_TTL_SECS", "600");
            jail.set_env("LYCEUM_NATS_URL", "nats://nats:4222");
            let c = Config::load(
                Some(Path::new("lyceum.toml")),
                &[("lxp.addr", Value::from("0.0.0.0:9100"))],
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(c.public_url, "https://learn.example.com"); // file
            assert_eq!(c.lms.database_url.as_deref(), Some("postgres://env/lms")); // env over file
            assert_eq!(c.lxp.addr.to_string(), "0.0.0.0:9100"); // flag over env
            assert_eq!(c.jwt.ttl_secs, 600);
            assert_eq!(c.nats_url.as_deref(), Some("nats://nats:4222"));
            assert_eq!(c.lrs.bootstrap_client.as_deref(), Some("file:secret"));
            assert_eq!(c.gateway.addr.to_string(), "127.0.0.1:8080"); // default
            Ok(())
        });
    }

    #[test]
    fn invalid_values_name_the_setting() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LYCEUM_JWT_TTL_SECS", "7200");
            let e = Config::load(None, &[]).unwrap_err().to_string();
            assert!(e.contains("LYCEUM_JWT_TTL_SECS"), "{e}");
            jail.set_env("LYCEUM_JWT_TTL_SECS", "60");
            jail.set_env("LYCEUM_LMS_ADDR", "not an address");
            let e = Config::load(None, &[]).unwrap_err().to_string();
            assert!(e.contains("addr"), "{e}");
            jail.set_env("LYCEUM_LMS_ADDR", "127.0.0.1:1");
            jail.set_env("LYCEUM_LRS_BOOTSTRAP_CLIENT", "no-colon");
            let e = Config::load(None, &[]).unwrap_err().to_string();
            assert!(e.contains("key:secret"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn every_documented_variable_maps_to_a_setting() {
        let defaults = figment::Figment::from(Serialized::defaults(Config::default()));
        for (var, _) in ENV_VARS {
            let Some(key) = var.strip_prefix("LYCEUM_") else {
                continue;
            };
            if *var == "LYCEUM_CONFIG" {
                continue;
            }
            let path = env_key(key);
            let known = defaults.find_value(&path).is_ok()
                || Config::OPTIONAL_KEYS.contains(&path.as_str());
            assert!(known, "{var} maps to {path}, which is no setting");
        }
    }

    #[test]
    fn the_readme_documents_every_variable() {
        let readme = include_str!("../../../README.md");
        for (var, _) in ENV_VARS {
            assert!(
                readme.contains(&format!("`{var}`")),
                "README.md lacks {var}"
            );
        }
    }

    #[test]
    fn secrets_are_not_printed() {
        let mut c = Config::default();
        c.admin.password = Some("hunter2hunter2".into());
        c.lrs.bootstrap_client = Some("key:topsecret".into());
        c.lrs.database_url = Some("postgres://u:pw@h/db".into());
        let printed = format!("{c:?}");
        assert!(
            !printed.contains("hunter2")
                && !printed.contains("topsecret")
                && !printed.contains(":pw@")
        );
    }
}
