//! Real Prometheus-stack servers for integration tests, started from the Debian packages
//! (`apt-get install prometheus prometheus-alertmanager prometheus-node-exporter prometheus-pushgateway`).
//!
//! Every server listens on `127.0.0.1` on a free port, keeps its data, config and log in its own
//! temporary directory and is killed (and reaped) when the [`Server`] is dropped. The HTTP helpers
//! are std-only HTTP/1.0 over a `TcpStream`: enough for readiness checks and API assertions.
//!
//! Use from an integration test with `mod support;`.

#![allow(dead_code)]

pub mod loki;
pub mod moto;
pub mod proxy;
pub mod tmux;

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

/// Alert rules matching [`topology_history`] (`HostCpuSaturated`, `ServiceLatencyHigh`; 1 s interval, `for: 0s`).
pub const TOPOLOGY_RULES: &str = include_str!("../../fixtures/prometheus/rules.yml");
/// Alertmanager config: a single `blackhole` receiver, 1 s group timers.
pub const ALERTMANAGER_CONFIG: &str = include_str!("../../fixtures/prometheus/alertmanager.yml");

const INSTALL_HINT: &str =
    "apt-get install prometheus prometheus-alertmanager prometheus-node-exporter prometheus-pushgateway";
/// How long a server may take to answer its readiness endpoint (2 shared cores, tests in
/// parallel). Three moto servers starting at once behind a release build once took more than
/// 30 s to print anything; a server that fails exits or logs, and is reported at once.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
const PORT_PLACEHOLDER: &str = "{PORT}";

/// A free TCP port on 127.0.0.1 (bound to port 0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("binding 127.0.0.1:0 for a free port").port()
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

/// A running server process owned by a test.
pub struct Server {
    pub name: &'static str,
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// How long the last (re)start took until the readiness endpoint answered 200.
    pub ready_in: Duration,
    program: &'static str,
    /// Arguments; `{PORT}` is replaced by the port.
    args: Vec<String>,
    ready_path: &'static str,
    child: Option<Child>,
    dir: TempDir,
}

impl Server {
    fn launch(
        name: &'static str,
        program: &'static str,
        args: Vec<String>,
        ready_path: &'static str,
        dir: TempDir,
    ) -> Server {
        let mut server = Server {
            name,
            port: 0,
            url: String::new(),
            ready_in: Duration::ZERO,
            program,
            args,
            ready_path,
            child: None,
            dir,
        };
        // free_port() releases the port before the server binds it: another test may grab it in
        // between, so retry a few times on "address already in use".
        for attempt in 1..=3 {
            server.port = free_port();
            server.url = format!("http://127.0.0.1:{}", server.port);
            server.spawn();
            match server.wait_ready() {
                Ok(()) => return server,
                Err(_) if attempt < 3 && server.log().contains("address already in use") => continue,
                Err(why) => panic!("{why}"),
            }
        }
        unreachable!()
    }

    /// The server's temporary directory (config, data, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.name))
    }

    /// Everything the server wrote to stdout and stderr, across restarts.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("opening the log of {}: {e}", self.name));
        let err = log.try_clone().expect("cloning the log file handle");
        let port = self.port.to_string();
        let child = Command::new(self.program)
            .args(self.args.iter().map(|a| a.replace(PORT_PLACEHOLDER, &port)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                if e.kind() == ErrorKind::NotFound {
                    panic!("`{}` not found on PATH ({}): {INSTALL_HINT}", self.program, self.name)
                }
                panic!("starting {} (`{}`): {e}", self.name, self.program)
            });
        self.child = Some(child);
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let url = format!("{}{}", self.url, self.ready_path);
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(format!(
                    "{} exited before it was ready ({status}) on port {}; log:\n{}",
                    self.name,
                    self.port,
                    self.log()
                ));
            }
            if let Ok((200, _)) = http_request("GET", &url, None) {
                self.ready_in = started.elapsed();
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!("{} not ready at {url} after {READY_TIMEOUT:?}; log:\n{}", self.name, self.log()));
            }
            sleep(Duration::from_millis(25));
        }
    }

    /// Kills the process (SIGKILL, as in a crash) and waits for it. The port is free afterwards.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops (if running) and starts again on the same port with the same data directory, then
    /// waits until ready.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
        if let Err(why) = self.wait_ready() {
            panic!("restarting: {why}");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What to start Prometheus with. `Default`: no scrape jobs, no rules, no Alertmanager, no
/// backfill, `evaluation_interval: "1s"`.
pub struct PrometheusOpts {
    /// YAML sequence items placed under `scrape_configs:` (indented for you), e.g. from
    /// [`scrape_job`]. May be empty. `global.scrape_interval` is 1s.
    pub scrape_configs_yaml: String,
    /// Contents of a rule file (e.g. [`TOPOLOGY_RULES`]).
    pub rules_yaml: Option<String>,
    /// `http://127.0.0.1:PORT` of an Alertmanager (e.g. `alertmanager().url`).
    pub alertmanager_url: Option<String>,
    /// OpenMetrics text (ending in `# EOF`, timestamps in seconds) written into the TSDB with
    /// `promtool tsdb create-blocks-from openmetrics` before the first start.
    pub backfill_openmetrics: Option<String>,
    pub evaluation_interval: &'static str,
}

impl Default for PrometheusOpts {
    fn default() -> Self {
        PrometheusOpts {
            scrape_configs_yaml: String::new(),
            rules_yaml: None,
            alertmanager_url: None,
            backfill_openmetrics: None,
            evaluation_interval: "1s",
        }
    }
}

/// A scrape job for [`PrometheusOpts::scrape_configs_yaml`]: `target` is `host:port` or a URL.
pub fn scrape_job(job: &str, target: &str) -> String {
    let target = target.trim_start_matches("http://").trim_end_matches('/');
    format!("- job_name: {job}\n  scrape_interval: 1s\n  static_configs:\n    - targets: ['{target}']\n")
}

fn tempdir(name: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("faultline-{name}-")).tempdir().expect("creating a temporary directory")
}

fn write(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Starts Prometheus (`--web.listen-address=127.0.0.1:PORT`, TSDB in a temporary directory,
/// `--rules.alert.resend-delay=5s`) and waits for `/-/ready`.
pub fn prometheus(opts: PrometheusOpts) -> Server {
    let dir = tempdir("prometheus");
    let data = dir.path().join("data");
    fs::create_dir_all(&data).expect("creating the TSDB directory");

    let mut yml = format!("global:\n  scrape_interval: 1s\n  evaluation_interval: {}\n", opts.evaluation_interval);
    if let Some(rules) = &opts.rules_yaml {
        write(&dir.path().join("rules.yml"), rules);
        yml.push_str("rule_files:\n  - rules.yml\n");
    }
    if let Some(am) = &opts.alertmanager_url {
        let target = am.trim_start_matches("http://").trim_end_matches('/');
        yml.push_str(&format!("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{target}']\n"));
    }
    yml.push_str("scrape_configs:");
    if opts.scrape_configs_yaml.trim().is_empty() {
        yml.push_str(" []\n");
    } else {
        yml.push('\n');
        for line in opts.scrape_configs_yaml.lines() {
            yml.push_str(&format!("  {line}\n"));
        }
    }
    let config = dir.path().join("prometheus.yml");
    write(&config, &yml);

    if let Some(history) = &opts.backfill_openmetrics {
        let file = dir.path().join("backfill.om");
        write(&file, history);
        let out = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&file)
            .arg(&data)
            .output()
            .unwrap_or_else(|e| {
                if e.kind() == ErrorKind::NotFound {
                    panic!("`promtool` not found on PATH: {INSTALL_HINT}")
                }
                panic!("running promtool: {e}")
            });
        assert!(
            out.status.success(),
            "promtool tsdb create-blocks-from openmetrics failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let args = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", data.display()),
        "--web.listen-address=127.0.0.1:{PORT}".to_string(),
        "--rules.alert.resend-delay=5s".to_string(),
        // Retention counts from the newest block, so old fixed-time histories stay anyway; be explicit.
        "--storage.tsdb.retention.time=100y".to_string(),
        "--web.enable-admin-api".to_string(),
        "--web.enable-lifecycle".to_string(),
    ];
    Server::launch("prometheus", "prometheus", args, "/-/ready", dir)
}

/// Starts Alertmanager with [`ALERTMANAGER_CONFIG`] (blackhole receiver), no clustering
/// (`--cluster.listen-address=`), storage in a temporary directory; waits for `/-/ready`.
pub fn alertmanager() -> Server {
    let dir = tempdir("alertmanager");
    let config = dir.path().join("alertmanager.yml");
    write(&config, ALERTMANAGER_CONFIG);
    let args = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.path={}", dir.path().join("data").display()),
        "--web.listen-address=127.0.0.1:{PORT}".to_string(),
        "--cluster.listen-address=".to_string(),
    ];
    Server::launch("alertmanager", "prometheus-alertmanager", args, "/-/ready", dir)
}

/// Starts node exporter; ready when `/metrics` answers.
pub fn node_exporter() -> Server {
    let dir = tempdir("node-exporter");
    let args = vec!["--web.listen-address=127.0.0.1:{PORT}".to_string()];
    Server::launch("node_exporter", "prometheus-node-exporter", args, "/metrics", dir)
}

/// Starts Pushgateway (no persistence); waits for `/-/ready`.
pub fn pushgateway() -> Server {
    let dir = tempdir("pushgateway");
    let args = vec!["--web.listen-address=127.0.0.1:{PORT}".to_string()];
    Server::launch("pushgateway", "prometheus-pushgateway", args, "/-/ready", dir)
}

/// Polls `f` every 100 ms until it returns true; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    loop {
        if f() {
            return;
        }
        if started.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        sleep(Duration::from_millis(100));
    }
}

/// `GET url` → (status, body). Panics if the server cannot be reached.
pub fn http_get(url: &str) -> (u16, String) {
    http_request("GET", url, None).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// `POST url` with a body → (status, body). Panics if the server cannot be reached.
pub fn http_post(url: &str, content_type: &str, body: &str) -> (u16, String) {
    http_request("POST", url, Some((content_type, body))).unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// `DELETE url` → (status, body). Panics if the server cannot be reached.
pub fn http_delete(url: &str) -> (u16, String) {
    http_request("DELETE", url, None).unwrap_or_else(|e| panic!("DELETE {url}: {e}"))
}

/// One HTTP/1.0 request (no keep-alive, no chunking, no compression). `url` is
/// `http://host:port/path?query`, the query already percent-encoded (see [`urlencode`]).
pub fn http_request(method: &str, url: &str, body: Option<(&str, &str)>) -> std::io::Result<(u16, String)> {
    let bad = |why: &str| std::io::Error::new(ErrorKind::InvalidInput, format!("{why}: {url}"));
    let rest = url.strip_prefix("http://").ok_or_else(|| bad("only http:// URLs"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = host.to_socket_addrs()?.next().ok_or_else(|| bad("no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\nAccept: */*\r\n");
    if let Some((content_type, body)) = body {
        req.push_str(&format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    } else {
        req.push_str("\r\n");
    }
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| bad("response without a header end"))?;
    let status =
        head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("response without a status"))?;
    Ok((status, body.to_string()))
}

/// Percent-encodes a query parameter value (everything but `A-Z a-z 0-9 - _ . ~`).
pub fn urlencode(s: &str) -> String {
    faultline::sources::cloudwatch::sigv4::encode(s)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (for Alertmanager silences, Prometheus `time=` etc.).
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Deterministic value in [0, 1) for (series, step): splitmix64.
fn jitter(series: u64, step: u64) -> f64 {
    let mut z = series.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(step).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Services of [`topology_history`]: (service, host it runs on, normal p99 s, slow p99 s).
pub const TOPOLOGY_SERVICES: [(&str, &str, f64, f64); 4] = [
    ("frontend", "app-1", 0.120, 1.60),
    ("checkout", "app-1", 0.080, 1.20),
    ("catalog", "app-1", 0.050, 0.90),
    ("orders-db", "db-1", 0.010, 0.80),
];
/// Call edges of [`topology_history`]: (client, server, normal requests per second).
pub const TOPOLOGY_CALLS: [(&str, &str, u64); 3] =
    [("frontend", "checkout", 20), ("checkout", "orders-db", 15), ("catalog", "orders-db", 8)];

/// OpenMetrics backfill (for [`PrometheusOpts::backfill_openmetrics`]) of a small service topology
/// with an injected fault: database host CPU saturation that slows everything depending on it.
///
/// Shape (deterministic; one sample every 15 s at `end_secs - minutes*60 + 15*k`, the last one
/// exactly at `end_secs`; small deterministic jitter on every gauge):
/// - Hosts `app-1`, `db-1`. Services frontend, checkout, catalog on `app-1`; orders-db on `db-1`.
///   Calls: frontend → checkout → orders-db, catalog → orders-db.
/// - `node_cpu_utilisation{instance}` gauge, 0..1: app-1 ≈ 0.30–0.40 throughout; db-1 ≈ 0.25–0.35,
///   then 0.965–0.975 for samples at `t >= end_secs - 600` (the last 10 minutes).
/// - `node_memory_utilisation{instance}` gauge: app-1 ≈ 0.55, db-1 ≈ 0.62, flat.
/// - `service_latency_p99_seconds{service,instance}` gauge: normal frontend 0.12, checkout 0.08,
///   catalog 0.05, orders-db 0.01 (±10%); for `t >= end_secs - 540` (last 9 minutes) slow:
///   frontend 1.6, checkout 1.2, catalog 0.9, orders-db 0.8 (±10%). See [`TOPOLOGY_SERVICES`].
/// - `service_info{service,instance}` gauge, always 1: the *runs on* relation (service → host).
/// - `traces_service_graph_request_total{client,server}` counter (family
///   `traces_service_graph_request`): the *calls* edges, starting at 0 and growing by
///   ≈ rate×15 (±10%) per step: frontend→checkout 20/s, checkout→orders-db 15/s,
///   catalog→orders-db 8/s. See [`TOPOLOGY_CALLS`].
///
/// With [`TOPOLOGY_RULES`], `HostCpuSaturated{instance="db-1"}` and `ServiceLatencyHigh` for all
/// four services fire when `end_secs` is "now" (a backfilled sample stays visible to instant
/// queries and rules for the 5-minute lookback after it).
pub fn topology_history(end_secs: i64, minutes: u32) -> String {
    let steps = u64::from(minutes) * 4;
    let time = |k: u64| end_secs - (steps - k) as i64 * 15;
    let mut out = String::new();
    let mut series_id = 0u64;
    let mut gauge = |out: &mut String, labels: String, value: &dyn Fn(i64, f64) -> f64| {
        series_id += 1;
        for k in 0..=steps {
            let t = time(k);
            out.push_str(&format!("{labels} {:.4} {t}\n", value(t, jitter(series_id, k))));
        }
    };

    out.push_str("# HELP node_cpu_utilisation CPU utilisation of the host, 0..1.\n");
    out.push_str("# TYPE node_cpu_utilisation gauge\n");
    gauge(&mut out, r#"node_cpu_utilisation{instance="app-1"}"#.into(), &|_, j| 0.30 + 0.10 * j);
    let saturated_from = end_secs - 600;
    gauge(&mut out, r#"node_cpu_utilisation{instance="db-1"}"#.into(), &|t, j| {
        if t >= saturated_from {
            0.965 + 0.01 * j
        } else {
            0.25 + 0.10 * j
        }
    });

    out.push_str("# HELP node_memory_utilisation Memory utilisation of the host, 0..1.\n");
    out.push_str("# TYPE node_memory_utilisation gauge\n");
    gauge(&mut out, r#"node_memory_utilisation{instance="app-1"}"#.into(), &|_, j| 0.54 + 0.02 * j);
    gauge(&mut out, r#"node_memory_utilisation{instance="db-1"}"#.into(), &|_, j| 0.61 + 0.02 * j);

    out.push_str("# HELP service_latency_p99_seconds 99th percentile request latency.\n");
    out.push_str("# TYPE service_latency_p99_seconds gauge\n");
    let slow_from = end_secs - 540;
    for (service, host, normal, slow) in TOPOLOGY_SERVICES {
        let labels = format!(r#"service_latency_p99_seconds{{service="{service}",instance="{host}"}}"#);
        gauge(&mut out, labels, &|t, j| if t >= slow_from { slow } else { normal } * (0.9 + 0.2 * j));
    }

    out.push_str("# HELP service_info Which host a service runs on.\n");
    out.push_str("# TYPE service_info gauge\n");
    for (service, host, _, _) in TOPOLOGY_SERVICES {
        gauge(&mut out, format!(r#"service_info{{service="{service}",instance="{host}"}}"#), &|_, _| 1.0);
    }

    out.push_str("# HELP traces_service_graph_request Requests between services (service graph).\n");
    out.push_str("# TYPE traces_service_graph_request counter\n");
    for (client, server, rate) in TOPOLOGY_CALLS {
        series_id += 1;
        let mut total = 0u64;
        for k in 0..=steps {
            if k > 0 {
                total += (rate as f64 * 15.0 * (0.9 + 0.2 * jitter(series_id, k))).round() as u64;
            }
            out.push_str(&format!(
                "traces_service_graph_request_total{{client=\"{client}\",server=\"{server}\"}} {total} {}\n",
                time(k)
            ));
        }
    }

    out.push_str("# EOF\n");
    out
}

/// A Prometheus holding the last 30 minutes of [`topology_history`] with [`TOPOLOGY_RULES`];
/// add what a test needs with `PrometheusOpts { alertmanager_url: …, ..topology_opts() }`.
pub fn topology_opts() -> PrometheusOpts {
    PrometheusOpts {
        backfill_openmetrics: Some(topology_history(now_secs(), 30)),
        rules_yaml: Some(TOPOLOGY_RULES.to_string()),
        ..Default::default()
    }
}

/// The `[[sources.prometheus.queries]]` tables that read [`topology_history`]'s four series.
pub const TOPOLOGY_QUERIES: &str = r#"
[[sources.prometheus.queries]]
name = "cpu_utilisation"
query = "node_cpu_utilisation"

[[sources.prometheus.queries]]
name = "latency_p99_seconds"
query = "service_latency_p99_seconds"

[[sources.prometheus.queries]]
name = "service_info"
query = "service_info"

[[sources.prometheus.queries]]
name = "traces_service_graph_request_total"
query = "traces_service_graph_request_total"
"#;

/// Writes `text` as `dir/faultline.toml` and returns its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("faultline.toml");
    fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// A Prometheus backfilled with [`topology_history`] and [`TOPOLOGY_RULES`], once
/// `HostCpuSaturated` fires.
pub fn topology_prometheus() -> Server {
    let prom = prometheus(topology_opts());
    wait_until("HostCpuSaturated firing", Duration::from_secs(20), || {
        http_get(&format!("{}/api/v1/alerts", prom.url)).1.contains("HostCpuSaturated")
    });
    prom
}

/// Posts one firing alert straight into Alertmanager (as Prometheus would) and waits for it.
pub fn fire_alert(am: &Server) {
    let body = r#"[{"labels":{"alertname":"HostCpuSaturated","instance":"db-1:9100","severity":"critical"},
        "annotations":{"summary":"CPU on db-1 above 95%"}}]"#;
    let (status, answer) = http_post(&format!("{}/api/v2/alerts", am.url), "application/json", body);
    assert_eq!(status, 200, "{answer}");
    wait_until("the alert in Alertmanager", Duration::from_secs(10), || {
        http_get(&format!("{}/api/v2/alerts", am.url)).1.contains("HostCpuSaturated")
    });
}

/// A config with the test's Prometheus and Alertmanager, journal at `dir/journal.sqlite`.
pub fn live_config(dir: &Path, prom: &Server, am: &Server) -> PathBuf {
    let text = format!(
        r#"
[journal]
path = "{journal}"

[[sources.prometheus]]
name = "prom"
url = "{prom}"
interval = "1s"
timeout = "1s"
retries = 0

[[sources.alertmanager]]
name = "am"
url = "{am}"
interval = "1s"
silence_duration = "2h"
"#,
        journal = dir.join("journal.sqlite").display(),
        prom = prom.url,
        am = am.url,
    );
    write_config(dir, &text)
}

/// Runs `faultline agent --once --config CONFIG [--journal JOURNAL]` with its log in `dir`, and
/// returns its JSON output and stderr; fails the test if it fails or prints no JSON.
pub fn agent_once(dir: &Path, config: &Path, journal: Option<&Path>) -> (serde_json::Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.args(["agent", "--once", "--config"]).arg(config).arg("--log-file").arg(dir.join("faultline.log"));
    if let Some(j) = journal {
        cmd.arg("--journal").arg(j);
    }
    let out = cmd.output().expect("running faultline");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "agent --once failed: {stderr}");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    (json, stderr)
}
