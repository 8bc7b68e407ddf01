//! The `lyceum` binary as operators run it: configuration from the environment, the demo
//! platform, separate processes per service, graceful stop on SIGTERM.

mod shutdown;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lyceum_e2e::http::Http;
use lyceum_e2e::journey::{self, Credentials};
use lyceum_testkit::{NatsServer, TestDatabase};

const BIN: &str = env!("CARGO_BIN_EXE_lyceum");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed if the test fails before stopping it.
struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    fn spawn(name: &'static str, args: &[&str], env: &[(&str, String)]) -> Proc {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LYCEUM_LOG_FILTER", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Proc {
            name,
            child: cmd.spawn().expect("spawn lyceum"),
        }
    }

    /// SIGTERM, then the exit status within `within`.
    fn terminate(mut self, within: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop within {within:?} of SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_ready(url: &str) {
    let http = Http::new(url);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.send(http::Method::GET, "/readyz", &[], None).await
            && r.status.is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn make_run_starts_the_demo_platform_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = free_port();
    let env = [
        ("LYCEUM_GATEWAY_ADDR", format!("127.0.0.1:{gateway}")),
        ("LYCEUM_LMS_ADDR", format!("127.0.0.1:{}", free_port())),
        ("LYCEUM_LXP_ADDR", format!("127.0.0.1:{}", free_port())),
        ("LYCEUM_LRS_ADDR", format!("127.0.0.1:{}", free_port())),
        ("LYCEUM_SHUTDOWN_GRACE_SECS", "5".into()),
    ];
    let data = dir.path().display().to_string();
    let mut proc = Proc::spawn("lyceum", &["serve", "--demo", "--data-dir", &data], &env);

    // The banner names the gateway and the demo sign-ins.
    let stdout = proc.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep draining stdout for the life of the process.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let banner = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) {
            let done = line.contains("Ctrl-C");
            lines.push(line);
            if done {
                break;
            }
        }
        lines.join("\n")
    })
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{gateway}");
    assert!(banner.contains(&format!("{base}/api/v1")), "{banner}");
    assert!(banner.contains("ada@demo.lyceum.dev"), "{banner}");
    assert!(banner.contains("demo-client / demo-secret"), "{banner}");

    wait_ready(&base).await;
    // The image's health check: `lyceum probe` exits 0 on a 2xx, and names what it got
    // otherwise.
    let probe = |path: &str| {
        Command::new(BIN)
            .args(["probe", &format!("{base}{path}")])
            .output()
            .unwrap()
    };
    let ready = probe("/readyz");
    assert!(ready.status.success(), "{ready:?}");
    let missing = probe("/no-such-page");
    assert!(!missing.status.success(), "{missing:?}");
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("answered 404"),
        "{missing:?}"
    );
    let http = Http::new(&base);
    let token = http
        .token("ada@demo.lyceum.dev", "lyceum-demo")
        .await
        .unwrap();
    // Ada has done nothing yet: her feed is the demo catalogue, most popular first.
    let feed = lyceum_e2e::eventually("a demo feed", Duration::from_secs(20), || async {
        let r = http.get("/api/v1/me/feed", &token).await?.expect(200)?;
        let recs = r.json()["recommendations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // The demo progress flows LMS -> LRS -> LXP in the background.
        let popular = recs
            .first()
            .is_some_and(|r| r["item"]["popularity"].as_u64() >= Some(2));
        Ok((recs.len() >= 6 && popular).then_some(recs))
    })
    .await
    .unwrap();
    assert_eq!(
        feed[0]["item"]["title"], "SQL Fundamentals",
        "most popular first: {feed:?}"
    );

    let status = proc.terminate(Duration::from_secs(15));
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    let stopped = probe("/healthz");
    assert!(!stopped.status.success(), "{stopped:?}");
    assert!(
        String::from_utf8_lossy(&stopped.stderr).contains("cannot GET"),
        "{stopped:?}"
    );
    assert!(dir.path().join("lms.db").exists() && dir.path().join("jwt-ed25519.pem").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn four_processes_on_postgres_and_nats_run_the_journey() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let mut dbs = Vec::new();
    for _ in 0..3 {
        let Some(db) = TestDatabase::postgres().await else {
            return;
        };
        dbs.push(db);
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().display().to_string();
    let out = Command::new(BIN)
        .args(["keys", "generate", "--out", &keys])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let (lms, lxp, lrs, gw) = (free_port(), free_port(), free_port(), free_port());
    let common = |extra: Vec<(&'static str, String)>| {
        let mut env = vec![
            ("LYCEUM_NATS_URL", nats.url()),
            ("LYCEUM_PUBLIC_URL", "https://learn.example.com".to_string()),
            (
                "LYCEUM_JWT_PUBLIC_KEY_FILE",
                format!("{keys}/jwt-public.pem"),
            ),
            ("LYCEUM_DATA_DIR", format!("{keys}/unused")),
            ("LYCEUM_LOG_FORMAT", "json".to_string()),
            ("LYCEUM_SHUTDOWN_GRACE_SECS", "5".to_string()),
        ];
        env.extend(extra);
        env
    };
    let services = vec![
        Proc::spawn(
            "lms",
            &["serve", "--target", "lms"],
            &common(vec![
                ("LYCEUM_LMS_ADDR", format!("127.0.0.1:{lms}")),
                ("LYCEUM_LMS_DATABASE_URL", dbs[0].url().to_string()),
                ("LYCEUM_ADMIN_EMAIL", "root@example.com".into()),
                ("LYCEUM_ADMIN_PASSWORD", "root-password".into()),
            ]),
        ),
        Proc::spawn(
            "lxp",
            &["serve", "--target", "lxp"],
            &common(vec![
                ("LYCEUM_LXP_ADDR", format!("127.0.0.1:{lxp}")),
                ("LYCEUM_LXP_DATABASE_URL", dbs[1].url().to_string()),
            ]),
        ),
        Proc::spawn(
            "lrs",
            &["serve", "--target", "lrs"],
            &common(vec![
                ("LYCEUM_LRS_ADDR", format!("127.0.0.1:{lrs}")),
                ("LYCEUM_LRS_DATABASE_URL", dbs[2].url().to_string()),
                ("LYCEUM_LRS_BOOTSTRAP_CLIENT", "ops:ops-secret".into()),
            ]),
        ),
        Proc::spawn(
            "gateway",
            &["serve", "--target", "gateway"],
            &common(vec![
                ("LYCEUM_GATEWAY_ADDR", format!("127.0.0.1:{gw}")),
                (
                    "LYCEUM_JWT_PRIVATE_KEY_FILE",
                    format!("{keys}/jwt-private.pem"),
                ),
                ("LYCEUM_GATEWAY_LMS_URL", format!("http://127.0.0.1:{lms}")),
                ("LYCEUM_GATEWAY_LXP_URL", format!("http://127.0.0.1:{lxp}")),
                ("LYCEUM_GATEWAY_LRS_URL", format!("http://127.0.0.1:{lrs}")),
            ]),
        ),
    ];
    let base = format!("http://127.0.0.1:{gw}");
    wait_ready(&base).await;
    let creds = Credentials {
        admin_email: "root@example.com".into(),
        admin_password: "root-password".into(),
        xapi_client: "ops:ops-secret".into(),
    };
    let seen = journey::run(&Http::new(&base), &creds)
        .await
        .expect("journey across processes");
    assert_eq!(seen.statements, 4);
    for p in services {
        let name = p.name;
        let status = p.terminate(Duration::from_secs(15));
        assert!(
            status.success(),
            "{name} exits cleanly on SIGTERM: {status}"
        );
    }
    assert!(
        !std::path::Path::new(&format!("{keys}/unused")).exists(),
        "nothing written to the data dir"
    );
}

/// Arguments, environment, and what the error must mention.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn bad_settings_stop_the_start_with_a_message_naming_them() {
    let cases: [Case; 3] = [
        (&["serve", "--target", "lms"], &[], "LYCEUM_NATS_URL"),
        (
            &["serve"],
            &[("LYCEUM_JWT_TTL_SECS", "7200")],
            "LYCEUM_JWT_TTL_SECS",
        ),
        (
            &["serve"],
            &[("LYCEUM_LRS_BOOTSTRAP_CLIENT", "nocolon")],
            "key:secret",
        ),
    ];
    for (args, env, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .env("LYCEUM_DATA_DIR", dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{args:?} {env:?} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(needle),
            "{args:?} {env:?}: stderr lacks {needle}: {stderr}"
        );
    }
}

/// `lyceum lrs client ...` on the LRS database (here the embedded SQLite file), before any
/// LRS has started: create (with a generated secret), list, refuse unknown scopes, delete.
#[test]
fn lrs_clients_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_clear()
            .env("LYCEUM_DATA_DIR", dir.path())
            .env("LYCEUM_LOG_FILTER", "warn")
            .output()
            .unwrap()
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();

    let created = run(&[
        "lrs",
        "client",
        "create",
        "--key",
        "course-player",
        "--scopes",
        "statements/write,state",
    ]);
    assert!(created.status.success(), "{created:?}");
    let out = text(&created.stdout);
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .unwrap_or_else(|| panic!("a generated secret: {out}"));
    assert!(secret.len() >= 16, "{secret}");

    let listed = run(&["lrs", "client", "list"]);
    assert!(listed.status.success(), "{listed:?}");
    let list = text(&listed.stdout);
    assert!(
        list.contains("course-player\tstatements/write state"),
        "{list}"
    );
    assert!(!list.contains(secret), "secrets are never listed: {list}");

    let bad = run(&[
        "lrs",
        "client",
        "create",
        "--key",
        "other",
        "--scopes",
        "statements/everything",
    ]);
    assert!(!bad.status.success(), "{bad:?}");
    assert!(
        text(&bad.stderr).contains("statements/everything"),
        "the unknown scope is named: {}",
        text(&bad.stderr)
    );

    let deleted = run(&["lrs", "client", "delete", "--key", "course-player"]);
    assert!(deleted.status.success(), "{deleted:?}");
    let listed = run(&["lrs", "client", "list"]);
    assert!(!text(&listed.stdout).contains("course-player"));
}
