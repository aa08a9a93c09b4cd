//! Request credentials for the cloud providers: AWS Signature Version 4 (`sigv4`) over the
//! request exactly as it is sent (path, headers and the final body, after translation and
//! redaction), and Google Cloud access tokens from the metadata server (`gcp_token`).

pub mod gcp_token;
pub mod sigv4;
