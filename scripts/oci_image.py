#!/usr/bin/env python3
"""Packs tollgate.wasm as an OCI image layout that Istio can pull, without Docker.

    oci_image.py --wasm target/wasm32-wasip1/release/tollgate.wasm --out target/oci/tollgate \
                 [--tag 0.1.0] [--variant compat|oci]

Writes DIR/oci-layout, DIR/index.json and DIR/blobs/sha256/* (OCI image layout 1.0.0), then
prints the manifest digest: the value for WasmPlugin `sha256` or an `oci://…@sha256:` URL.
Push it with `skopeo copy oci:DIR:TAG docker://REGISTRY/tollgate:TAG`.

The two variants of the Wasm image specification that Istio's image fetcher reads
(istio/istio pkg/wasm/imagefetcher.go, spec in solo-io/wasm spec/):

- compat (default): exactly one `application/vnd.oci.image.layer.v1.tar+gzip` layer holding
  `plugin.wasm`, the manifest annotated `module.wasm.image/variant: compat`, a standard OCI image
  config. Standard registries and tools handle it; Istio tries it first; Envoy Gateway reads it.
- oci: two layers, the raw module as `application/vnd.module.wasm.content.layer.v1+wasm` and the
  runtime config (`application/vnd.module.wasm.config.v1+json`, also the manifest's config).

The output is reproducible: the same module gives the same digests (fixed tar and gzip times).
"""
import argparse
import gzip
import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TGZ = "application/vnd.oci.image.layer.v1.tar+gzip"
WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Layout:
    def __init__(self, root):
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True)

    def put(self, data, media_type, annotations=None):
        digest = hashlib.sha256(data).hexdigest()
        (self.blobs / digest).write_bytes(data)
        d = {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}
        if annotations:
            d["annotations"] = annotations
        return d


def plugin_tar(wasm):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("plugin.wasm")
        info.size, info.mode, info.mtime = len(wasm), 0o644, 0
        tar.addfile(info, io.BytesIO(wasm))
    return buf.getvalue()


def build(wasm, out, tag, variant, version):
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    layout = Layout(out)
    labels = {"org.opencontainers.image.title": "tollgate", "org.opencontainers.image.version": version}
    if variant == "compat":
        tar = plugin_tar(wasm)
        layer = layout.put(gzip.compress(tar, mtime=0), OCI_LAYER_TGZ)
        config = layout.put(canonical({
            "architecture": "wasm", "os": "wasip1", "config": {"Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(tar).hexdigest()}"]},
        }), OCI_CONFIG)
        layers = [layer]
        annotations = {"module.wasm.image/variant": "compat", **labels}
    else:
        runtime = canonical({"type": "envoy_proxy", "abiVersions": ["v0.2.1"], "config": {"rootIds": ["tollgate"]}})
        config = layout.put(runtime, WASM_CONFIG)
        layers = [layout.put(runtime, WASM_CONFIG, {"org.opencontainers.image.title": "runtime-config.json"}),
                  layout.put(wasm, WASM_LAYER, {"org.opencontainers.image.title": "plugin.wasm"})]
        annotations = labels
    manifest = layout.put(canonical({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers, "annotations": annotations,
    }), OCI_MANIFEST, {"org.opencontainers.image.ref.name": tag})
    (out / "oci-layout").write_bytes(canonical({"imageLayoutVersion": "1.0.0"}))
    (out / "index.json").write_bytes(canonical({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                                "manifests": [manifest]}))
    return manifest["digest"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wasm", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--tag", default="latest")
    p.add_argument("--version", default="")
    p.add_argument("--variant", choices=["compat", "oci"], default="compat")
    a = p.parse_args()
    wasm = a.wasm.read_bytes()
    if wasm[:4] != b"\0asm":
        sys.exit(f"{a.wasm} is not a wasm module")
    digest = build(wasm, a.out, a.tag, a.variant, a.version or a.tag)
    print(f"{a.out}: {a.variant} variant, tag {a.tag}")
    print(f"module sha256:   {hashlib.sha256(wasm).hexdigest()}")
    print(f"manifest digest: {digest}")


if __name__ == "__main__":
    main()
