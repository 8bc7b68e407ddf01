//! A real `nats-server` with JetStream per test, on a port the server picks itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `nats-server` owned by the test; killed (by its pid) when dropped.
pub struct NatsServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

impl std::fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsServer")
            .field("port", &self.port)
            .finish()
    }
}

fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

impl NatsServer {
    /// Starts a server with JetStream on a free port. `None` (after [`crate::missing`]) when no
    /// `nats-server` binary is installed outside CI.
    pub fn start() -> Option<NatsServer> {
        let Some(bin) = binary() else {
            crate::missing("nats-server (set NATS_SERVER_BIN or install it)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let child = spawn(&bin, dir.path(), None);
        let port = wait_for_port(dir.path(), child.id());
        Some(NatsServer {
            child: Some(child),
            dir,
            port,
        })
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (its JetStream data stays for [`NatsServer::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same JetStream data.
    pub fn restart(&mut self) {
        self.stop();
        let bin = binary().expect("nats-server binary");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut child = spawn(&bin, self.dir.path(), Some(self.port));
            if wait_listening(self.port, Duration::from_secs(3)) {
                self.child = Some(child);
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "nats-server did not restart on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(bin: &Path, dir: &Path, port: Option<u16>) -> Child {
    let port = port.map_or_else(|| "-1".to_string(), |p| p.to_string());
    Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port, "-sd"])
        .arg(dir.join("js"))
        .arg("--ports_file_dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()))
}

fn wait_for_port(dir: &Path, pid: u32) -> u16 {
    let file = dir.join(format!("nats-server_{pid}.ports"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(url) = v["nats"][0].as_str()
            && let Some(port) = url.rsplit(':').next().and_then(|p| p.parse().ok())
        {
            return port;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nats-server did not write {}", file.display());
}

fn wait_listening(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}
