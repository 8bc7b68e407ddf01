//! Fresh databases for tests: a PostgreSQL database per test on the shared server (or on a
//! private server started with `initdb` + `pg_ctl` for fault tests), a SQLite file per test.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The admin URL of the shared PostgreSQL server: `TEST_PG_URL`, or the local default.
pub fn admin_url() -> String {
    std::env::var("TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test.
pub struct TestDatabase {
    url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin: String, name: String },
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("url", &self.url)
            .finish()
    }
}

impl TestDatabase {
    /// A SQLite file in a fresh temp dir.
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDatabase {
            url,
            kind: Kind::Sqlite(dir),
        }
    }

    /// A fresh database on the shared PostgreSQL server; `None` (after [`crate::missing`]) when
    /// it is unreachable outside CI.
    pub async fn postgres() -> Option<TestDatabase> {
        Self::postgres_on(&admin_url()).await
    }

    /// A fresh database on the server behind `admin` (a URL of an existing database).
    pub async fn postgres_on(admin: &str) -> Option<TestDatabase> {
        let mut conn = match PgConnection::connect(admin).await {
            Ok(c) => c,
            Err(e) => {
                crate::missing(&format!("PostgreSQL at {admin} ({e})"));
                return None;
            }
        };
        let name = format!("lyceum_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        let _ = conn.close().await;
        let url = replace_db(admin, &name);
        Some(TestDatabase {
            url,
            kind: Kind::Postgres {
                admin: admin.to_string(),
                name,
            },
        })
    }

    /// The connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `sqlite` or `postgres`, for messages.
    pub fn backend(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite(_) => "sqlite",
            Kind::Postgres { .. } => "postgres",
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Kind::Postgres { admin, name } = &self.kind {
            let (admin, name) = (admin.clone(), name.clone());
            // Drop runs outside any runtime guarantee: use a private one on a plain thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&admin).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// A private PostgreSQL server (`initdb` + `pg_ctl`) on a free port, for tests that stop and
/// start the database. Stopped by its data directory's pid when dropped; the shared server is
/// never touched.
pub struct PgServer {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    running: bool,
}

impl PgServer {
    /// Starts a server; `None` (after [`crate::missing`]) when `initdb` is not installed
    /// outside CI.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = pg_bin_dir() else {
            crate::missing("PostgreSQL server binaries (initdb, pg_ctl)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_postgres_user(&mut initdb, dir.path());
        let status = initdb.status().expect("initdb");
        assert!(status.success(), "initdb failed");
        let port = free_port();
        let mut server = PgServer {
            dir,
            port,
            bin,
            running: false,
        };
        server.start_again();
        Some(server)
    }

    /// Starts the stopped server again on the same port.
    pub fn start_again(&mut self) {
        let data = self.dir.path().join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.args(["-w", "-t", "30", "-D"])
            .arg(&data)
            .args(["-o", &opts, "-l"])
            .arg(self.dir.path().join("log"))
            .arg("start")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_postgres_user(&mut cmd, self.dir.path());
        assert!(
            cmd.status().expect("pg_ctl").success(),
            "pg_ctl start failed"
        );
        self.running = true;
    }

    /// Stops the server (fast mode).
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.args(["-w", "-m", "fast", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_postgres_user(&mut cmd, self.dir.path());
        let _ = cmd.status();
        self.running = false;
    }

    /// Admin URL (database `postgres`).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pg_bin_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PG_BIN_DIR") {
        return Some(PathBuf::from(p));
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    candidates.reverse();
    let path = std::env::var_os("PATH").unwrap_or_default();
    candidates.extend(std::env::split_paths(&path));
    candidates
        .into_iter()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

/// PostgreSQL refuses to run as root: run its tools as `postgres` when we are root.
fn as_postgres_user(cmd: &mut Command, dir: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if is_root() {
            let _ = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .status();
            if let Some((uid, gid)) = postgres_ids() {
                cmd.uid(uid).gid(gid);
            }
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn postgres_ids() -> Option<(u32, u32)> {
    let out = |flag: &str| -> Option<u32> {
        let o = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    Some((out("-u")?, out("-g")?))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            super::replace_db("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::replace_db("postgres://u@h:1/db?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
        assert_eq!(
            super::replace_db("postgres://u@h:1", "x"),
            "postgres://u@h:1/x"
        );
    }
}
