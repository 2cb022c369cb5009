//! Live data: the stream wire formats and the bounded row history a
//! monitor window draws from. Pure code; the window itself is not built yet.

pub mod history;
pub mod protocol;

pub use history::History;
pub use protocol::{Frame, FrameDecoder, ProtocolError, TextDecoder};
