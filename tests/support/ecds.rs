//! File-based ECDS for tests: a watched directory holding one xDS `DiscoveryResponse` of
//! `TypedExtensionConfig`s, replaced atomically (write a temp file, rename it into place), the
//! way Envoy's filesystem subscriptions expect and the way an Istio push reaches a proxy.

use serde_json::{json, Value};
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub const WASM_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";

pub struct EcdsDir {
    pub dir: PathBuf,
    pub file: PathBuf,
    version: AtomicU32,
}

impl EcdsDir {
    pub fn new() -> EcdsDir {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tollgate-ecds-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("extensions.json");
        EcdsDir { dir, file, version: AtomicU32::new(0) }
    }

    /// Publishes `resources` (TypedExtensionConfig JSON values) as the next version.
    pub fn publish(&self, resources: &[Value]) {
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        let with_type: Vec<Value> = resources
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r["@type"] = json!("type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig");
                r
            })
            .collect();
        let body = json!({"version_info": version.to_string(), "resources": with_type});
        let tmp = self.dir.join(format!(".extensions.json.{version}.tmp"));
        fs::write(&tmp, serde_json::to_vec_pretty(&body).unwrap()).unwrap();
        fs::rename(&tmp, &self.file).unwrap();
    }

    /// The `config_source` that reads this directory (JSON, valid inside YAML).
    pub fn config_source(&self) -> Value {
        json!({"path_config_source": {"path": self.file, "watched_directory": {"path": self.dir}}, "initial_fetch_timeout": "0s"})
    }
}

impl Drop for EcdsDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A Wasm HTTP filter config for tollgate loading the local release module with `config`.
pub fn tollgate_wasm(config: &str, env_keys: &[&str]) -> Value {
    json!({
        "@type": WASM_TYPE,
        "config": {
            "name": "tollgate",
            "root_id": "tollgate",
            "allow_on_headers_stop_iteration": true,
            "failure_policy": "FAIL_RELOAD",
            "vm_config": {
                "vm_id": "tollgate",
                "runtime": "envoy.wasm.runtime.v8",
                "code": {"local": {"filename": super::envoy::wasm_path()}},
                "environment_variables": {"host_env_keys": env_keys},
            },
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": config},
        }
    })
}
