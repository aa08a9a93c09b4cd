#!/usr/bin/env python3
"""Validates Kubernetes manifests against Istio's CRD schemas, without a cluster.

    validate_k8s.py --crds tests/fixtures/istio/customresourcedefinitions.gen.yaml examples/istio
    validate_k8s.py ... --plugin-configs   # also print tollgate's config in each WasmPlugin,
                                            # TrafficExtension and EnvoyFilter as JSON lines
                                            # (tests/istio.rs checks them)

Every YAML document must have apiVersion, kind and metadata.name. Istio kinds are validated
against `spec.versions[].schema.openAPIV3Schema` of their CRD with a JSON-Schema validator, and
more strictly than a bare validator would be:

- unknown fields are errors (like `kubectl apply --validate=strict`): structural schemas do not
  say `additionalProperties: false`, the API server would silently prune a misspelt field;
- the CEL rules (`x-kubernetes-validations`) are evaluated, as the API server would, with a CEL
  implementation (plus Kubernetes' `isURL`/`url()` extension for `url` fields); a rule that
  cannot be evaluated is an error, so a new Istio schema cannot pass unchecked.

The few core kinds the examples need (Secret, the Deployment patch that gives a gateway its
environment) are checked against the small schemas below. Exit status 1 on any error.
"""
import json
import re
import sys
from pathlib import Path

import cel  # PyPI common-expression-language: evaluates the schemas' CEL rules
import jsonschema
import yaml

# libyaml's parser when PyYAML has it (its wheels do): the CRD file is ~1 MB.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Minimal strict schemas for the core kinds the examples use.
STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
META = {"type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                       "labels": STR_MAP, "annotations": STR_MAP}}
ENV_VAR = {"type": "object", "required": ["name"], "additionalProperties": False,
           "properties": {"name": {"type": "string"}, "value": {"type": "string"},
                          "valueFrom": {"type": "object", "additionalProperties": False, "properties": {
                              "secretKeyRef": {"type": "object", "required": ["name", "key"], "additionalProperties": False,
                                               "properties": {"name": {"type": "string"}, "key": {"type": "string"},
                                                              "optional": {"type": "boolean"}}}}}}}
CORE = {
    ("v1", "Secret"): {"type": "object", "required": ["metadata"], "additionalProperties": False, "properties": {
        "apiVersion": {}, "kind": {}, "metadata": META,
        "type": {"type": "string"}, "stringData": STR_MAP, "data": STR_MAP}},
    ("apps/v1", "Deployment"): {"type": "object", "required": ["metadata", "spec"], "additionalProperties": False, "properties": {
        "apiVersion": {}, "kind": {}, "metadata": META,
        "spec": {"type": "object", "additionalProperties": False, "properties": {"template": {
            "type": "object", "additionalProperties": False, "properties": {
                "metadata": {"type": "object", "additionalProperties": False, "properties": {"labels": STR_MAP}},
                "spec": {
                "type": "object", "additionalProperties": False, "properties": {"containers": {
                    "type": "array", "items": {"type": "object", "required": ["name"], "additionalProperties": False,
                                               "properties": {"name": {"type": "string"},
                                                              "env": {"type": "array", "items": ENV_VAR}}}}}}}}}}}},
}


def _url_rule(rule):
    """Kubernetes' `isURL`/`url()` CEL extension (not in standard CEL), as Istio uses it on `url`."""
    m = re.match(r'^isURL\(self\) \? \(url\(self\)\.getScheme\(\) in \[(.*?)\]\)', rule)
    if not m:
        return None
    schemes = {x.strip().strip('"') for x in m.group(1).split(",")} - {""}
    def check(s):
        scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", s)
        return scheme.group(1) in schemes if scheme else not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^0-9]", s)
    return check


def cel_check(rule, value):
    """True/False for a rule, or None when neither CEL nor the k8s URL extension can evaluate it."""
    fn = _url_rule(rule)
    if fn is not None:
        return fn(value)
    try:
        return bool(cel.evaluate(rule, {"self": value}))
    except Exception:  # noqa: BLE001 - an unevaluable rule is reported, never passed
        return None


def walk(schema, inst, path, errors):
    """Strict unknown-field check and CEL rules, following the schema alongside the instance."""
    if not isinstance(schema, dict):
        return
    for v in schema.get("x-kubernetes-validations", []):
        ok = cel_check(v["rule"], inst)
        if ok is None:
            errors.append(f"{path}: CEL rule not understood by this validator: {v['rule']}")
        elif not ok:
            errors.append(f"{path}: {v.get('message', v['rule'])}")
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            if "properties" in sub:
                walk(sub, inst, path, errors)
    if isinstance(inst, dict):
        props = schema.get("properties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
        addl = schema.get("additionalProperties")
        for k, v in inst.items():
            if props is not None and k in props:
                walk(props[k], v, f"{path}.{k}", errors)
            elif isinstance(addl, dict):
                walk(addl, v, f"{path}.{k}", errors)
            elif props is not None and not preserve and addl is not True:
                errors.append(f"{path}: unknown field `{k}`")
    elif isinstance(inst, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(inst):
            walk(schema["items"], v, f"{path}[{i}]", errors)


def load_crds(path):
    schemas = {}
    for doc in yaml.load_all(Path(path).read_text(), Loader=LOADER):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        for ver in spec["versions"]:
            if ver.get("served", True) and "schema" in ver:
                schemas[(f"{spec['group']}/{ver['name']}", spec["names"]["kind"])] = ver["schema"]["openAPIV3Schema"]
    return schemas


def check(doc, crds):
    errors = []
    for field in ("apiVersion", "kind"):
        if not isinstance(doc.get(field), str):
            errors.append(f"missing {field}")
    if errors:
        return errors
    key = (doc["apiVersion"], doc["kind"])
    meta = doc.get("metadata") or {}
    if not meta.get("name"):
        errors.append("missing metadata.name")
    if key in CORE:
        errors += [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                   for e in jsonschema.Draft7Validator(CORE[key]).iter_errors(doc)]
        return errors
    schema = crds.get(key)
    if schema is None:
        return errors + [f"no schema for {key[0]} {key[1]} (not an Istio CRD in this version, nor a known core kind)"]
    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
    errors += [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
               for e in jsonschema.Draft4Validator(schema).iter_errors(body)]
    walk(schema, body, "", errors)
    return errors


def plugin_outputs(doc):
    """tollgate's config in a manifest and the environment it gets: WasmPlugin/TrafficExtension
    `pluginConfig` and `vmConfig.env`; for an EnvoyFilter, the Wasm extension config it ADDs
    (its JSON `configuration` parsed, its `host_env_keys`) and the HTTP filter it inserts; for a
    Deployment patch, the env names it gives the istio-proxy container."""
    spec = doc.get("spec", {})
    if doc.get("kind") == "EnvoyExtensionPolicy":
        for w in spec.get("wasm", []):
            yield {"pluginConfig": w.get("config"), "env": w.get("env", {}).get("hostKeys", [])}
        return
    wasm = spec.get("wasm", spec)
    if wasm.get("pluginConfig") is not None:
        env = [e["name"] for e in wasm.get("vmConfig", {}).get("env", [])]
        yield {"pluginConfig": wasm["pluginConfig"], "env": env}
    if doc.get("kind") == "Deployment":
        containers = spec.get("template", {}).get("spec", {}).get("containers", [])
        yield {"proxyEnv": [e["name"] for c in containers if c.get("name") == "istio-proxy" for e in c.get("env", [])]}
    if doc.get("kind") != "EnvoyFilter":
        return
    out = {}
    for patch in spec.get("configPatches", []):
        value = patch.get("patch", {}).get("value", {})
        if patch.get("applyTo") == "EXTENSION_CONFIG":
            out["extensionConfig"] = value
            wasm = value.get("typed_config", {}).get("config", {})
            out["pluginConfig"] = json.loads(wasm.get("configuration", {}).get("value", "null"))
            out["env"] = wasm.get("vm_config", {}).get("environment_variables", {}).get("host_env_keys", [])
        elif patch.get("applyTo") == "HTTP_FILTER":
            out["httpFilter"] = value
    if out:
        yield out


def manifest_files(args):
    for a in args:
        p = Path(a)
        if p.is_dir():
            for f in sorted(p.rglob("*.y*ml")):
                if "apiVersion:" in f.read_text():
                    yield f
        else:
            yield p


def main(argv):
    crds_paths, plugin_configs, targets = [], False, []
    it = iter(argv)
    for a in it:
        if a == "--crds":
            crds_paths.append(next(it))
        elif a == "--plugin-configs":
            plugin_configs = True
        else:
            targets.append(a)
    if not crds_paths or not targets:
        print(__doc__, file=sys.stderr)
        return 2
    crds = {}
    for path in crds_paths:
        crds.update(load_crds(path))
    failed, checked, kinds = 0, 0, {}
    for f in manifest_files(targets):
        for i, doc in enumerate(yaml.load_all(f.read_text(), Loader=LOADER)):
            if doc is None:
                continue
            errors = check(doc, crds)
            checked += 1
            kinds[doc.get("kind")] = kinds.get(doc.get("kind"), 0) + 1
            name = f"{f}#{i} {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            if errors:
                failed += 1
                for e in errors:
                    print(f"FAIL {name}: {e}", file=sys.stderr)
            elif plugin_configs:
                for out in plugin_outputs(doc):
                    print(json.dumps({"manifest": name, **out}))
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(f"validated {checked} manifests ({summary}); {failed} failed", file=sys.stderr)
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
