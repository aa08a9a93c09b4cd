//! Runtime configuration: validated, compiled types the request path reads without re-checking.

use crate::keys::KeyStore;
use crate::route::Router;
use std::fmt;

/// The compiled configuration.
#[derive(Debug)]
pub struct Config {
    /// Where this instance runs in Envoy's filter chains.
    pub role: Role,
    pub providers: Vec<Provider>,
    pub router: Router,
    pub auth: Auth,
    pub keys: KeyStore,
    pub cluster_header: String,
    pub max_request_bytes: usize,
    pub response_headers: bool,
    /// Meter responses for token usage.
    pub accounting: bool,
    /// Prices for cost accounting (empty: no cost is computed).
    pub pricing: crate::usage::cost::PriceTable,
    /// Rate limits and budgets (no rules: nothing is counted).
    pub limits: crate::limits::Limits,
    /// Alert delivery and anomaly rules.
    pub alerts: crate::alerts::Alerts,
    /// Policy webhooks, by stage.
    pub hooks: crate::hooks::Hooks,
    /// Prompt redaction, when enabled.
    pub redaction: Option<crate::redact::Redactor>,
    /// Per-request exports that are on.
    pub telemetry: Telemetry,
    /// Refuse requests whose fields a provider cannot take, instead of dropping them.
    pub strict_translation: bool,
    /// Hold the request headers until the body is read (body-based routing); `false`: the
    /// route picks the provider, and the headers go on at once.
    pub hold_headers: bool,
    /// The response cache: per-route rules and the store's shape (no rules: off).
    pub cache: crate::cache::Cache,
}

/// Per-request exports (`telemetry` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Telemetry {
    /// `wasm.tollgate.*` filter state for access logs.
    pub filter_state: bool,
    /// The one-per-request record `wasm.tollgate`.
    pub record: bool,
    /// The fields also written separately: a bit per field (`filter::exports::FilterStateName::bit`).
    pub fields: u32,
    /// The per-model stats.
    pub stats: bool,
}

impl Config {
    pub fn provider(&self, idx: usize) -> Option<&Provider> {
        self.providers.get(idx)
    }
}

/// Where an instance of the module runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The listener's HTTP filter: keys, routing, redaction, limits, accounting.
    Downstream,
    /// An upstream HTTP filter on a failover cluster: rewrites each attempt for the provider
    /// it reaches (from the endpoint's `tollgate.provider` metadata).
    Upstream,
    /// The listener's HTTP filter on routes that already reach a provider: it inspects
    /// (redaction, accounting, limits) and leaves the route's cluster, path, authority,
    /// credential and model alone.
    Guard,
}

/// An API family a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI and OpenAI-compatible servers (vLLM, Ollama, Groq, Mistral, DeepSeek, Together).
    OpenAi,
    /// Azure OpenAI: deployment paths and `api-version`.
    Azure,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini `generateContent`.
    Gemini,
    /// AWS Bedrock: Anthropic models through InvokeModel, the others through Converse.
    Bedrock,
    /// Google Vertex AI: Gemini models (`generateContent`) and Anthropic ones (`rawPredict`).
    Vertex,
}

impl ProviderKind {
    pub fn parse(s: &str) -> Option<ProviderKind> {
        match s {
            "openai" => Some(ProviderKind::OpenAi),
            "azure" => Some(ProviderKind::Azure),
            "anthropic" => Some(ProviderKind::Anthropic),
            "gemini" => Some(ProviderKind::Gemini),
            "bedrock" => Some(ProviderKind::Bedrock),
            "vertex" => Some(ProviderKind::Vertex),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Azure => "azure",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Vertex => "vertex",
        }
    }

    /// Default path prefix before the endpoint.
    pub fn default_base_path(self) -> &'static str {
        match self {
            ProviderKind::OpenAi | ProviderKind::Anthropic => "/v1",
            ProviderKind::Azure => "/openai",
            ProviderKind::Gemini => "/v1beta",
            // Replaced by the region's and project's (`cloud`).
            ProviderKind::Bedrock | ProviderKind::Vertex => "",
        }
    }

    /// The header that carries this provider's credential, and the value's prefix.
    pub fn credential_header(self) -> (&'static str, &'static str) {
        match self {
            ProviderKind::OpenAi => ("authorization", "Bearer "),
            ProviderKind::Azure => ("api-key", ""),
            ProviderKind::Anthropic => ("x-api-key", ""),
            ProviderKind::Gemini => ("x-goog-api-key", ""),
            // Set per credential mode (`cloud`).
            ProviderKind::Bedrock | ProviderKind::Vertex => ("authorization", "Bearer "),
        }
    }
}

/// One upstream provider.
#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    pub cluster: String,
    pub host: Option<String>,
    pub base_path: String,
    pub api_version: Option<String>,
    /// Ask for usage in OpenAI-compatible streams.
    pub stream_usage: bool,
    /// Serves the Responses API natively (OpenAI and Azure kinds).
    pub responses_api: bool,
    /// Name of the environment variable the credential comes from, if any.
    pub credential_env: Option<String>,
    /// The credential, read from the proxy's environment at load; `None` when the variable is unset.
    pub credential: Option<Credential>,
    /// Bedrock and Vertex: region, project and credential mode.
    pub cloud: Option<super::cloud::Cloud>,
}

impl Provider {
    /// A provider that needs a key but has none in the environment cannot serve requests.
    pub fn available(&self) -> bool {
        let signs = !matches!(&self.cloud, Some(super::cloud::Cloud::Bedrock { auth: super::cloud::AwsAuth::SigV4(None), .. }));
        signs && (self.credential_env.is_none() || self.credential.is_some())
    }
}

/// A provider credential header. Its `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub header: &'static str,
    pub value: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({}: <redacted>)", self.header)
    }
}

/// How clients authenticate.
#[derive(Debug)]
pub struct Auth {
    pub mode: AuthMode,
    /// Lower-case header names that may carry a virtual key; all are stripped before forwarding.
    pub headers: Vec<String>,
    pub tenant_header: Option<String>,
    /// Keys loaded from an HTTP source into the shared index (`auth.key_source`).
    pub key_source: Option<crate::keys::source::KeySource>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Virtual API keys, looked up by digest.
    Keys,
    /// A claim from Envoy's jwt_authn payload in dynamic metadata.
    Jwt { filter: String, payload_key: String, claim: String },
    /// No client authentication.
    None,
}
