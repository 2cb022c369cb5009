//! Live data: the stream wire formats, the bounded row history, the store
//! every producer writes into and the window reads from, and the sources
//! (stdin, sockets, watched files, run logs followed) that feed it from
//! background threads (a store with a [`crate::runlog::RunWriter`] attached,
//! [`LiveStore::set_recorder`], records everything it accepts); the view
//! model, the interaction [`Controller`] every front end (window, browser)
//! drives, and the [`LiveDrawer`] that draws its frames.

pub mod controller;
pub mod draw;
pub mod follow;
pub mod history;
pub mod protocol;
pub mod source;
pub mod store;
pub mod view;

pub use controller::{Action, Controller, ControllerOptions, Event, Key, LiveFrame, Modifiers};
pub use draw::{DrawStats, LiveDrawer};
pub use history::History;
pub use protocol::{Frame, FrameDecoder, ProtocolError, TextDecoder};
pub use source::{SourceHandle, SourceOptions, SourceSpec, WireFormat, spawn_reader, spawn_source};
pub use store::{
    AxisLabels, ChannelSnapshot, LiveStore, Monitor, MonitorSender, RankFilter, StoreOptions, StoreSnapshot,
};
pub use view::{Autoscale, LiveView, PanelSource, ViewOptions};
