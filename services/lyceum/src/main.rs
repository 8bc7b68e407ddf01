//! `lyceum`: serve the platform (all services or one), apply migrations, make keys.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lyceum::{AllListeners, Target};
use lyceum_config::{Config, Value};

/// mimalloc: faster than the system allocator for the many small allocations of JSON
/// parsing, checking and serialising (the LRS's per-statement work).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lyceum: an open-source corporate learning platform (LMS, LXP, LRS and API gateway).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// TOML settings file (also LYCEUM_CONFIG); environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run services until Ctrl-C or SIGTERM.
    Serve {
        /// Which service to run; `all` runs every service in this process (embedded mode).
        #[arg(long, value_enum, default_value = "all")]
        target: Target,
        /// Create demo people and courses (and a demo administrator and xAPI client when none
        /// is configured), and print how to sign in.
        #[arg(long)]
        demo: bool,
        /// Directory for SQLite files and generated keys.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Apply a service's database migrations and exit.
    Migrate {
        /// lms, lxp or lrs.
        #[arg(long, value_enum)]
        target: Target,
    },
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// GET an HTTP URL (a service's /healthz or /readyz) and exit 0 when it answers 2xx:
    /// a health check for the image, which has no shell or HTTP client.
    Probe {
        /// e.g. http://127.0.0.1:8080/readyz
        url: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// The learning record store.
    Lrs {
        #[command(subcommand)]
        command: LrsCommand,
    },
}

#[derive(Subcommand)]
enum LrsCommand {
    /// xAPI clients (HTTP Basic credentials of content, apps and other systems).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
}

/// Works on the LRS database directly (LYCEUM_LRS_DATABASE_URL, like `migrate`), so it works
/// before the LRS first starts and while it is down; a running LRS sees the change within
/// seconds (its credential cache).
#[derive(Subcommand)]
enum ClientCommand {
    /// Create a client, or replace the secret and scopes of an existing one.
    Create {
        /// The HTTP Basic user name.
        #[arg(long)]
        key: String,
        /// Comma-separated xAPI scopes: statements/write, statements/read,
        /// statements/read/mine, state, define, profile, all/read, all.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// The secret (at least 8 characters); generated and printed when absent.
        #[arg(long)]
        secret: Option<String>,
    },
    /// List clients (never their secrets).
    List,
    /// Delete a client.
    Delete {
        /// The client's key.
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new Ed25519 token-signing key pair (jwt-private.pem, jwt-public.pem) to a directory.
    Generate {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

const DEMO_ADMIN: (&str, &str) = ("admin@demo.lyceum.dev", "lyceum-admin");
const DEMO_XAPI_CLIENT: &str = "demo-client:demo-secret";

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve {
                target,
                demo,
                data_dir,
            } => {
                let mut overrides: Vec<(&str, Value)> = Vec::new();
                if demo {
                    overrides.push(("demo", Value::from(true)));
                }
                if let Some(dir) = &data_dir {
                    overrides.push(("data_dir", Value::from(dir.display().to_string())));
                }
                let mut config = Config::load(cli.config.as_deref(), &overrides)?;
                if config.demo {
                    if config.admin.email.is_none() {
                        config.admin.email = Some(DEMO_ADMIN.0.into());
                        config.admin.password = Some(DEMO_ADMIN.1.into());
                    }
                    if config.lrs.bootstrap_client.is_none() {
                        config.lrs.bootstrap_client = Some(DEMO_XAPI_CLIENT.into());
                    }
                }
                serve(target, config).await
            }
            Command::Migrate { target } => {
                let config = Config::load(cli.config.as_deref(), &[])?;
                let _telemetry = lyceum_telemetry::init(target.name(), &config.log);
                lyceum::migrate(target, config).await?;
                tracing::info!(target = target.name(), "migrations applied");
                Ok(())
            }
            Command::Lrs {
                command: LrsCommand::Client { command },
            } => {
                let config = Config::load(cli.config.as_deref(), &[])?;
                let _telemetry = lyceum_telemetry::init(Target::Lrs.name(), &config.log);
                lrs_client(config, command).await
            }
            Command::Probe { url, timeout } => {
                let status =
                    lyceum::probe::probe(&url, std::time::Duration::from_secs(timeout)).await?;
                if !(200..300).contains(&status) {
                    anyhow::bail!("{url} answered {status}");
                }
                println!("{url} answered {status}");
                Ok(())
            }
            Command::Keys {
                command: KeysCommand::Generate { out },
            } => {
                let pair = lyceum_auth::keys::generate();
                std::fs::create_dir_all(&out)
                    .with_context(|| format!("cannot create {}", out.display()))?;
                let private = out.join("jwt-private.pem");
                std::fs::write(&private, lyceum_auth::keys::private_pem(&pair))
                    .with_context(|| format!("cannot write {}", private.display()))?;
                let public = out.join("jwt-public.pem");
                std::fs::write(&public, lyceum_auth::keys::public_pem(&pair.public))
                    .with_context(|| format!("cannot write {}", public.display()))?;
                println!("wrote {} and {}", private.display(), public.display());
                Ok(())
            }
        }
    })
}

async fn lrs_client(config: Config, command: ClientCommand) -> anyhow::Result<()> {
    let public_url = config.public_url.clone();
    let platform = lyceum_server::Platform::for_maintenance(config);
    let store = lyceum_lrs::open_store(&platform).await?;
    let result = match command {
        ClientCommand::Create {
            key,
            scopes,
            secret,
        } => {
            let generated = secret.is_none();
            let secret = secret.unwrap_or_else(lyceum_lrs::generate_secret);
            let scopes: Vec<&str> = scopes.iter().map(|s| s.trim()).collect();
            let client =
                lyceum_lrs::register_client(&store, &public_url, &key, &secret, &scopes).await?;
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "xAPI client {} ({})",
                client.key,
                client.scopes.join(" ")
            )?;
            if generated {
                writeln!(out, "secret: {secret}")?;
                writeln!(out, "(shown once; store it now)")?;
            }
            Ok(())
        }
        ClientCommand::List => {
            let mut out = std::io::stdout().lock();
            for c in lyceum_lrs::list_clients(&store).await? {
                writeln!(out, "{}\t{}\t{}", c.key, c.scopes.join(" "), c.authority)?;
            }
            Ok(())
        }
        ClientCommand::Delete { key } => {
            lyceum_lrs::delete_client(&store, &key).await?;
            writeln!(std::io::stdout().lock(), "deleted xAPI client {key}")?;
            Ok(())
        }
    };
    store.close().await;
    result
}

async fn serve(target: Target, config: Config) -> anyhow::Result<()> {
    let mut telemetry = lyceum_telemetry::init(target.name(), &config.log);
    let result = if target == Target::All {
        let listeners = AllListeners::bind(&config).await?;
        let gateway = listeners.gateway.local_addr()?;
        let lrs = listeners.lrs.local_addr()?;
        print_banner(&config, gateway, lrs);
        lyceum::run_all(config, listeners, lyceum_server::shutdown_signal()).await
    } else {
        let listener = lyceum::bind(lyceum::addr_of(target, &config)).await?;
        lyceum::run_target(target, config, listener, lyceum_server::shutdown_signal()).await
    };
    telemetry.shutdown();
    result
}

fn print_banner(config: &Config, gateway: std::net::SocketAddr, lrs: std::net::SocketAddr) {
    let base = format!("http://{gateway}");
    let mut lines = Vec::new();
    lines.push(String::new());
    lines.push(format!(
        "  Lyceum is starting (embedded mode: SQLite in {}, in-process bus)",
        config.data_dir.display()
    ));
    lines.push(format!("  Gateway (REST API):  {base}/api/v1"));
    lines.push(format!(
        "  xAPI (LRS):          {base}/xapi   (LRS itself on http://{lrs}/xapi)"
    ));
    lines.push(format!(
        "  Health:              {base}/healthz  {base}/readyz"
    ));
    if let (Some(email), Some(password)) = (&config.admin.email, &config.admin.password) {
        if config.demo && email == DEMO_ADMIN.0 {
            lines.push(format!("  Administrator:       {email} / {password}"));
        } else {
            lines.push(format!(
                "  Administrator:       {email} (password from LYCEUM_ADMIN_PASSWORD)"
            ));
        }
    }
    if config.demo {
        lines.push("  Demo people (password lyceum-demo):".to_string());
        for p in lyceum_lms::seed::DEMO_PEOPLE {
            lines.push(format!(
                "    {:<28} {:<22} {} ({})",
                p.email, p.name, p.role, p.department
            ));
        }
        if config.lrs.bootstrap_client.as_deref() == Some(DEMO_XAPI_CLIENT) {
            lines.push("  xAPI client (HTTP Basic): demo-client / demo-secret".to_string());
        }
        lines.push(String::new());
        lines.push("  Try:".to_string());
        lines.push(format!(
            "    curl -s -X POST {base}/api/v1/auth/token -H 'content-type: application/json' \\"
        ));
        lines.push(
            r#"         -d '{"email":"ada@demo.lyceum.dev","password":"lyceum-demo"}'"#.to_string(),
        );
        lines.push(format!(
            "    curl -s {base}/api/v1/me/feed -H \"authorization: Bearer $TOKEN\""
        ));
    }
    lines.push("  Ctrl-C stops it gracefully.".to_string());
    lines.push(String::new());
    // A closed stdout (a pipe whose reader went away) must not stop the platform.
    let _ = writeln!(std::io::stdout().lock(), "{}", lines.join("\n"));
}
