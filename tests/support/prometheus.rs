//! A real Prometheus (Debian's `prometheus` package) on loopback, scraping an Envoy's
//! `/stats/prometheus` every second and evaluating rule files; queried over its HTTP API.

use super::envoy::repo;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Prometheus {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Percent-encodes a query parameter.
fn encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

impl Prometheus {
    /// Starts Prometheus scraping `127.0.0.1:<admin_port>/stats/prometheus` with `rule_files`
    /// (paths under the repository), evaluating every second.
    pub fn start(admin_port: u16, rule_files: &[&str]) -> Prometheus {
        let dir = std::env::temp_dir().join(format!("tollgate-prom-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let rules: Vec<String> = rule_files.iter().map(|r| format!("  - {}", repo().join(r).display())).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{}\nscrape_configs:\n  - job_name: envoy\n    metrics_path: /stats/prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{admin_port}']\n",
            rules.join("\n")
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus is not installed (apt-get install prometheus; .ci/run does)");
        let p = Prometheus { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if super::http_client::get(port, "/-/ready").is_ok_and(|r| r.status == 200) {
                return p;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("prometheus did not become ready");
    }

    /// An instant query's result vector (empty when no data).
    pub fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        let r = super::http_client::get(self.port, &format!("/api/v1/query?query={}", encode(expr)));
        let v = r.map(|r| r.json()).unwrap_or_default();
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Waits up to `within` for `expr` to return data.
    pub fn wait_for(&self, expr: &str, within: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + within;
        loop {
            let r = self.query(expr);
            if !r.is_empty() || Instant::now() > deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The names of the alerts now firing.
    pub fn firing(&self) -> Vec<String> {
        let v = super::http_client::get(self.port, "/api/v1/alerts").map(|r| r.json()).unwrap_or_default();
        v["data"]["alerts"].as_array().into_iter().flatten().filter(|a| a["state"] == "firing").filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_string)).collect()
    }
}
