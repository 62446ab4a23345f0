//! The processes under test: the release `daehwa` and the `fake-llm`
//! upstream, started on loopback ports picked here, stopped with SIGTERM, and
//! watched through `/proc` (resident memory, threads).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a process may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped process may take to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause between two connection attempts while a process starts.
const POLL_EVERY: Duration = Duration::from_micros(250);

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn log_file(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A running child process on a known loopback address.
pub struct Proc {
    child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
}

impl Proc {
    /// Sends SIGTERM and waits for the exit (SIGKILL after a deadline).
    pub fn stop(mut self) -> Result<(), String> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(format!(
                        "pid {} did not stop within {STOP_TIMEOUT:?}",
                        self.pid
                    ));
                }
            }
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `(VmRSS, VmHWM, Threads)` in bytes, bytes and count.
    pub fn memory(&self) -> (u64, u64, u64) {
        memory(self.pid)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `(VmRSS, VmHWM, Threads)` of a process from `/proc/PID/status`.
pub fn memory(pid: u32) -> (u64, u64, u64) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (
        field("VmRSS:") * 1024,
        field("VmHWM:") * 1024,
        field("Threads:"),
    )
}

/// How to start daehwa.
#[derive(Clone)]
pub struct DaehwaCmd {
    pub binary: PathBuf,
    pub log: PathBuf,
    /// The server's open-file limit, if not the one inherited from here.
    pub nofile: Option<u64>,
}

impl DaehwaCmd {
    /// Starts `daehwa serve` on `db` and waits for the first 200 from
    /// `/api/v1/health`; returns the process and the time from spawn to that
    /// answer (the cold start).
    pub fn start(&self, db: &Path) -> Result<(Proc, Duration), String> {
        let port = free_port()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log = log_file(&self.log)?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(&self.binary);
        if let Some(limit) = self.nofile {
            // SAFETY: setrlimit is async-signal-safe, as pre_exec requires.
            unsafe {
                command.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let started = Instant::now();
        let child = command
            .arg("serve")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--db")
            .arg(db)
            .args(["--ollama-base-url", ""])
            // One user runs every stream of scenario 5: no per-user cap.
            .args(["--max-generations-per-user", "0"])
            // A fixed secret: tokens stay valid across restarts and nothing is
            // generated at start.
            .env(
                "DAEHWA_SECRET",
                "bench-secret-not-for-production-0123456789",
            )
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("DAEHWA_PORT")
            .env_remove("DAEHWA_DB")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("{}: {e}", self.binary.display()))?;
        let pid = child.id();
        let mut proc = Proc { child, addr, pid };
        loop {
            if health_ok(addr, "/api/v1/health") {
                return Ok((proc, started.elapsed()));
            }
            if !proc.alive() {
                return Err(format!(
                    "daehwa exited before answering; see {}",
                    self.log.display()
                ));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!("daehwa did not answer within {START_TIMEOUT:?}"));
            }
            thread::sleep(POLL_EVERY);
        }
    }
}

/// Starts `fake-llm` with default behaviour (20 tokens, no delay) and waits
/// until it answers `/v1/models`.
pub fn start_fake(binary: &Path, log: &Path) -> Result<Proc, String> {
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let out = log_file(log)?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(binary)
        .args(["--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let pid = child.id();
    let mut proc = Proc { child, addr, pid };
    let started = Instant::now();
    while !health_ok(addr, "/v1/models") {
        if !proc.alive() || started.elapsed() > START_TIMEOUT {
            return Err(format!("fake-llm did not start; see {}", log.display()));
        }
        thread::sleep(Duration::from_millis(2));
    }
    Ok(proc)
}

/// One blocking `GET path` on a new connection: did it answer 200?
fn health_ok(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match stream.read(&mut head[got..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    &head == b"HTTP/1.1 200"
}
