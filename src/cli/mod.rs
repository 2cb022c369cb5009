//! Command-line interface: argument parsing and exit codes. All real work
//! is in the library; errors are reported as one line on stderr.

mod batch;
mod demo;
mod info;
mod json;
#[cfg(any(feature = "window", feature = "serve"))]
mod live_args;
mod record;
mod render;
mod repair;
mod runrender;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "window")]
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// GPU heatmaps of neural-network activations.
#[derive(Parser, Debug)]
#[command(name = "actmap", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Render grid files (.npy, .npz, .safetensors, .csv, .tsv) or a run log to PNGs.
    Render(Box<render::RenderArgs>),
    /// Show shape, dtype and statistics of a file, or the channels of a run log.
    Info(info::InfoArgs),
    /// Open a live window on rows streamed from stdin, a socket, a file or a run log.
    #[cfg(feature = "window")]
    Watch(Box<watch::WatchArgs>),
    /// Record rows streamed from stdin, a socket or a file to a run log.
    Record(Box<record::RecordArgs>),
    /// Explore a grid file in a window (zoom, pan, hover, keys).
    #[cfg(feature = "window")]
    Show(Box<watch::ShowArgs>),
    /// Serve the live view to browsers (for machines without a display).
    #[cfg(feature = "serve")]
    Serve(Box<serve::ServeArgs>),
    /// Rewrite a damaged run log, keeping every record that can be read.
    Repair(repair::RepairArgs),
    /// Write the built-in reference datasets and their renders.
    Demo {
        /// Output directory.
        #[arg(short, long, default_value = "figures")]
        out: PathBuf,
        /// Figure size, WIDTHxHEIGHT.
        #[arg(long, default_value = "1200x900")]
        size: String,
    },
}

/// Point Mesa at a private runtime directory when none is set, so it does
/// not print "XDG_RUNTIME_DIR is invalid" on every run. Returns the
/// directory it made, to be removed on exit.
fn quiet_mesa_runtime_dir() -> Option<PathBuf> {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("actmap-runtime-{}", std::process::id()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(&dir).ok()?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir(&dir).ok()?;
    // SAFETY: called at the start of main, before any other thread exists.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    Some(dir)
}

pub fn main() -> ExitCode {
    ExitCode::from(run(std::env::args_os()))
}

/// Run the command line `args` (the program name first) and return the
/// exit code: also what `python -m actmap` and the `actmap` command of the
/// Python package call.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let runtime_dir = quiet_mesa_runtime_dir();
    let result = match cli.command {
        // `render` and `batch` each build on the arguments; neither calls the other.
        Command::Render(args) if args.run_log().is_some() => runrender::run(*args),
        Command::Render(args) if args.diff => render::diff(*args),
        Command::Render(args) if render::is_batch(&args) => batch::run(*args),
        Command::Render(args) => render::single(*args),
        Command::Info(args) => info::run(args),
        Command::Record(args) => record::run(*args),
        Command::Repair(args) => repair::run(args),
        #[cfg(feature = "window")]
        Command::Watch(args) => watch::watch(*args),
        #[cfg(feature = "window")]
        Command::Show(args) => watch::show(*args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(*args),
        Command::Demo { out, size } => render::parse_size(&size).and_then(|(w, h)| demo::run(&out, w, h)),
    };
    if let Some(dir) = runtime_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    match result {
        Ok(()) => 0,
        Err(e) if e.downcast_ref::<batch::Interrupted>().is_some() => {
            eprintln!("actmap: {e}");
            130
        }
        Err(e) => {
            eprintln!("actmap: error: {e:#}");
            1
        }
    }
}
