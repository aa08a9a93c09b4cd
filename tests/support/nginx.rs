//! A real nginx (Debian package `nginx`, installed by `.ci/run`) serving files from a temp
//! directory on an ephemeral loopback port, killed on drop. nginx's static file handler is the
//! reference for what a key source's server does: `Range` (206 with `Content-Range`), `ETag`,
//! `If-None-Match` (304) and `If-Match` (412).

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Nginx {
    child: Child,
    pub port: u16,
    /// The document root: files written here are served at `/<name>`.
    pub root: PathBuf,
    dir: PathBuf,
}

impl Nginx {
    pub fn start() -> Nginx {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tollgate-nginx-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let root = dir.join("root");
        fs::create_dir_all(&root).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/cb;\n  proxy_temp_path {d}/px;\n  fastcgi_temp_path {d}/fc;\n  uwsgi_temp_path {d}/uw;\n  scgi_temp_path {d}/sc;\n\
               server {{ listen 127.0.0.1:{port}; root {r}; location / {{ }} }}\n}}\n",
            d = dir.display(),
            r = root.display()
        );
        fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new("nginx")
            .args(["-p", &dir.display().to_string(), "-c", &dir.join("nginx.conf").display().to_string(), "-e", &dir.join("error.log").display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx (Debian package nginx)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen: {}", fs::read_to_string(dir.join("error.log")).unwrap_or_default());
            thread::sleep(Duration::from_millis(20));
        }
        Nginx { child, port, root, dir }
    }

    /// Writes (or replaces, atomically: a new inode, so a new ETag) a served file.
    pub fn put(&self, name: &str, body: &[u8]) {
        let tmp = self.root.join(format!(".{name}.tmp"));
        fs::write(&tmp, body).unwrap();
        fs::rename(&tmp, self.root.join(name)).unwrap();
    }

    /// The access log's request lines and statuses so far (one line per request).
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
