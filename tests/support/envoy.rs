//! Starts a real Envoy (from the project's `.venv`) with the freshly built `tollgate.wasm`,
//! on ephemeral ports with its own base id, and kills it on drop even when a test fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Envoy binary: `$TOLLGATE_ENVOY`, else `.venv/bin/envoy` (installed by `make envoy`).
pub fn envoy_bin() -> PathBuf {
    std::env::var_os("TOLLGATE_ENVOY").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv/bin/envoy"))
}

/// The release module built by `make build`.
pub fn wasm_path() -> PathBuf {
    let p = repo().join("target/wasm32-wasip1/release/tollgate.wasm");
    assert!(p.exists(), "{} is missing: run `make build` first", p.display());
    p
}

fn scratch_dir() -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("tollgate-it-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// A running Envoy.
pub struct Envoy {
    child: Child,
    pub port: u16,
    pub admin_port: u16,
    pub dir: PathBuf,
}

/// Why Envoy did not come up, with its log.
#[derive(Debug)]
pub struct StartError {
    pub log: String,
}

impl Envoy {
    /// Starts Envoy on `yaml` and waits until its first listener is bound. Panics with the log on failure.
    pub fn start(yaml: &str) -> Envoy {
        Self::start_with_env(yaml, &[])
    }

    pub fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Envoy {
        match Self::try_start(yaml, env) {
            Ok(e) => e,
            Err(e) => panic!("envoy did not start:\n{}", e.log),
        }
    }

    /// Starts Envoy with `workers` worker threads (`--concurrency`).
    pub fn start_with_workers(yaml: &str, workers: u32) -> Envoy {
        match Self::try_start_with(yaml, &[], workers) {
            Ok(e) => e,
            Err(e) => panic!("envoy did not start:\n{}", e.log),
        }
    }

    /// Starts Envoy with `workers` worker threads and `env` in its environment.
    pub fn start_with_env_and_workers(yaml: &str, env: &[(&str, &str)], workers: u32) -> Envoy {
        match Self::try_start_with(yaml, env, workers) {
            Ok(e) => e,
            Err(e) => panic!("envoy did not start:\n{}", e.log),
        }
    }

    /// Starts Envoy; `Err` carries the log when it exits or never binds its listener.
    pub fn try_start(yaml: &str, env: &[(&str, &str)]) -> Result<Envoy, StartError> {
        Self::try_start_with(yaml, env, 1)
    }

    fn try_start_with(yaml: &str, env: &[(&str, &str)], workers: u32) -> Result<Envoy, StartError> {
        let dir = scratch_dir();
        let cfg = dir.join("envoy.yaml");
        fs::write(&cfg, yaml).unwrap();
        let admin_file = dir.join("admin.txt");
        let log = fs::File::create(dir.join("envoy.log")).unwrap();
        let base_id = 10_000 + (std::process::id() % 50_000) * 8 + NEXT.fetch_add(1, Ordering::SeqCst);
        let mut cmd = Command::new(envoy_bin());
        cmd.current_dir(repo())
            .arg("-c")
            .arg(&cfg)
            .args(["--disable-hot-restart", "--concurrency", &workers.to_string(), "-l", "info", "--file-flush-interval-msec", "100", "--base-id"])
            .arg(base_id.to_string())
            .arg("--admin-address-path")
            .arg(&admin_file)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e} (run `make envoy`)", envoy_bin().display()));
        let mut envoy = Envoy { child, port: 0, admin_port: 0, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = envoy.child.try_wait() {
                return Err(StartError { log: envoy.log() });
            }
            if envoy.admin_port == 0 {
                if let Ok(s) = fs::read_to_string(&admin_file) {
                    envoy.admin_port = s.trim().rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
                }
            }
            if envoy.admin_port != 0 {
                let live = envoy.admin("/ready").is_some_and(|r| r.trim() == "LIVE");
                if let Some(p) = envoy.listener_port().filter(|_| live) {
                    envoy.port = p;
                    return Ok(envoy);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(StartError { log: envoy.log() })
    }

    fn listener_port(&self) -> Option<u16> {
        let body = self.admin("/listeners?format=json")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let port = v["listener_statuses"][0]["local_address"]["socket_address"]["port_value"].as_u64()?;
        (port != 0).then_some(port as u16)
    }

    /// GET on the admin interface; `None` when it does not answer.
    pub fn admin(&self, path: &str) -> Option<String> {
        let r = super::http_client::get(self.admin_port, path).ok()?;
        (r.status == 200).then(|| r.text())
    }

    /// Everything Envoy has logged so far (stderr and stdout, access log included).
    /// The Envoy process id (for its memory figures in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    /// JSON access-log lines (lines that parse as JSON objects with a `status`).
    pub fn access_log(&self) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("status").is_some())
            .map(expand_record)
            .collect()
    }

    /// Waits until `n` access-log lines exist (they are written when a stream ends).
    pub fn wait_access_log(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.access_log();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Spreads the `tollgate` field (the request's record, `%FILTER_STATE(wasm.tollgate:PLAIN)%`, a
/// JSON object) into the line, each value as the string a separate `wasm.tollgate.<field>` would
/// hold, so tests read `line["key_id"]` whichever way the field was published.
fn expand_record(mut line: serde_json::Value) -> serde_json::Value {
    let record = line.get("tollgate").and_then(|r| r.as_str()).and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok());
    if let (Some(serde_json::Value::Object(fields)), Some(obj)) = (record, line.as_object_mut()) {
        for (k, v) in fields {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            obj.entry(k).and_modify(|e| {
                if e.is_null() {
                    *e = serde_json::Value::String(text.clone());
                }
            }).or_insert(serde_json::Value::String(text));
        }
    }
    line
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("envoy log kept in {}", self.dir.display());
        }
    }
}

/// Renders `envoy/demo.yaml` for a test: ephemeral listener and admin ports, the mock on `mock_port`.
pub fn demo_yaml(mock_port: u16) -> String {
    shipped_yaml("envoy/demo.yaml", mock_port)
}

/// Renders a shipped Envoy config (listener 10000, admin 9901, mock provider 18080) for a test:
/// ephemeral listener and admin ports, the mock on `mock_port`.
pub fn shipped_yaml(path: &str, mock_port: u16) -> String {
    let src = fs::read_to_string(repo().join(path)).unwrap();
    assert!(src.contains("port_value: 10000") && src.contains("port_value: 9901") && src.contains("port_value: 18080"), "{path}");
    src.replace("port_value: 10000", "port_value: 0")
        .replace("port_value: 9901", "port_value: 0")
        .replace("port_value: 18080", &format!("port_value: {mock_port}"))
}

/// A gateway bootstrap for tests: one listener with optional filters before tollgate, tollgate
/// with `config` (JSON), the router, a JSON access log, and loopback clusters `(name, port)`.
pub struct Gateway<'a> {
    pub config: &'a str,
    pub clusters: &'a [(&'a str, u16)],
    /// YAML list items (indented 10 spaces) inserted before the tollgate filter.
    pub pre_filters: &'a str,
    pub env_keys: &'a [&'a str],
}

impl Gateway<'_> {
    pub fn yaml(&self) -> String {
        let wasm = wasm_path();
        let config = serde_json::to_string(self.config).unwrap();
        let clusters: String = self
            .clusters
            .iter()
            .map(|(name, port)| {
                format!(
                    "  - name: {name}\n    type: STATIC\n    connect_timeout: 2s\n    load_assignment:\n      cluster_name: {name}\n      endpoints:\n      - lb_endpoints:\n        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }} }}\n"
                )
            })
            .collect();
        let keys = serde_json::to_string(self.env_keys).unwrap();
        format!(
            r#"admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
stats_flush_interval: 0.2s
stats_config:
  stats_tags:
  # tollgate encodes tags in its stat names; these turn them into Prometheus labels.
  - tag_name: model
    regex: '^wasmcustom\.tollgate\.(?:cache\.|breaker\.provider\.[^.]+\.)?(model\.([^.]+)\.)'
  - tag_name: provider
    regex: '^wasmcustom\.tollgate\.(?:model\.[^.]+\.|breaker\.)(provider\.([^.]+)\.)'
  - tag_name: tenant
    regex: '^wasmcustom\.tollgate\.(?:model\.[^.]+\.provider\.[^.]+\.|cache\.model\.[^.]+\.)(tenant\.([^.]+)\.)'
  - tag_name: status_class
    regex: '^wasmcustom\.tollgate\.model\.[^.]+\.provider\.[^.]+\.tenant\.[^.]+\.(status\.([^.]+)\.)'
  - tag_name: detector
    regex: '^wasmcustom\.tollgate\.redaction\.(detector\.([^.]+)\.)'
  - tag_name: action
    regex: '^wasmcustom\.tollgate\.redaction\.detector\.[^.]+\.(action\.([^.]+)\.)'
static_resources:
  listeners:
  - name: llm
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: llm
          access_log:
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
              log_format:
                json_format:
                  status: "%RESPONSE_CODE%"
                  path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"
                  upstream_cluster: "%UPSTREAM_CLUSTER%"
                  tollgate: "%FILTER_STATE(wasm.tollgate:PLAIN)%"
                  total_tokens: "%FILTER_STATE(wasm.tollgate.total_tokens:PLAIN)%"
          route_config:
            virtual_hosts:
            - name: llm
              domains: ["*"]
              routes:
              - match: {{ prefix: "/" }}
                route: {{ cluster_header: x-tollgate-cluster, timeout: 30s }}
          http_filters:
{pre}          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: tollgate
                root_id: tollgate
                allow_on_headers_stop_iteration: true
                failure_policy: FAIL_RELOAD
                vm_config:
                  vm_id: tollgate
                  runtime: envoy.wasm.runtime.v8
                  code: {{ local: {{ filename: {wasm} }} }}
                  environment_variables: {{ host_env_keys: {keys} }}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {config}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
{clusters}"#,
            pre = self.pre_filters,
            wasm = wasm.display(),
        )
    }
}

/// Runs `envoy --mode validate` on a file; `Err` carries the output.
pub fn validate(path: &Path) -> Result<(), String> {
    let out = Command::new(envoy_bin())
        .current_dir(repo())
        .args(["--mode", "validate", "--disable-hot-restart", "-l", "error", "-c"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run envoy: {e}"));
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}
