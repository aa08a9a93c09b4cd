//! The cloud providers' settings (`bedrock`, `vertex`): region, project and how each request is
//! authenticated, compiled from the provider DTO. The secrets come from the proxy's environment
//! at load, and no `Debug` prints them.

use super::dto::ProviderDto;
use super::runtime::{Credential, ProviderKind};
use super::ConfigError;
use std::fmt;

/// A cloud provider's compiled settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloud {
    /// AWS Bedrock runtime in `region`.
    Bedrock { region: String, auth: AwsAuth },
    /// Google Vertex AI: `project` in `region` (`global` included).
    Vertex { project: String, region: String, auth: VertexAuth },
}

/// How Bedrock requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsAuth {
    /// SigV4 in the filter, with these keys (`None`: the environment had none, so the provider
    /// is unavailable).
    SigV4(Option<AwsKeys>),
    /// A Bedrock API key, sent as a bearer token (the provider's `credential`).
    ApiKey,
    /// Envoy's `aws_request_signing` filter on the provider cluster signs (instance roles, IRSA,
    /// Pod Identity); the filter sends the request unsigned to it.
    Envoy,
}

/// How Vertex requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VertexAuth {
    /// OAuth access tokens from the metadata server, reached through this Envoy cluster.
    Metadata { cluster: String },
    /// A static access token from the environment (the provider's `credential`).
    Token,
    /// An express-mode API key (the provider's `credential`, `x-goog-api-key`).
    ApiKey,
}

/// AWS access keys. `Debug` prints only the key id's first four characters.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.access_key_id.chars().take(4).collect();
        write!(f, "AwsKeys({shown}…, <redacted>)")
    }
}

/// The environment variable a Bedrock API key is read from when `api_key_env` is absent
/// (the name AWS's SDKs read).
pub const BEDROCK_KEY_ENV: &str = "AWS_BEARER_TOKEN_BEDROCK";

/// A cloud provider's compiled parts: the settings, its default `:authority` and base path, and
/// its credential header (bearer token or API key modes), with the variable it came from.
#[derive(Debug)]
pub struct Compiled {
    pub cloud: Option<Cloud>,
    pub host: Option<String>,
    pub base_path: Option<String>,
    pub credential_env: Option<String>,
    pub credential: Option<Credential>,
}

/// Compiles `p`'s cloud fields; `at` names a field of this provider. Providers of other kinds
/// must not set them.
pub fn compile(kind: ProviderKind, p: &ProviderDto, env: &dyn Fn(&str) -> Option<String>, at: &dyn Fn(&str) -> String) -> Result<Compiled, ConfigError> {
    let cloud_field = [("region", p.region.is_some()), ("project", p.project.is_some()), ("credentials", p.credentials.is_some()), ("metadata_cluster", p.metadata_cluster.is_some())];
    let none = Compiled { cloud: None, host: None, base_path: None, credential_env: p.api_key_env.clone(), credential: None };
    if !matches!(kind, ProviderKind::Bedrock | ProviderKind::Vertex) {
        if let Some((f, _)) = cloud_field.iter().find(|(_, set)| *set) {
            return Err(ConfigError::new(at(f), format!("is for `bedrock` and `vertex` providers, not `{}`", kind.as_str())));
        }
        return Ok(none);
    }
    let region = p.region.clone().filter(|r| is_label(r)).ok_or_else(|| ConfigError::new(at("region"), format!("is required for {} providers (letters, digits and `-`)", kind.as_str())))?;
    let secret = |var: &str| env(var).filter(|v| !v.is_empty());
    let bearer = |var: &str| secret(var).map(|v| Credential { header: "authorization", value: format!("Bearer {v}") });
    if kind == ProviderKind::Bedrock {
        if p.project.is_some() || p.metadata_cluster.is_some() {
            return Err(ConfigError::new(at(if p.project.is_some() { "project" } else { "metadata_cluster" }), "is for `vertex` providers"));
        }
        let host = Some(format!("bedrock-runtime.{region}.amazonaws.com"));
        let (auth, credential_env, credential) = match p.credentials.as_deref().unwrap_or("sigv4") {
            "sigv4" => {
                let keys = secret("AWS_ACCESS_KEY_ID").zip(secret("AWS_SECRET_ACCESS_KEY")).map(|(access_key_id, secret_access_key)| AwsKeys {
                    access_key_id,
                    secret_access_key,
                    session_token: secret("AWS_SESSION_TOKEN"),
                });
                (AwsAuth::SigV4(keys), None, None)
            }
            "api_key" => {
                let var = p.api_key_env.clone().unwrap_or_else(|| BEDROCK_KEY_ENV.to_string());
                let c = bearer(&var);
                (AwsAuth::ApiKey, Some(var), c)
            }
            "envoy" => (AwsAuth::Envoy, None, None),
            other => return Err(ConfigError::new(at("credentials"), format!("unknown bedrock credentials `{other}` (expected sigv4, api_key or envoy)"))),
        };
        if credential_env.is_none() && p.api_key_env.is_some() {
            return Err(ConfigError::new(at("api_key_env"), "is read only with `credentials: api_key`"));
        }
        return Ok(Compiled { cloud: Some(Cloud::Bedrock { region, auth }), host, base_path: Some(String::new()), credential_env, credential });
    }
    let project = p.project.clone().filter(|r| is_label(r)).ok_or_else(|| ConfigError::new(at("project"), "is required for vertex providers (a project id)"))?;
    let regional = if region == "global" { "aiplatform.googleapis.com".to_string() } else { format!("{region}-aiplatform.googleapis.com") };
    let needs_env = |mode: &str| p.api_key_env.clone().filter(|v| !v.is_empty()).ok_or_else(|| ConfigError::new(at("api_key_env"), format!("names the variable that holds the {mode} (`credentials: {mode}`)")));
    let mode = p.credentials.as_deref().unwrap_or("metadata");
    if mode != "metadata" && p.metadata_cluster.is_some() {
        return Err(ConfigError::new(at("metadata_cluster"), "is read only with `credentials: metadata`"));
    }
    let project_path = Some(format!("/v1/projects/{project}/locations/{region}"));
    let (auth, host, base_path, credential_env, credential) = match mode {
        "metadata" => {
            if p.api_key_env.is_some() {
                return Err(ConfigError::new(at("api_key_env"), "is not read with `credentials: metadata` (the token comes from the metadata server)"));
            }
            let cluster = p.metadata_cluster.clone().unwrap_or_else(|| "gce_metadata".to_string());
            if cluster.is_empty() {
                return Err(ConfigError::new(at("metadata_cluster"), "must name an Envoy cluster"));
            }
            (VertexAuth::Metadata { cluster }, regional, project_path, None, None)
        }
        "token" => {
            let var = needs_env("token")?;
            let c = bearer(&var);
            (VertexAuth::Token, regional, project_path, Some(var), c)
        }
        // Express mode: the global endpoint, no project or location in the path.
        "api_key" => {
            let var = needs_env("api_key")?;
            let c = secret(&var).map(|v| Credential { header: "x-goog-api-key", value: v });
            (VertexAuth::ApiKey, "aiplatform.googleapis.com".to_string(), Some("/v1".to_string()), Some(var), c)
        }
        other => return Err(ConfigError::new(at("credentials"), format!("unknown vertex credentials `{other}` (expected metadata, token or api_key)"))),
    };
    Ok(Compiled { cloud: Some(Cloud::Vertex { project, region, auth }), host: Some(host), base_path, credential_env, credential })
}

/// A region or project id: ASCII letters, digits and `-`, non-empty.
fn is_label(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn env(k: &str) -> Option<String> {
        match k {
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            "VTOKEN" => Some("ya29.tok".into()),
            _ => None,
        }
    }

    fn provider(fields: &str) -> Result<crate::config::Provider, crate::config::ConfigError> {
        let json = format!(r#"{{"providers": [{{"name": "p", "cluster": "c", {fields}}}]}}"#);
        parse(json.as_bytes(), &env).map(|mut c| c.providers.remove(0))
    }

    #[test]
    fn bedrock_defaults_to_sigv4_from_the_environment() {
        let p = provider(r#""kind": "bedrock", "region": "us-east-1""#).unwrap();
        assert_eq!((p.host.as_deref(), p.base_path.as_str()), (Some("bedrock-runtime.us-east-1.amazonaws.com"), ""));
        assert!(p.available());
        let shown = format!("{p:?}");
        assert!(!shown.contains("wJalr") && !shown.contains("AKIDEXAMPLE"), "{shown}");
        let none = parse(br#"{"providers": [{"name": "p", "cluster": "c", "kind": "bedrock", "region": "us-east-1"}]}"#, &|_| None).unwrap();
        assert!(!none.providers[0].available(), "no keys: unavailable");
        let key = provider(r#""kind": "bedrock", "region": "eu-west-1", "credentials": "api_key""#).unwrap();
        assert_eq!(key.credential_env.as_deref(), Some("AWS_BEARER_TOKEN_BEDROCK"));
        assert!(!key.available());
        assert!(provider(r#""kind": "bedrock", "region": "eu-west-1", "credentials": "envoy""#).unwrap().available());
    }

    #[test]
    fn vertex_modes() {
        let p = provider(r#""kind": "vertex", "region": "us-central1", "project": "acme""#).unwrap();
        assert_eq!((p.host.as_deref(), p.base_path.as_str()), (Some("us-central1-aiplatform.googleapis.com"), "/v1/projects/acme/locations/us-central1"));
        assert!(p.available());
        let g = provider(r#""kind": "vertex", "region": "global", "project": "acme", "credentials": "token", "api_key_env": "VTOKEN""#).unwrap();
        assert_eq!(g.host.as_deref(), Some("aiplatform.googleapis.com"));
        assert_eq!(g.credential.map(|c| c.value), Some("Bearer ya29.tok".to_string()));
        let x = provider(r#""kind": "vertex", "region": "global", "project": "acme", "credentials": "api_key", "api_key_env": "VTOKEN""#).unwrap();
        assert_eq!((x.base_path.as_str(), x.credential.map(|c| c.header)), ("/v1", Some("x-goog-api-key")));
    }

    #[test]
    fn errors_name_the_field() {
        for (fields, field) in [
            (r#""kind": "bedrock""#, "providers[0].region"),
            (r#""kind": "bedrock", "region": "us east""#, "providers[0].region"),
            (r#""kind": "bedrock", "region": "us-east-1", "credentials": "magic""#, "providers[0].credentials"),
            (r#""kind": "bedrock", "region": "us-east-1", "project": "x""#, "providers[0].project"),
            (r#""kind": "bedrock", "region": "us-east-1", "api_key_env": "X""#, "providers[0].api_key_env"),
            (r#""kind": "vertex", "region": "us-central1""#, "providers[0].project"),
            (r#""kind": "vertex", "region": "us-central1", "project": "a", "credentials": "token""#, "providers[0].api_key_env"),
            (r#""kind": "vertex", "region": "us-central1", "project": "a", "credentials": "token", "api_key_env": "V", "metadata_cluster": "m""#, "providers[0].metadata_cluster"),
            (r#""kind": "vertex", "region": "us-central1", "project": "a", "api_key_env": "V""#, "providers[0].api_key_env"),
            (r#""kind": "openai", "region": "us-east-1""#, "providers[0].region"),
            (r#""kind": "bedrock", "region": "us-east-1", "regio": "x""#, "providers[0].regio"),
        ] {
            assert_eq!(provider(fields).unwrap_err().field, field, "{fields}");
        }
    }
}
