//! AWS event streams (`application/vnd.amazon.eventstream`), the binary framing of Bedrock's
//! ConverseStream and InvokeModelWithResponseStream: an incremental frame decoder that checks
//! both CRCs (`decoder`), its CRC-32 (`crc32`), and the bridge that turns the frames into SSE
//! events the stream translators already read (`to_sse`).

pub mod crc32;
pub mod decoder;
pub mod to_sse;

pub use decoder::{Decoder, FrameError, Message};
pub use to_sse::EventStreamToSse;

/// The content type of an AWS event stream.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";
