// A minimal proxy-wasm host in Node's V8 (the engine Envoy embeds), for profiling the module's
// own work per request: it runs N request lifecycles (context, request headers, request body,
// response headers, response body, log, done) through a module, with the bench request and a
// small JSON answer, and prints the mean time per callback and the host calls per request.
// The host calls are JavaScript stand-ins, so absolute figures are not Envoy's: compare builds
// side by side with it (`make bench-v8`), and confirm anything that matters with `make bench`
// in real Envoy. `node --cpu-prof` on it gives a per-function profile of an unstripped build
// (CARGO_PROFILE_RELEASE_STRIP=false).
//
// usage: [V8HOST_RESPONSE=answer.json] node bench/v8host.mjs module.wasm config.json body.json [N] [thrashMB]
//   thrashMB > 0 sweeps that many MiB of memory before each request (cold caches, as between
//   Envoy's own work).
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [wasmPath, cfgPath, bodyPath, nStr, thrashStr] = process.argv.slice(2);
const N = Number(nStr || 10000);
const thrash = new Uint8Array((Number(thrashStr || 0)) * 1024 * 1024);
const cfg = readFileSync(cfgPath);
const reqBody = readFileSync(bodyPath);
// V8HOST_RESPONSE=file: the upstream's answer, for a provider of another dialect (default: a small OpenAI chat completion).
const respBody = process.env.V8HOST_RESPONSE ? readFileSync(process.env.V8HOST_RESPONSE) : Buffer.from('{"id":"x","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"' + 'hello '.repeat(100) + '"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":100,"total_tokens":110}}');
const te = new TextEncoder(), td = new TextDecoder();
let inst, mem;
let _buf = null, _u8 = null, _dv = null;
function views() { const b = inst.exports.memory.buffer; if (b !== _buf) { _buf = b; _u8 = new Uint8Array(b); _dv = new DataView(b); } }
const u8 = () => { views(); return _u8; };
const dv = () => { views(); return _dv; };
const str = (p, n) => { const m = u8(); let s = ''; for (let i = 0; i < n; i++) s += String.fromCharCode(m[p + i]); return s; };
const encCache = new Map();
const enc = (v) => { let e = encCache.get(v); if (!e) { e = te.encode(v); encCache.set(v, e); } return e; };
function give(bytes, pp, sp) {
  const p = inst.exports.proxy_on_memory_allocate(bytes.length);
  u8().set(bytes, p);
  dv().setUint32(pp, p, true);
  dv().setUint32(sp, bytes.length, true);
  return 0;
}
let maps, bufs, calls = {}, replies = 0;
function reset() {
  maps = [new Map([[':method', 'POST'], [':path', '/v1/chat/completions'], [':authority', 'gw.local'], [':scheme', 'http'],
    ['content-type', 'application/json'], ['content-length', String(reqBody.length)], ['authorization', 'Bearer tg-bench-key'], ['user-agent', 'wrk'], ['accept', '*/*']]),
  new Map(), new Map([[':status', '200'], ['content-type', 'application/json'], ['content-length', String(respBody.length)], ['server', 'nginx']]), new Map()];
  bufs = { 0: reqBody, 1: respBody, 7: cfg };
}
const count = (n) => { calls[n] = (calls[n] || 0) + 1; };
const env = {
  proxy_log: (l, p, n) => { count('log'); if (l >= 2) console.error('log', l, str(p, n)); return 0; },
  proxy_get_log_level: (p) => { dv().setUint32(p, 2, true); return 0; },
  proxy_get_current_time_nanoseconds: (p) => { count('time'); dv().setBigUint64(p, BigInt(Date.now()) * 1000000n, true); return 0; },
  proxy_get_buffer_bytes: (t, s, m, pp, sp) => { count('get_buffer'+t); const b = bufs[t]; if (!b) return 1; return give(b.subarray(s, s + m), pp, sp); },
  proxy_set_buffer_bytes: (t, s, n, p, l) => { count('set_buffer'); bufs[t] = Buffer.from(u8().slice(p, p + l)); return 0; },
  proxy_get_header_map_value: (t, kp, ks, pp, sp) => { count('get_header'); const v = maps[t].get(str(kp, ks)); if (v === undefined) return 1; return give(enc(v), pp, sp); },
  proxy_replace_header_map_value: (t, kp, ks, vp, vs) => { count('set_header'); maps[t].set(str(kp, ks), str(vp, vs)); return 0; },
  proxy_add_header_map_value: (t, kp, ks, vp, vs) => { count('add_header'); maps[t].set(str(kp, ks), str(vp, vs)); return 0; },
  proxy_remove_header_map_value: (t, kp, ks) => { count('rm_header'); maps[t].delete(str(kp, ks)); return 0; },
  proxy_get_header_map_pairs: (t, pp, sp) => {
    count('get_map'); const m = [...maps[t]]; const parts = [];
    const hdr = new DataView(new ArrayBuffer(4 + m.length * 8)); hdr.setUint32(0, m.length, true);
    m.forEach(([k, v], i) => { const kb = te.encode(k), vb = te.encode(v); hdr.setUint32(4 + i * 8, kb.length, true); hdr.setUint32(8 + i * 8, vb.length, true); parts.push(kb, [0], vb, [0]); });
    const all = Buffer.concat([Buffer.from(hdr.buffer), ...parts.map((x) => Buffer.from(x))]); return give(all, pp, sp);
  },
  proxy_set_header_map_pairs: () => { count('set_map'); return 0; },
  proxy_get_property: (p, n, pp, sp) => { count('get_property'); return 1; },
  proxy_set_property: () => { count('set_property'); return 0; },
  proxy_send_local_response: () => { count('reply'); replies++; return 0; },
  proxy_continue_stream: () => 0, proxy_close_stream: () => 0,
  proxy_define_metric: (t, p, n, rp) => { count('define_metric'); dv().setUint32(rp, 1, true); return 0; },
  proxy_increment_metric: () => { count('inc_metric'); return 0; }, proxy_record_metric: () => { count('rec_metric'); return 0; },
  proxy_get_metric: () => 1,
  proxy_get_shared_data: () => { count('get_shared'); return 1; }, proxy_set_shared_data: () => { count('set_shared'); return 0; },
  proxy_set_effective_context: () => 0, proxy_done: () => 0, proxy_set_tick_period_milliseconds: () => 0,
};
const wasi = new WASI({ version: 'preview1', args: [], env: {}, returnOnExit: true });
const mod = new WebAssembly.Module(readFileSync(wasmPath));
const imports = { wasi_snapshot_preview1: wasi.wasiImport, env: {} };
for (const imp of WebAssembly.Module.imports(mod)) {
  if (imp.module === 'env') imports.env[imp.name] = env[imp.name] || ((...a) => { console.error('unstubbed', imp.name); return 0; });
}
inst = new WebAssembly.Instance(mod, imports);
wasi.initialize(inst);
const x = inst.exports;
reset();
x.proxy_on_context_create(1, 0);
x.proxy_on_vm_start(1, 0);
if (!x.proxy_on_configure(1, cfg.length)) { console.error('configure failed'); process.exit(1); }
let sink = 0;
const ph = new Float64Array(8);
const H = () => process.hrtime.bigint();
function one(ctx) {
  reset();
  let a = H(), b;
  x.proxy_on_context_create(ctx, 1); b = H(); ph[0] += Number(b - a); a = b;
  x.proxy_on_request_headers(ctx, maps[0].size, 0); b = H(); ph[1] += Number(b - a); a = b;
  x.proxy_on_request_body(ctx, reqBody.length, 1); b = H(); ph[2] += Number(b - a); a = b;
  x.proxy_on_response_headers(ctx, maps[2].size, 0); b = H(); ph[3] += Number(b - a); a = b;
  x.proxy_on_response_body(ctx, respBody.length, 1); b = H(); ph[4] += Number(b - a); a = b;
  x.proxy_on_log(ctx); b = H(); ph[5] += Number(b - a); a = b;
  x.proxy_on_done(ctx);
  x.proxy_on_delete(ctx); b = H(); ph[6] += Number(b - a); a = b;
}
function flush() { for (let i = 0; i < thrash.length; i += 64) sink += thrash[i]++; }
for (let i = 0; i < 2000; i++) one(2 + i);
calls = {}; replies = 0; ph.fill(0);
let t = 0n;
for (let i = 0; i < N; i++) {
  if (thrash.length) flush();
  const s = process.hrtime.bigint();
  one(100000 + i);
  t += process.hrtime.bigint() - s;
}
const per = (k) => ((calls[k] || 0) / N).toFixed(2);
console.log(`per request: ${(Number(t) / N / 1000).toFixed(2)} µs; replies ${replies}; calls/req: ` + Object.keys(calls).sort().map((k) => `${k}=${per(k)}`).join(' ') + (sink ? '' : ''));
console.log('phases µs: ' + ['create','req_hdr','req_body','resp_hdr','resp_body','log','done+delete'].map((k,i)=>`${k}=${(ph[i]/N/1000).toFixed(2)}`).join(' '));
