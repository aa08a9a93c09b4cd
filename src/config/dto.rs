//! Wire shape of the filter configuration: strict serde DTOs with explicit defaults.
//! Each DTO also derives `schemars::JsonSchema` under feature `schema` (doc comments become the
//! schema's descriptions; `schema/tollgate.schema.json` is generated from them).

use serde::Deserialize;
use std::collections::BTreeMap;

/// The whole filter configuration, as written by an operator.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigDto {
    /// Editor hint: the URL or path of this JSON Schema (`schema/tollgate.schema.json`); ignored.
    #[serde(default, rename = "$schema")]
    pub schema: Option<String>,
    /// Upstream LLM providers, each reached through one Envoy cluster.
    #[serde(default)]
    pub providers: Vec<ProviderDto>,
    /// Model routes: exact names, aliases and globs, each with its targets.
    #[serde(default)]
    pub models: Vec<ModelDto>,
    /// How clients authenticate.
    #[serde(default)]
    pub auth: AuthDto,
    /// Virtual API keys (digests only) or JWT-mapped policies.
    #[serde(default)]
    pub keys: Vec<KeyDto>,
    /// Request header the filter sets to pick the Envoy cluster (`cluster_header` in the route).
    #[serde(default = "default_cluster_header")]
    pub cluster_header: String,
    /// Largest request body the filter buffers; larger bodies get 413.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Add `x-tollgate-*` response headers naming the provider and model that answered.
    #[serde(default = "default_true")]
    pub response_headers: bool,
    /// Token accounting on responses.
    #[serde(default)]
    pub accounting: AccountingDto,
    /// Per-model prices for cost accounting (see `pricing_dto`).
    #[serde(default)]
    pub pricing: Option<super::pricing_dto::PricingDto>,
    /// Rate limits, token and spend budgets, concurrency caps (see `limits_dto`).
    #[serde(default)]
    pub limits: Option<super::limits_dto::LimitsDto>,
    /// Alert delivery (a signed webhook) and spend / token anomaly rules (see `alerts_dto`).
    #[serde(default)]
    pub alerts: Option<super::alerts_dto::AlertsDto>,
    /// Policy webhooks: HTTP services that allow, deny or modify requests (see `hooks_dto`).
    #[serde(default)]
    pub policy_hooks: Vec<super::hooks_dto::HookDto>,
    /// Where this instance runs: `downstream` (the listener's HTTP filter, default),
    /// `upstream` (an upstream HTTP filter on a failover cluster, rewriting each attempt) or
    /// `guard` (the listener's HTTP filter on routes that already reach a provider: redaction,
    /// accounting and limits only, no routing and no keys).
    #[serde(default = "default_role")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["downstream", "upstream", "guard"])))]
    pub role: String,
    /// Prompt redaction: detectors, actions, restore (see `redact_dto`).
    #[serde(default)]
    pub redaction: Option<super::redact_dto::RedactionDto>,
    /// What the filter exports per request: filter state for access logs, and stats.
    #[serde(default)]
    pub telemetry: TelemetryDto,
    /// How requests are translated between dialects.
    #[serde(default)]
    pub translation: TranslationDto,
    /// Hold the request headers until the body is read (needs `allow_on_headers_stop_iteration`,
    /// which Istio's WasmPlugin cannot set): the body's `model` then picks the provider. `false`
    /// never holds them, for a stock WasmPlugin or EnvoyExtensionPolicy: the route picks the
    /// provider (by `:authority`, or the only provider), and every other feature works on the
    /// body and the response. `models` (body-based routing) is refused then.
    #[serde(default = "default_true")]
    pub hold_headers: bool,
    /// The response cache's local store (see `cache_dto`); routes opt in with `models[].cache`.
    #[serde(default)]
    pub cache: Option<super::cache_dto::CacheStoreDto>,
    /// Circuit breaker per target (provider + upstream model), shared by all workers; off when
    /// absent (see `routing_dto` and `docs/routing.md`).
    #[serde(default)]
    pub breaker: Option<super::routing_dto::BreakerDto>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
/// The translation policy for request fields a provider has no equivalent for.
pub struct TranslationDto {
    /// Refuse such a request with a 400 naming the field. Off (the default): drop the field and
    /// name it in the `x-tollgate-dropped` response header, a counter and a debug log.
    #[serde(default)]
    pub strict: bool,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
/// Per-request exports. Each costs host calls on every request; switch off what no access log,
/// rate-limit descriptor or dashboard reads.
pub struct TelemetryDto {
    /// Write `wasm.tollgate.*` filter state (access-log fields, `hits_addend` of the fleet
    /// rate-limit recipe). The failover handoff is written regardless.
    #[serde(default = "default_true")]
    pub filter_state: bool,
    /// Write the request's record, `wasm.tollgate` (`%FILTER_STATE(wasm.tollgate:PLAIN)%`): one
    /// JSON object with every access-log field set, in one host call at the end of the request.
    #[serde(default = "default_true")]
    pub record: bool,
    /// The fields also written as separate values `wasm.tollgate.<field>`, for Envoy filters
    /// that read one value (the rate-limit recipe's `hits_addend` reads `total_tokens`); `"*"`
    /// writes every field. Each costs a host call per request.
    #[serde(default = "default_fields")]
    pub fields: Vec<String>,
    /// Update the per-model `tollgate.*` stats (and the redaction counters).
    #[serde(default = "default_true")]
    pub stats: bool,
}

fn default_fields() -> Vec<String> {
    vec!["total_tokens".to_string()]
}

impl Default for TelemetryDto {
    fn default() -> Self {
        TelemetryDto { filter_state: true, record: true, fields: default_fields(), stats: true }
    }
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
/// Token accounting on responses.
pub struct AccountingDto {
    /// Read token usage from responses and publish it as filter state.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl Default for AccountingDto {
    fn default() -> Self {
        AccountingDto { enabled: true }
    }
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderDto {
    /// Unique name, used by targets and in `provider/model` requests.
    pub name: String,
    /// API family: `openai` (and compatible servers), `azure`, `anthropic`, `gemini`, `bedrock`
    /// (AWS Bedrock), `vertex` (Google Vertex AI).
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["openai", "azure", "anthropic", "gemini", "bedrock", "vertex"])))]
    pub kind: String,
    /// Envoy cluster that reaches this provider.
    pub cluster: String,
    /// `:authority` to send (e.g. `api.openai.com`); unchanged when absent.
    #[serde(default)]
    pub host: Option<String>,
    /// Path prefix before the endpoint (default `/v1`; `/v1beta` for Gemini; `/openai` for Azure).
    #[serde(default)]
    pub base_path: Option<String>,
    /// Environment variable (of the proxy) holding the provider key; none for keyless servers.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Azure `api-version` query parameter.
    #[serde(default)]
    pub api_version: Option<String>,
    /// OpenAI-compatible streams: ask for usage (`stream_options.include_usage`) when the client
    /// did not, and remove the extra usage chunk from what that client receives. Turn off for a
    /// server that rejects `stream_options`; usage is then estimated.
    #[serde(default = "default_true")]
    pub stream_usage: bool,
    /// OpenAI and Azure: the server serves the Responses API (`/responses`), so `/v1/responses`
    /// requests go to it natively. Turn off for a chat-completions-only server (vLLM, Ollama,
    /// …): Responses requests are then translated to chat completions and back.
    #[serde(default = "default_true")]
    pub responses_api: bool,
    /// `bedrock` and `vertex`: the cloud region (`us-east-1`; `us-central1` or `global`).
    #[serde(default)]
    pub region: Option<String>,
    /// `vertex`: the Google Cloud project id.
    #[serde(default)]
    pub project: Option<String>,
    /// `bedrock`: `sigv4` (default; `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN` from the proxy's environment), `api_key` (a Bedrock API key from
    /// `api_key_env`, sent as a bearer token) or `envoy` (Envoy's `aws_request_signing` filter
    /// signs). `vertex`: `metadata` (default; OAuth tokens from the GCE/GKE metadata server),
    /// `token` (an access token from `api_key_env`) or `api_key` (an express-mode API key from
    /// `api_key_env`). See docs/providers.md.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["sigv4", "api_key", "envoy", "metadata", "token"])))]
    pub credentials: Option<String>,
    /// `vertex` with `credentials: metadata`: the Envoy cluster that reaches the metadata server
    /// (`169.254.169.254:80`); default `gce_metadata`.
    #[serde(default)]
    pub metadata_cluster: Option<String>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelDto {
    /// A model name, an alias, or a glob (`gpt-4o*`).
    pub name: String,
    /// Where requests for it go; several targets split traffic by weight.
    pub targets: Vec<TargetDto>,
    /// Tried in order after the chosen target fails.
    #[serde(default)]
    pub fallbacks: Vec<TargetDto>,
    /// Runtime failover: send requests to this Envoy cluster (an aggregate of the provider
    /// clusters, with a retry policy) and let the `upstream` role rewrite each attempt.
    #[serde(default)]
    pub failover_cluster: Option<String>,
    /// Answer identical requests from the response cache (see `cache_dto`).
    #[serde(default)]
    pub cache: Option<super::cache_dto::CacheRuleDto>,
    /// How the first target is picked: `weighted` (default), `priority`, `latency`,
    /// `least_busy` or `cost` (see `docs/routing.md`).
    #[serde(default = "default_strategy")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["weighted", "priority", "latency", "least_busy", "cost"])))]
    pub strategy: String,
    /// Settings of `strategy: latency`.
    #[serde(default)]
    pub latency: Option<super::routing_dto::LatencyDto>,
    /// `strategy: cost`: targets whose input plus output price per million tokens is above this
    /// (or unpriced) are left out.
    #[serde(default)]
    pub max_price: Option<serde_json::Value>,
    /// Conditional routes: the first rule whose `when` holds picks the target list.
    #[serde(default)]
    pub rules: Vec<super::routing_dto::RuleDto>,
}

fn default_strategy() -> String {
    "weighted".to_string()
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TargetDto {
    /// Name of a configured provider.
    pub provider: String,
    /// Upstream model name; defaults to the requested name.
    #[serde(default)]
    pub model: Option<String>,
    /// Relative share of traffic among the route's targets.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Prompt plus output tokens the target takes; a longer request skips it.
    #[serde(default)]
    pub context_window: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AuthDto {
    /// `keys` (virtual API keys, default), `jwt` (claims from Envoy's jwt_authn) or `none`.
    #[serde(default = "default_auth_mode")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["keys", "jwt", "none"])))]
    pub mode: String,
    /// Request headers that may carry a virtual key, in order of preference.
    #[serde(default = "default_key_headers")]
    pub headers: Vec<String>,
    /// When set, the key's tenant is forwarded upstream in this header.
    #[serde(default)]
    pub tenant_header: Option<String>,
    /// Where to find the JWT claim that names the caller (mode `jwt`).
    #[serde(default)]
    pub jwt: JwtDto,
    /// Keys kept outside the config: a JSON-lines file of `keys` entries, fetched over HTTP and
    /// held once per Envoy process in shared data (`docs/keys.md`). Inline `keys` still work
    /// and are checked first.
    #[serde(default)]
    pub key_source: Option<KeySourceDto>,
}

/// `auth.key_source`: where the key file is served, and how often it is checked for changes.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeySourceDto {
    /// Envoy cluster serving the file (any HTTP server: a static file server, object storage
    /// behind a proxy, a key service).
    pub cluster: String,
    /// `:authority` of the request (default: the cluster name).
    #[serde(default)]
    pub authority: Option<String>,
    /// Path of the JSON-lines file: one `keys` entry (`{"id": …, "digests": […], …}`) per line.
    pub path: String,
    /// Seconds between checks for a new version (a conditional GET with `If-None-Match`).
    #[serde(default = "default_key_refresh_s")]
    pub refresh_s: u64,
    /// Timeout of each request to the source, milliseconds.
    #[serde(default = "default_key_timeout_ms")]
    pub timeout_ms: u64,
    /// The file is fetched in byte ranges of this size (`Range` requests), so no VM ever holds
    /// more of it than one range.
    #[serde(default = "default_key_chunk_bytes")]
    pub chunk_bytes: u64,
}

fn default_key_refresh_s() -> u64 {
    60
}

fn default_key_timeout_ms() -> u64 {
    10_000
}

fn default_key_chunk_bytes() -> u64 {
    256 << 10
}

impl Default for AuthDto {
    fn default() -> Self {
        AuthDto {
            mode: default_auth_mode(),
            headers: default_key_headers(),
            tenant_header: None,
            jwt: JwtDto::default(),
            key_source: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct JwtDto {
    /// Filter namespace of the dynamic metadata that holds the payload.
    #[serde(default = "default_jwt_filter")]
    pub filter: String,
    /// `payload_in_metadata` value of the jwt_authn provider.
    #[serde(default = "default_jwt_metadata_key")]
    pub payload_key: String,
    /// Claim matched against each key's `principals` (a string or a list of strings).
    #[serde(default = "default_jwt_claim")]
    pub claim: String,
}

impl Default for JwtDto {
    fn default() -> Self {
        JwtDto { filter: default_jwt_filter(), payload_key: default_jwt_metadata_key(), claim: default_jwt_claim() }
    }
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyDto {
    /// Stable identity, reported in accounting; several digests may share it.
    pub id: String,
    /// Team or tenant, reported in accounting and optionally forwarded upstream.
    #[serde(default)]
    pub tenant: Option<String>,
    /// `sha256:<64 hex>` digests of the secret keys.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(inner(regex(pattern = r"^sha256:[0-9a-fA-F]{64}$"))))]
    pub digests: Vec<String>,
    /// JWT claim values that map to this policy (auth mode `jwt`).
    #[serde(default)]
    pub principals: Vec<String>,
    /// Allowed models: exact names, aliases, or globs. Default: all.
    #[serde(default = "default_models")]
    pub models: Vec<String>,
    /// Refuse the key without deleting it.
    #[serde(default)]
    pub disabled: bool,
    /// Not valid before this instant (RFC 3339).
    #[serde(default)]
    pub not_before: Option<String>,
    /// Not valid from this instant on (RFC 3339).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Free labels, copied into accounting.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_role() -> String {
    "downstream".to_string()
}
fn default_cluster_header() -> String {
    "x-tollgate-cluster".to_string()
}
/// 32 MiB: long-context prompts (200k+ tokens) and inline images pass; the shipped Envoy configs
/// buffer 40 MiB, so this limit, with its JSON 413, is the one a client meets.
fn default_max_request_bytes() -> usize {
    32 * 1024 * 1024
}
fn default_true() -> bool {
    true
}
fn default_weight() -> u32 {
    1
}
fn default_auth_mode() -> String {
    "keys".to_string()
}
fn default_key_headers() -> Vec<String> {
    vec!["authorization".into(), "x-api-key".into(), "api-key".into()]
}
fn default_jwt_filter() -> String {
    "envoy.filters.http.jwt_authn".to_string()
}
fn default_jwt_metadata_key() -> String {
    "jwt_payload".to_string()
}
fn default_jwt_claim() -> String {
    "sub".to_string()
}
fn default_models() -> Vec<String> {
    vec!["*".to_string()]
}
