//! Shared support for the real-Envoy tests: the Envoy launcher, the mock provider, an HTTP client.
#![allow(dead_code)]

pub mod envoy;
pub mod http_client;
pub mod mock_provider;
pub mod rls;
