//! Real `redis-server` and `webdis` (Debian packages `redis-server` and `webdis`, installed by
//! `.ci/run`) on loopback, on ephemeral ports, with their config in a temp dir; both are killed
//! on drop. Redis runs without persistence, so a restart starts empty (as a cache tier would).

use super::http_client::request;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}: {}", fs::read_to_string(log).unwrap_or_default());
        thread::sleep(Duration::from_millis(20));
    }
}

/// Redis plus webdis in front of it.
pub struct RedisWebdis {
    redis: Option<Child>,
    webdis: Child,
    pub redis_port: u16,
    pub webdis_port: u16,
    dir: PathBuf,
}

impl RedisWebdis {
    pub fn start() -> RedisWebdis {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tollgate-redis-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let (redis_port, webdis_port) = (free_port(), free_port());
        let mut s = RedisWebdis { redis: None, webdis: spawn_webdis(&dir, redis_port, webdis_port), redis_port, webdis_port, dir };
        s.start_redis();
        wait_port(webdis_port, "webdis", &s.dir.join("webdis.log"));
        s
    }

    /// (Re)starts redis-server on its port, empty.
    pub fn start_redis(&mut self) {
        let conf = self.dir.join("redis.conf");
        let text = format!("port {}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir {}\nlogfile {}\n", self.redis_port, self.dir.display(), self.dir.join("redis.log").display());
        fs::write(&conf, text).unwrap();
        let child = Command::new("redis-server").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("redis-server (Debian package redis-server)");
        self.redis = Some(child);
        wait_port(self.redis_port, "redis-server", &self.dir.join("redis.log"));
        // webdis reconnects on its own; wait until a command goes through.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command("PING").map(|v| v["PING"] != serde_json::json!([true, "PONG"])).unwrap_or(true) {
            assert!(Instant::now() < deadline, "webdis does not reach redis: {}", fs::read_to_string(self.dir.join("webdis.log")).unwrap_or_default());
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills redis-server (webdis stays up and answers errors).
    pub fn stop_redis(&mut self) {
        if let Some(mut c) = self.redis.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// One command through webdis (`GET /<command path>`), its JSON reply.
    pub fn command(&self, path: &str) -> Option<serde_json::Value> {
        let r = request(self.webdis_port, "GET", &format!("/{path}"), &[], b"").ok()?;
        serde_json::from_slice(&r.body).ok()
    }

    /// An integer key's value (0 when missing).
    pub fn get_int(&self, key: &str) -> i64 {
        let v = self.command(&format!("GET/{}", key.replace('/', "%2f").replace('.', "%2e"))).unwrap_or_default();
        v["GET"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// Keys matching a pattern.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let v = self.command(&format!("KEYS/{pattern}")).unwrap_or_default();
        v["KEYS"].as_array().map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect()).unwrap_or_default()
    }

    pub fn ttl(&self, key: &str) -> i64 {
        self.command(&format!("TTL/{key}")).and_then(|v| v["TTL"].as_i64()).unwrap_or(-3)
    }
}

fn spawn_webdis(dir: &Path, redis_port: u16, webdis_port: u16) -> Child {
    let conf = dir.join("webdis.json");
    let log = dir.join("webdis.log");
    let json = serde_json::json!({
        "redis_host": "127.0.0.1", "redis_port": redis_port, "redis_auth": null,
        "http_host": "127.0.0.1", "http_port": webdis_port, "threads": 2, "pool_size": 4,
        "daemonize": false, "database": 0, "verbosity": 3, "logfile": log.display().to_string()
    });
    fs::write(&conf, json.to_string()).unwrap();
    Command::new("webdis").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("webdis (Debian package webdis)")
}

impl Drop for RedisWebdis {
    fn drop(&mut self) {
        self.stop_redis();
        let _ = self.webdis.kill();
        let _ = self.webdis.wait();
    }
}
