//! Starting the two servers as child processes on free loopback ports.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// A running server; killed when dropped, so no test leaves one behind.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A port that was free a moment ago. Ports are handed out in sequence from a per-process
/// base, below Linux's ephemeral range (32768 and up) so that no client socket takes one
/// between the check and the server's bind, and each is checked by binding it.
pub fn free_port() -> u16 {
    let _ = NEXT_PORT.compare_exchange(
        0,
        20_000 + (std::process::id() % 10_000) as u16,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let mut port = NEXT_PORT.fetch_add(1, Ordering::SeqCst);
        if port > 32_000 {
            NEXT_PORT.store(20_000, Ordering::SeqCst);
            port = 20_000;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Server {
    /// The server's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `binary` with memcached-style flags on a free port and waits until it accepts.
    pub fn start(binary: &PathBuf, flags: &[String]) -> Result<Server, String> {
        Server::start_with_env(binary, flags, &[])
    }

    /// Like [`Server::start`], with environment variables added to the server's.
    pub fn start_with_env(
        binary: &PathBuf,
        flags: &[String],
        env: &[(String, String)],
    ) -> Result<Server, String> {
        Server::start_logged(binary, flags, env, None)
    }

    /// Like [`Server::start_with_env`], with the server's stderr written to `log`.
    pub fn start_logged(
        binary: &PathBuf,
        flags: &[String],
        env: &[(String, String)],
        log: Option<&std::path::Path>,
    ) -> Result<Server, String> {
        for _attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(binary);
            cmd.args(["-U", "0", "-l", "127.0.0.1", "-p", &port.to_string()]);
            // memcached refuses to run as root without -u; ferrocache accepts it too.
            cmd.args(["-u", "root"]);
            cmd.args(flags);
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
            let stderr = match log {
                Some(path) => Stdio::from(
                    std::fs::File::create(path)
                        .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
                ),
                None => Stdio::null(),
            };
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr);
            let child = cmd
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
            let mut server = Server { child, port };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if is_listening(port) {
                    return Ok(server);
                }
                if let Ok(Some(_)) = server.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Err(format!(
            "{} {:?} did not start listening",
            binary.display(),
            flags
        ))
    }
}

/// Is something listening on 127.0.0.1:`port`? Read from /proc rather than by connecting,
/// so the check does not show up in the servers' connection counters.
fn is_listening(port: u16) -> bool {
    let wanted = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|table| {
        table.lines().skip(1).any(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1);
            let state = fields.nth(1);
            local == Some(wanted.as_str()) && state == Some("0A")
        })
    })
}

/// The oracle, memcached 1.6.45: `$MEMCACHED_BIN`, or the build `scripts/test.sh` keeps in
/// `.reference/` at the workspace's root. Not the `memcached` on `PATH`: Debian's is 1.6.18,
/// which answers some errors differently.
pub fn memcached_binary() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("MEMCACHED_BIN") {
        return Ok(PathBuf::from(path));
    }
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.reference/memcached");
    if built.is_file() {
        return Ok(built);
    }
    Err(
        "memcached 1.6.45 is not built: the differential tests need it as their oracle. \
         Run scripts/test.sh once (it builds it into .reference/), or set MEMCACHED_BIN"
            .into(),
    )
}

/// The ferrocache binary: `$FERROCACHE_BIN`, or built now with cargo.
pub fn ferrocache_binary() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("FERROCACHE_BIN") {
        return Ok(PathBuf::from(path));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("protocol-tests sits in the workspace")
        .to_path_buf();
    let status = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "ferrocache-server",
            "--bin",
            "ferrocache",
        ])
        .current_dir(&workspace)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building ferrocache failed".into());
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    Ok(target.join("debug").join("ferrocache"))
}
