//! Shared support for the real-Envoy tests: the Envoy launcher, the mock provider, an HTTP client,
//! a one-file HTTP server, a real nginx, file-based ECDS, a GCE metadata server stand-in, shared tollgate configs.
#![allow(dead_code)]

pub mod configs;
pub mod ecds;
pub mod envoy;
pub mod file_server;
pub mod gce_metadata;
pub mod hook_server;
pub mod http_client;
pub mod mock_provider;
pub mod nginx;
pub mod prometheus;
pub mod redis;
pub mod rls;
