//! The module as an OCI artifact, without Docker: `scripts/oci_image.py` (what `make oci` runs)
//! writes an OCI image layout; `skopeo` pushes it to a real registry on loopback (Debian's
//! `docker-registry`, started here), pulls it back by digest, and the module inside must be
//! byte-identical to `tollgate.wasm`. Both variants Istio reads are checked. The tools are
//! installed by `.ci/run`; when they are missing this test fails, it never skips.

mod support;

use sha2::{Digest as _, Sha256};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::envoy::{repo, wasm_path};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tollgate-oci-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (.ci/run installs docker-registry and skopeo)"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the layout; returns the manifest digest the script printed.
fn build_layout(out: &Path, variant: &str) -> String {
    let stdout = run(Command::new("python3")
        .arg(repo().join("scripts/oci_image.py"))
        .arg("--wasm")
        .arg(wasm_path())
        .arg("--out")
        .arg(out)
        .args(["--tag", "0.1.0", "--variant", variant]));
    let line = stdout.lines().find(|l| l.starts_with("manifest digest: ")).expect("digest line");
    line.trim_start_matches("manifest digest: ").to_string()
}

/// A `docker-registry` (CNCF distribution 2.x) on a loopback port with its storage in a temp dir.
struct Registry {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Registry {
    fn start() -> Registry {
        let dir = scratch("registry");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.join("config.yml");
        fs::write(&config, format!("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n", dir.join("store").display())).unwrap();
        let log = fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run docker-registry: {e} (.ci/run installs it: apt-get install docker-registry)"));
        let registry = Registry { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !support::http_client::get(port, "/v2/").is_ok_and(|r| r.status == 200) {
            assert!(Instant::now() < deadline, "registry did not start:\n{}", fs::read_to_string(registry.dir.join("registry.log")).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The module inside a pulled layout: `plugin.wasm` from the tar+gzip layer (compat) or the
/// raw wasm layer (oci).
fn module_in(layout: &Path) -> Vec<u8> {
    let index: serde_json::Value = serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let blob = |digest: &str| layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    let manifest: serde_json::Value = serde_json::from_slice(&fs::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap()).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    if let Some(raw) = layers.iter().find(|l| l["mediaType"] == "application/vnd.module.wasm.content.layer.v1+wasm") {
        return fs::read(blob(raw["digest"].as_str().unwrap())).unwrap();
    }
    assert_eq!(layers.len(), 1, "compat variant: exactly one layer");
    assert_eq!(layers[0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
    assert_eq!(manifest["annotations"]["module.wasm.image/variant"], "compat");
    let out = Command::new("tar").arg("-xzOf").arg(blob(layers[0]["digest"].as_str().unwrap())).arg("plugin.wasm").output().unwrap();
    assert!(out.status.success(), "plugin.wasm not in the layer: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn push_and_pull_back(variant: &str, registry: &Registry) {
    let work = scratch(variant);
    let layout = work.join("layout");
    let digest = build_layout(&layout, variant);
    let image = format!("127.0.0.1:{}/tollgate-{variant}", registry.port);
    run(Command::new("skopeo").args(["copy", "--quiet", "--dest-tls-verify=false"]).arg(format!("oci:{}:0.1.0", layout.display())).arg(format!("docker://{image}:0.1.0")));
    let raw = Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false"]).arg(format!("docker://{image}:0.1.0")).output().unwrap();
    assert!(raw.status.success(), "{}", String::from_utf8_lossy(&raw.stderr));
    let pushed = format!("sha256:{}", hex(&Sha256::digest(&raw.stdout)));
    assert_eq!(pushed, digest, "the registry serves the manifest unchanged, so its digest is what `make oci` printed");

    let pulled = work.join("pulled");
    run(Command::new("skopeo").args(["copy", "--quiet", "--src-tls-verify=false"]).arg(format!("docker://{image}@{digest}")).arg(format!("oci:{}:pulled", pulled.display())));
    let module = module_in(&pulled);
    let original = fs::read(wasm_path()).unwrap();
    assert_eq!(hex(&Sha256::digest(&module)), hex(&Sha256::digest(&original)), "{variant}: the pulled module is the built one");
    let _ = fs::remove_dir_all(&work);
}

#[test]
fn both_wasm_image_variants_round_trip_through_a_registry_by_digest() {
    let registry = Registry::start();
    push_and_pull_back("compat", &registry);
    push_and_pull_back("oci", &registry);
}

#[test]
fn the_layout_is_reproducible() {
    let (a, b) = (scratch("repro-a"), scratch("repro-b"));
    let (da, db) = (build_layout(&a.join("l"), "compat"), build_layout(&b.join("l"), "compat"));
    assert_eq!(da, db, "same module, same manifest digest");
    assert_eq!(fs::read(a.join("l/oci-layout")).unwrap(), br#"{"imageLayoutVersion":"1.0.0"}"#);
    let _ = (fs::remove_dir_all(a), fs::remove_dir_all(b));
}
