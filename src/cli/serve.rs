//! `actmap serve SOURCE`: the live view in a browser.

use std::net::SocketAddr;
use std::sync::Arc;

use actmap::live::{LiveStore, spawn_source};
use actmap::serve::{self, DEFAULT_BIND, FrameFormat, ServeOptions};

use super::live_args::{FigureArgs, SourceArgs};

/// Arguments of `actmap serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Address and port to listen on; port 0 picks a free one. Anything but
    /// a loopback address lets the network in (the token still guards it).
    #[arg(long, default_value_t = DEFAULT_BIND)]
    bind: SocketAddr,
    /// Also accept requests for this host name (a reverse proxy's, say);
    /// repeatable. localhost, 127.0.0.1 and ::1 are always accepted.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_hosts: Vec<String>,
    /// Browsers watching at once (each has its own view and render thread).
    #[arg(long, default_value_t = 8)]
    max_clients: usize,
    /// Frames per second per browser, at most.
    #[arg(long, default_value_t = 30.0)]
    max_fps: f64,
    /// Frame encoding: png (default) or webp (lossless).
    #[arg(long, default_value = "png")]
    frame_format: String,
    #[command(flatten)]
    figure: FigureArgs,
}

pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    let mut view = a.figure.view_options(a.source.source.clone())?;
    let (spec, store_opts, source_opts) = a.source.parse(view.aggregate)?;
    // Several runs compare on one colour scale.
    view.shared_scale |= matches!(
        spec,
        actmap::live::SourceSpec::Runs { .. } | actmap::live::SourceSpec::Ranks(_)
    );
    let opts = ServeOptions {
        bind: a.bind,
        view,
        max_clients: a.max_clients,
        max_fps: a.max_fps,
        frame_format: a.frame_format.parse::<FrameFormat>()?,
        allowed_hosts: a.allow_hosts.clone(),
        verbose: a.figure.verbose,
        ..ServeOptions::default()
    };
    let store = Arc::new(LiveStore::new(store_opts)?);
    // Stop on Ctrl-C: the server closes its connections.
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })?;
    let recorder = a.source.attach_recorder(&spec, &store)?;
    let source = spawn_source(&spec, &source_opts, store.clone())?;
    if let Some(addr) = source.local_addr() {
        eprintln!("listening on tcp://{addr}");
    }
    let server = serve::serve(store.clone(), opts)?;
    if !serve::is_loopback(&server.local_addr()) {
        eprintln!(
            "actmap: warning: serving on {}, reachable from the network: anyone who gets the token sees the run. \
             The default (127.0.0.1) with an SSH port forward keeps it on this machine.",
            server.local_addr()
        );
    }
    eprintln!("actmap: serving {}", server.url());
    let _ = stop_rx.recv();
    eprintln!("actmap: stopping");
    server.stop();
    source.stop();
    a.source.finish_recorder(&store, recorder)?;
    Ok(())
}
