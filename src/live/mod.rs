//! Live data: the stream wire formats, the bounded row history, the store
//! every producer writes into and the window reads from, and the sources
//! (stdin, sockets, watched files, run logs followed) that feed it from
//! background threads. A store with a [`crate::runlog::RunWriter`] attached
//! ([`LiveStore::set_recorder`]) records everything it accepts.

pub mod follow;
pub mod history;
pub mod protocol;
pub mod source;
pub mod store;
pub mod view;

pub use history::History;
pub use protocol::{Frame, FrameDecoder, ProtocolError, TextDecoder};
pub use source::{SourceHandle, SourceOptions, SourceSpec, WireFormat, spawn_reader, spawn_source};
pub use store::{ChannelSnapshot, LiveStore, Monitor, MonitorSender, StoreOptions, StoreSnapshot};
pub use view::{Autoscale, LiveView, PanelSource, ViewOptions};
