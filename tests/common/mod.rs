//! A lab for end-to-end tests: vpced in a fabric namespace of its own, the configuration's
//! namespaces under a unique prefix, and a guard that removes every process and namespace it
//! made — even when the test fails.
//!
//! Every address a test uses lives in a namespace the lab made; [`Lab::check_isolation`]
//! (scripts/check-isolation.sh) proves it before traffic is sent.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

pub use rustix::process::Signal;
use serde_json::Value;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

/// Whether end-to-end tests can run here (root, TUN, iproute2). When not, tests print why and
/// return — unless end-to-end tests are required (`VPCE_REQUIRE_E2E=1`, which
/// `scripts/test.sh` sets, or `CI=true`): then a test that cannot run fails, so that CI never
/// reports a pass for what it did not check.
pub fn can_run() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let tun = Path::new("/dev/net/tun").exists();
    let ip = Command::new("ip").arg("-V").output().is_ok();
    if !(root && tun && ip) {
        let why = format!(
            "end-to-end tests need root, /dev/net/tun and iproute2 (root={root} tun={tun} ip={ip})"
        );
        let required = std::env::var("VPCE_REQUIRE_E2E").is_ok_and(|v| v == "1")
            || std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !required,
            "{why}, and they are required here (VPCE_REQUIRE_E2E=1 or CI=true)"
        );
        eprintln!("SKIPPED: {why}");
        return false;
    }
    true
}

/// The Debian packages of the programs the tests run; `scripts/setup.sh --test` installs them
/// all.
const PACKAGES: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("ss", "iproute2"),
    ("ping", "iputils-ping"),
    ("curl", "curl"),
    ("dig", "dnsutils"),
    ("python3", "python3"),
    ("iperf3", "iperf3"),
    ("tshark", "tshark"),
    ("haproxy", "haproxy"),
    ("dnsmasq", "dnsmasq-base"),
    ("tmux", "tmux"),
    ("gcc", "gcc"),
    ("valgrind", "valgrind"),
    ("promtool", "prometheus"),
    ("dot", "graphviz"),
    ("node", "nodejs"),
    ("etcd", "etcd-server"),
];

/// Parses `files` with Mermaid's own parser (`scripts/mermaid/check.mjs`, under Node; the
/// packages `scripts/setup.sh --test` installs with npm): panics with the parser's message
/// for each file that does not parse, or naming what to install when the checker is absent.
pub fn mermaid_check(files: &[&Path]) {
    need("node");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mermaid");
    assert!(
        dir.join("node_modules/mermaid").is_dir(),
        "Mermaid's parser is not installed in {}: scripts/setup.sh --test (npm ci there)",
        dir.display()
    );
    let o = Command::new("node")
        .arg(dir.join("check.mjs"))
        .args(files)
        .output()
        .expect("node runs");
    assert!(
        o.status.success(),
        "Mermaid does not parse:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Fails the test, naming the Debian package, when `program` is not on the PATH: a missing
/// tool is a clear failure, never a hang or an `unwrap` on "No such file".
pub fn need(program: &str) {
    use std::os::unix::fs::PermissionsExt;
    if program.contains('/') {
        return;
    }
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            std::fs::metadata(d.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    if !found {
        let package = PACKAGES
            .iter()
            .find(|(p, _)| *p == program)
            .map_or(String::new(), |(_, k)| format!(" (Debian package `{k}`)"));
        panic!(
            "`{program}` is not installed{package}: scripts/setup.sh --test installs every program the tests run"
        );
    }
}

/// Sends `sig` to process `pid` (no `kill` binary needed: minimal systems have none).
pub fn signal(pid: u32, sig: Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Sends `sig` to the process group that `pid` leads ([`Lab::spawn`] makes one per command).
pub fn signal_group(pid: u32, sig: Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process_group(pid, sig);
    }
}

pub fn bin(name: &str) -> PathBuf {
    match name {
        "vpced" => PathBuf::from(env!("CARGO_BIN_EXE_vpced")),
        "vpce-appliance" => PathBuf::from(env!("CARGO_BIN_EXE_vpce-appliance")),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_vpcectl")),
    }
}

pub struct Lab {
    pub prefix: String,
    pub socket: PathBuf,
    pub config: PathBuf,
    daemon: Option<Child>,
    children: Vec<Child>,
    log: PathBuf,
    /// More vpced arguments (`--metrics-listen …`).
    pub extra_args: Vec<String>,
    /// vpced's environment beyond the test's own (`PATH` without `ip`, systemd's
    /// `NOTIFY_SOCKET`).
    daemon_env: Vec<(String, std::ffi::OsString)>,
}

impl Lab {
    /// Starts vpced on `config` and waits until its control socket answers.
    pub fn start(config: &Path) -> Lab {
        Lab::start_with(config, |_| {})
    }

    /// [`Lab::start`], after `before` has run with the lab's namespace prefix (to make what
    /// vpced expects to find, such as an interface in its fabric namespace `PREFIXfabric`).
    pub fn start_with(config: &Path, before: impl FnOnce(&str)) -> Lab {
        Lab::start_full(config, &[], before)
    }

    /// [`Lab::start`] with more vpced arguments.
    pub fn start_args(config: &Path, args: &[&str]) -> Lab {
        Lab::start_full(config, args, |_| {})
    }

    /// [`Lab::start`] with vpced's `PATH` set to `path` (to show what it runs without).
    pub fn start_with_path(config: &Path, path: &Path) -> Lab {
        Lab::start_env(config, &[("PATH", path.as_os_str())])
    }

    /// [`Lab::start`] with these variables in vpced's environment.
    pub fn start_env(config: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Lab {
        Lab::start_full_env(config, &[], env, |_| {})
    }

    /// [`Lab::start_with`] with more vpced arguments.
    pub fn start_full(config: &Path, args: &[&str], before: impl FnOnce(&str)) -> Lab {
        Lab::start_full_env(config, args, &[], before)
    }

    fn start_full_env(
        config: &Path,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
        before: impl FnOnce(&str),
    ) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("vt{}x{n}-", std::process::id() % 100_000);
        let socket = std::env::temp_dir().join(format!("{prefix}vpced.sock"));
        let log = std::env::temp_dir().join(format!("{prefix}vpced.log"));
        let mut lab = Lab {
            prefix: prefix.clone(),
            socket: socket.clone(),
            config: config.to_path_buf(),
            daemon: None,
            children: Vec::new(),
            log: log.clone(),
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            daemon_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_os_string()))
                .collect(),
        };
        before(&prefix);
        lab.launch();
        lab
    }

    /// The directory vpced keeps runtime decisions in (removed with the lab).
    pub fn state_dir(&self) -> PathBuf {
        std::env::temp_dir().join(format!("{}state", self.prefix))
    }

    /// The file vpced writes its DNS query log to.
    pub fn query_log(&self) -> PathBuf {
        std::env::temp_dir().join(format!("{}queries.log", self.prefix))
    }

    /// Stops vpced and starts it again on the same configuration and state directory.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// vpced's process id, while it runs.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(|d| d.id())
    }

    /// Kills vpced with SIGKILL (no clean-up: its devices and namespaces stay behind).
    pub fn crash(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
    }

    /// Starts vpced again; `Err` with its log when it exits instead of coming up.
    pub fn try_launch(&mut self) -> Result<(), String> {
        let before = self.daemon_log().len();
        let child = self.spawn_daemon();
        self.daemon = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.vpcectl(&["status", "-o", "json"]).status.success() {
                return Ok(());
            }
            if let Some(status) = self.daemon.as_mut().unwrap().try_wait().unwrap() {
                self.daemon = None;
                return Err(format!("{status}: {}", &self.daemon_log()[before..]));
            }
            if Instant::now() > deadline {
                return Err(format!("did not come up: {}", self.daemon_log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn spawn_daemon(&self) -> Child {
        let prefix = self.prefix.clone();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut command = Command::new(bin("vpced"));
        command.envs(self.daemon_env.iter().map(|(k, v)| (k, v)));
        // A region's node takes its configuration from etcd.
        let config = (!self.extra_args.iter().any(|a| a == "--region"))
            .then(|| ["--config", self.config.to_str().unwrap()]);
        command
            .args(config.into_iter().flatten())
            .args(["--control-socket", self.socket.to_str().unwrap()])
            .args(["--netns", &format!("{prefix}fabric")])
            .args(["--netns-prefix", &prefix])
            .args(["--workers", "2"])
            .args(["--state-dir", self.state_dir().to_str().unwrap()])
            // `--no-query-log` among the lab's arguments: none (the workers' answer cache
            // is on only then).
            .args(
                (!self.extra_args.iter().any(|a| a == "--no-query-log"))
                    .then(|| {
                        [
                            "--query-log".to_string(),
                            self.query_log().display().to_string(),
                        ]
                    })
                    .into_iter()
                    .flatten(),
            )
            .args(self.extra_args.iter().filter(|a| *a != "--no-query-log"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("vpced starts")
    }

    fn launch(&mut self) {
        let child = self.spawn_daemon();
        let lab = self;
        lab.daemon = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if lab.vpcectl(&["status", "-o", "json"]).status.success() {
                break;
            }
            if let Some(status) = lab.daemon.as_mut().unwrap().try_wait().unwrap() {
                panic!("vpced exited with {status}: {}", lab.daemon_log());
            }
            assert!(
                Instant::now() < deadline,
                "vpced did not come up: {}",
                lab.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops vpced with SIGTERM and waits for it; returns its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut d = self.daemon.take()?;
        signal(d.id(), Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = d.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = d.kill();
                return d.wait().ok().and_then(|s| s.code());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Namespaces that currently exist under this lab's prefix.
    pub fn namespaces(&self) -> Vec<String> {
        let o = Command::new("ip").args(["netns", "list"]).output().unwrap();
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&self.prefix))
            .map(String::from)
            .collect()
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The real name of a configured namespace.
    pub fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs a command in a configured namespace and waits for it.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Output {
        need(args[0]);
        Command::new("ip")
            .args(["netns", "exec", &self.ns(ns)])
            .args(args)
            .output()
            .expect("ip netns exec")
    }

    /// Starts a long-running command in a configured namespace (killed when the lab ends).
    /// It leads a process group of its own, so that what it starts (tshark's dumpcap) can be
    /// stopped with it.
    pub fn spawn(&mut self, ns: &str, args: &[&str]) -> usize {
        need(args[0]);
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(ns)])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}` in {ns}: {e}", args.join(" ")));
        self.children.push(child);
        self.children.len() - 1
    }

    /// Stops a spawned command with SIGINT — how tshark ends a capture and takes its dumpcap
    /// child with it (SIGKILL would leave dumpcap holding the output pipes) — and returns
    /// what it printed.
    pub fn interrupt(&mut self, handle: usize) -> Output {
        let pid = self.children[handle].id();
        signal(pid, Signal::INT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.children[handle].try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                signal_group(pid, Signal::KILL);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.wait(handle)
    }

    /// Kills a spawned command (and its process group) and returns what it printed.
    pub fn kill(&mut self, handle: usize) -> Output {
        signal_group(self.children[handle].id(), Signal::KILL);
        self.wait(handle)
    }

    /// Waits for a spawned command and returns its output: at most 60 s, after which its
    /// process group is killed (whatever it printed so far is returned).
    pub fn wait(&mut self, handle: usize) -> Output {
        let child = std::mem::replace(
            &mut self.children[handle],
            Command::new("true").spawn().unwrap(),
        );
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait_with_output()));
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(o) => o.unwrap(),
            Err(_) => {
                signal_group(pid, Signal::KILL);
                rx.recv_timeout(Duration::from_secs(10))
                    .expect("a killed process group still holds its output pipes")
                    .unwrap()
            }
        }
    }

    pub fn vpcectl(&self, args: &[&str]) -> Output {
        Command::new(bin("vpcectl"))
            .args(args)
            .env("VPCE_SOCKET", &self.socket)
            .output()
            .unwrap()
    }

    pub fn stats(&self) -> Value {
        let o = self.vpcectl(&["stats", "-o", "json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    pub fn counter(&self, kind: &str, id: &str, field: &str) -> u64 {
        self.stats()["entities"][kind][id][field]
            .as_u64()
            .unwrap_or(0)
    }

    pub fn drops(&self, reason: &str) -> u64 {
        self.stats()["drops"][reason].as_u64().unwrap_or(0)
    }

    /// Adds an address to a namespace's loopback (a server of the "internet").
    pub fn add_loopback(&self, ns: &str, addr: &str) {
        let plen = if addr.contains(':') { "128" } else { "32" };
        let o = Command::new("ip")
            .args([
                "-n",
                &self.ns(ns),
                "addr",
                "add",
                &format!("{addr}/{plen}"),
                "dev",
                "lo",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// Proves that traffic to `targets` stays inside the lab (scripts/check-isolation.sh).
    pub fn check_isolation(&self, targets: &[(&str, &str)]) {
        let mut args = vec![self.prefix.clone()];
        for (ns, addr) in targets {
            args.push(format!("{}{ns}={addr}", self.prefix));
        }
        let o = Command::new(root().join("scripts/check-isolation.sh"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "isolation check failed:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// The request log of the HTTP server started in `ns` ([`Lab::http_server`]).
    pub fn http_log(&self, ns: &str) -> String {
        std::fs::read_to_string(std::env::temp_dir().join(format!("{}www-{ns}.log", self.prefix)))
            .unwrap_or_default()
    }

    /// Starts the lab's web server (`scripts/lib/http_server.py`) answering `body` on port 80
    /// in a namespace; returns once it listens.
    pub fn http_server(&mut self, ns: &str, body: &str) -> usize {
        let dir = std::env::temp_dir().join(format!("{}www-{ns}", self.prefix));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), body).unwrap();
        self.serve(ns, 80, &dir)
    }

    /// Starts the lab's web server serving `dir` on `port` in a namespace and waits until it
    /// listens (it looks up no name first: see the script); fails the test with its log if it
    /// does not within 10 s.
    pub fn serve(&mut self, ns: &str, port: u16, dir: &Path) -> usize {
        // Its request log goes to a file: into the pipe `spawn` reads only at the end, it would
        // fill the pipe's 64 KiB after some 900 requests and block the server (the soak's
        // "failed requests").
        let name = match port {
            80 => format!("{}www-{ns}.log", self.prefix),
            _ => format!("{}www-{ns}-{port}.log", self.prefix),
        };
        let log = std::env::temp_dir().join(name);
        let script = root().join("scripts/lib/http_server.py");
        let cmd = format!(
            "exec python3 {} {port} {} >>{} 2>&1",
            script.display(),
            dir.display(),
            log.display()
        );
        let h = self.spawn(ns, &["sh", "-c", &cmd]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let listening = format!("sport = :{port}");
        loop {
            let o = self.exec(ns, &["ss", "-Hltn", &listening]);
            if o.status.success() && !o.stdout.is_empty() {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "the web server in {ns} does not listen on port {port}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `curl` from a namespace; returns (HTTP code, body).
    pub fn curl(&self, ns: &str, url: &str) -> (String, String) {
        let o = self.exec(
            ns,
            &["curl", "-s", "-g", "-m", "5", "-w", "\n%{http_code}", url],
        );
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
        (code.to_string(), body.to_string())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            signal_group(c.id(), Signal::KILL);
            let _ = c.wait();
        }
        if let Some(mut d) = self.daemon.take() {
            signal(d.id(), Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match d.try_wait() {
                    Ok(Some(_)) => break,
                    _ if Instant::now() > deadline => {
                        let _ = d.kill();
                        let _ = d.wait();
                        break;
                    }
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        // Whatever is left under the prefix: processes first, then the namespaces.
        if let Ok(o) = Command::new("ip").args(["netns", "list"]).output() {
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                let name = line.split_whitespace().next().unwrap_or("");
                if name.starts_with(&self.prefix) {
                    let _ = Command::new("ip")
                        .args(["netns", "pids", name])
                        .output()
                        .map(|p| {
                            for pid in String::from_utf8_lossy(&p.stdout).split_whitespace() {
                                if let Ok(pid) = pid.parse() {
                                    signal(pid, Signal::KILL);
                                }
                            }
                        });
                    let _ = Command::new("ip").args(["netns", "delete", name]).status();
                }
            }
        }
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(&self.log);
        let _ = std::fs::remove_dir_all(self.state_dir());
        let _ = std::fs::remove_file(self.query_log());
    }
}

/// A process's resident memory, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// `ping`'s summary line: (transmitted, received).
pub fn ping_counts(out: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary in {out}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    (nums[0], nums[1])
}

/// The JSON a successful command printed (its output in the message when it failed).
pub fn json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The health of the lab's first target, as `vpcectl show target-health` reports it.
pub fn target_state(lab: &Lab) -> String {
    let v = json(&lab.vpcectl(&["show", "target-health", "-o", "json"]));
    v["targets"][0]["state"].as_str().unwrap_or("?").to_string()
}

/// The metric names a PromQL expression uses (`vpce_…`, `process_…`).
pub fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in expr.match_indices(['v', 'p']) {
        let rest = &expr[i..];
        if !(rest.starts_with("vpce_") || rest.starts_with("process_")) {
            continue;
        }
        if i > 0 && expr[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Every metric the packaged dashboard and alert rules use.
pub fn packaged_metric_names() -> Vec<String> {
    let mut names = Vec::new();
    let dash = std::fs::read_to_string(root().join("packaging/grafana/vpce.json")).unwrap();
    let rules =
        std::fs::read_to_string(root().join("packaging/prometheus/vpce.rules.yml")).unwrap();
    for n in metric_names(&dash).into_iter().chain(metric_names(&rules)) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}
