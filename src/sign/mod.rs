//! Request signing for the cloud providers: AWS Signature Version 4 (`sigv4`) over the request
//! exactly as it is sent (path, headers and the final body, after translation and redaction).

pub mod sigv4;
