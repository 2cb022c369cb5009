//! Sources that feed a [`LiveStore`] from background threads: stdin, a TCP
//! or Unix socket that training processes connect to, or a watched file.
//!
//! Every source reads as fast as data comes and pushes each row straight
//! into the store's bounded histories, so a writer faster than the window
//! never grows memory and is never blocked. Bad lines and frames become
//! problems naming the source, and reading goes on; when a writer
//! disconnects or stdin ends, the status says so and the rows stay.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::input::GridSelect;
use crate::live::follow::{FOLLOW_POLL, Follower};
use crate::live::protocol::{Frame, FrameDecoder, MAGIC, ProtocolError, TextDecoder};
use crate::live::store::LiveStore;

/// How often listeners check for a stop, and readers time out to do so.
const POLL: Duration = Duration::from_millis(50);
/// How often a watched file's metadata is read.
const FILE_POLL: Duration = Duration::from_millis(100);
/// Bytes read at a time.
const CHUNK: usize = 1 << 16;
/// Writers connected at once to one socket source; more are refused.
pub const MAX_CONNECTIONS: usize = 32;

/// Where live rows come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// Standard input (`-`).
    Stdin,
    /// Listen on a TCP address (`tcp://127.0.0.1:7878`); writers connect,
    /// several at once if they like. There is no authentication: use a
    /// loopback address unless the network is trusted.
    Tcp(String),
    /// Listen on a Unix socket (`unix:///tmp/acts.sock` or `unix:acts.sock`).
    Unix(PathBuf),
    /// Watch a file: `.npy` is re-read whenever it is replaced; `.csv`,
    /// `.tsv`, `.txt` (text rows; a first line that is not numbers is a
    /// header) and `.f32`, `.bin` (raw little-endian f32 rows) are followed
    /// as they grow, a line once its newline is written. A file that
    /// shrinks or is replaced is read again from the start.
    File(PathBuf),
    /// Follow a run log directory (see [`crate::runlog`]): every channel
    /// in step order, then new records as the writer makes them visible.
    RunLog(PathBuf),
    /// Several run logs side by side: the runs named, and every run of a
    /// directory of runs (a collection; runs that appear in it later are
    /// followed as they do). Each run's channels show as `run/channel`.
    Runs {
        /// Run logs and directories of runs.
        paths: Vec<PathBuf>,
        /// Only the runs whose names match one of these (`*`, `?`); empty:
        /// every run.
        patterns: Vec<String>,
    },
    /// Every rank of a distributed run log (`RUN/rank<N>/`) side by side,
    /// as `rank<N>/channel`; ranks that start later join.
    Ranks(PathBuf),
}

impl SourceSpec {
    /// Parse a source argument: `-`, `tcp://HOST:PORT`, `unix:///PATH`,
    /// `unix:PATH`, or a file path.
    pub fn parse(s: &str) -> Result<SourceSpec> {
        if s == "-" {
            return Ok(SourceSpec::Stdin);
        }
        if let Some(rest) = s.strip_prefix("tcp://") {
            let addr = rest.trim_end_matches('/');
            return match addr.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(SourceSpec::Tcp(addr.to_string()))
                }
                _ => Err(Error::Invalid(format!(
                    "{s}: expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:7878"
                ))),
            };
        }
        if let Some(rest) = s.strip_prefix("unix://").or_else(|| s.strip_prefix("unix:")) {
            if rest.is_empty() {
                return Err(Error::Invalid(format!(
                    "{s}: expected unix:///PATH or unix:PATH, e.g. unix:///tmp/actmap.sock"
                )));
            }
            return Ok(SourceSpec::Unix(PathBuf::from(rest)));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(Error::Invalid(format!(
                "{s}: unknown source type '{scheme}://' (expected -, tcp://HOST:PORT, unix:PATH or a file)"
            )));
        }
        if s.is_empty() {
            return Err(Error::Invalid(
                "empty source: expected -, tcp://HOST:PORT, unix:PATH, a file or a run log".into(),
            ));
        }
        let path = PathBuf::from(s);
        // A directory of runs (at least one there) is a collection.
        if matches!(crate::runlog::collection(&path), Ok(Some(runs)) if !runs.is_empty()) {
            return Ok(SourceSpec::Runs {
                paths: vec![path],
                patterns: Vec::new(),
            });
        }
        // A directory is a run log; so is a path not there yet without an
        // extension (followed once it appears).
        if path.is_dir() || (!path.exists() && path.extension().is_none()) {
            return Ok(SourceSpec::RunLog(path));
        }
        Ok(SourceSpec::File(path))
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Stdin => f.write_str("stdin"),
            SourceSpec::Tcp(a) => write!(f, "tcp://{a}"),
            SourceSpec::Unix(p) => write!(f, "unix:{}", p.display()),
            SourceSpec::File(p) | SourceSpec::RunLog(p) => write!(f, "{}", p.display()),
            SourceSpec::Ranks(p) => write!(f, "{} (every rank)", p.display()),
            SourceSpec::Runs { paths, .. } => {
                let p: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                f.write_str(&p.join(" "))
            }
        }
    }
}

impl FromStr for SourceSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SourceSpec::parse(s)
    }
}

/// Which wire format a stream uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WireFormat {
    /// Binary frames if the stream's first 4 bytes are `AMAP`, else text.
    /// For a watched file: by its extension.
    #[default]
    Auto,
    /// Text rows.
    Text,
    /// Binary `AMAP` frames.
    Binary,
}

impl FromStr for WireFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(WireFormat::Auto),
            "text" => Ok(WireFormat::Text),
            "binary" | "bin" => Ok(WireFormat::Binary),
            _ => Err(Error::Invalid(format!(
                "unknown wire format '{s}' (expected auto, text or binary)"
            ))),
        }
    }
}

/// How a source reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceOptions {
    /// The stream's wire format.
    pub format: WireFormat,
    /// Values per row of a raw f32 file (`.f32`, `.bin`); needed for those.
    pub cols: Option<usize>,
}

/// Running source threads. [`stop`](Self::stop) (or dropping the handle)
/// stops them within about 100 ms; a stdin reader cannot be interrupted and
/// is left detached (it never keeps the process alive).
#[derive(Debug)]
pub struct SourceHandle {
    name: String,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    local_addr: Option<SocketAddr>,
    /// A socket file this source created, and its inode.
    socket: Option<(PathBuf, u64)>,
}

impl SourceHandle {
    /// The source as shown in statuses (`tcp://127.0.0.1:7878` with the
    /// bound port, `stdin`, a path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bound address of a TCP source (the real port when 0 was asked).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The socket file of a Unix source.
    pub fn socket_path(&self) -> Option<&Path> {
        self.socket.as_ref().map(|(p, _)| p.as_path())
    }

    /// Stop the source's threads and wait for them (the rows stay in the
    /// store); a Unix socket file is removed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some((path, ino)) = self.socket.take() {
            // Only ours: another process may have bound the path since.
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.ino() == ino) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

impl Drop for SourceHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("actmap {name}"))
        .spawn(f)
}

impl SourceSpec {
    /// Rank `rank` of a distributed run log (`RUN/rank<N>/`): the run log
    /// that rank writes, waited for when the run does not exist yet. A
    /// rank the run does not have, or a source that is not a run log, is
    /// an error naming it.
    pub fn with_rank(self, rank: u32) -> Result<SourceSpec> {
        let SourceSpec::RunLog(run) = &self else {
            return Err(Error::Invalid(format!(
                "--rank picks a rank of a distributed run log; {self} is not a run log"
            )));
        };
        let dir = if run.exists() {
            crate::runlog::rank_path(run, Some(rank))?
        } else {
            run.join(format!("rank{rank}"))
        };
        Ok(SourceSpec::RunLog(dir))
    }
}

/// Start reading `spec` into `store` in background threads. Returns once a
/// socket is bound, so that a bind error ("address in use") comes back
/// here, naming the address; a raw f32 file without
/// [`SourceOptions::cols`] is an error too.
pub fn spawn_source(spec: &SourceSpec, opts: &SourceOptions, store: Arc<LiveStore>) -> Result<SourceHandle> {
    match spec {
        SourceSpec::Stdin => spawn_reader(io::stdin(), "stdin", opts, store),
        SourceSpec::Tcp(addr) => spawn_tcp(addr, opts, store),
        SourceSpec::Unix(path) => spawn_unix(path, opts, store),
        SourceSpec::File(path) => spawn_file(path, opts, store),
        SourceSpec::RunLog(path) => spawn_runlog(path, store),
        SourceSpec::Runs { paths, patterns } => spawn_runs(paths, patterns, false, store),
        SourceSpec::Ranks(path) => spawn_runs(std::slice::from_ref(path), &[], true, store),
    }
}

/// The runs `paths` name now (a collection's members, matched by
/// `patterns`), each with the name it is shown by.
fn runs_of(paths: &[PathBuf], patterns: &[String], ranks: bool) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for p in paths {
        let members = if ranks {
            match crate::runlog::ranks(p) {
                Ok(Some(r)) => r.into_iter().map(|r| p.join(format!("rank{r}"))).collect(),
                _ => Vec::new(),
            }
        } else {
            match crate::runlog::collection(p) {
                Ok(Some(runs)) => runs,
                _ => vec![p.clone()],
            }
        };
        for m in members {
            let base = m
                .file_name()
                .map_or_else(|| m.display().to_string(), |n| n.to_string_lossy().into_owned());
            if !patterns.is_empty()
                && !patterns
                    .iter()
                    .any(|pat| crate::export::batch::wildcard_match(pat, &base))
            {
                continue;
            }
            // Two collections may each hold an `a`: the second is named by its path.
            let name = if out.iter().any(|(n, _)| *n == base) {
                m.display().to_string()
            } else {
                base
            };
            if !out.iter().any(|(_, q)| *q == m) {
                out.push((name, m));
            }
        }
    }
    out
}

fn spawn_runs(
    paths: &[PathBuf],
    patterns: &[String],
    ranks: bool,
    store: Arc<LiveStore>,
) -> Result<SourceHandle> {
    let Some(first) = paths.first() else {
        return Err(Error::Invalid("no run logs to follow".into()));
    };
    for p in paths {
        if p.exists() && !crate::runlog::is_run_log(p) && !matches!(crate::runlog::collection(p), Ok(Some(_)))
        {
            // Say what it is instead.
            crate::runlog::RunReader::open(p)?;
        }
    }
    let name = SourceSpec::Runs {
        paths: paths.to_vec(),
        patterns: patterns.to_vec(),
    }
    .to_string();
    let (paths, patterns) = (paths.to_vec(), patterns.to_vec());
    let mut followers: Vec<(String, PathBuf, Follower)> = Vec::new();
    // Two runs: their difference too (the view shows it on request).
    let mut diff: Option<crate::live::follow::DiffFollower> = None;
    spawn_poller(
        first,
        name,
        Arc::new(AtomicBool::new(false)),
        FOLLOW_POLL,
        move |stop| {
            for (run, path) in runs_of(&paths, &patterns, ranks) {
                if !followers.iter().any(|(_, p, _)| *p == path) {
                    let f = Follower::with_prefix(&path, store.clone(), &format!("{run}/"));
                    followers.push((run, path, f));
                }
            }
            for (_, _, f) in &mut followers {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                f.poll(stop);
            }
            match (&followers[..], &mut diff) {
                ([a, b], None) => {
                    diff = Some(crate::live::follow::DiffFollower::new(
                        (a.0.clone(), a.1.clone()),
                        (b.0.clone(), b.1.clone()),
                        store.clone(),
                    ));
                }
                ([_, _], Some(_)) => {}
                (_, Some(d)) => {
                    d.clear();
                    diff = None;
                }
                _ => {}
            }
            if let Some(d) = &mut diff {
                d.poll(stop);
            }
            let names: Vec<&str> = followers.iter().map(|(n, _, _)| n.as_str()).collect();
            store.set_status(match names.len() {
                0 => "waiting for runs".to_string(),
                n => format!(
                    "following {n} run{}: {}",
                    if n == 1 { "" } else { "s" },
                    names.join(", ")
                ),
            });
        },
    )
}

fn spawn_runlog(path: &Path, store: Arc<LiveStore>) -> Result<SourceHandle> {
    if path.exists() && !crate::runlog::is_run_log(path) {
        // Say what it is instead (a directory of .npy files, ...).
        crate::runlog::RunReader::open(path)?;
    }
    let mut follower = Follower::new(path, store);
    spawn_poller(
        path,
        path.display().to_string(),
        Arc::new(AtomicBool::new(false)),
        FOLLOW_POLL,
        move |stop| follower.poll(stop),
    )
}

/// A thread calling `poll` every `interval` until `stop` is set: a source
/// that looks at `path` again and again (a run log, a watched file).
fn spawn_poller(
    path: &Path,
    name: String,
    stop: Arc<AtomicBool>,
    interval: Duration,
    mut poll: impl FnMut(&AtomicBool) + Send + 'static,
) -> Result<SourceHandle> {
    let flag = stop.clone();
    let t = spawn_thread(&name, move || {
        while !flag.load(Ordering::SeqCst) {
            poll(&flag);
            std::thread::sleep(interval);
        }
    })
    .map_err(|e| Error::io(path, e))?;
    Ok(SourceHandle {
        name,
        stop,
        threads: vec![t],
        local_addr: None,
        socket: None,
    })
}

/// Read a byte stream (what stdin does) in a detached thread: at its end
/// the store is marked ended ("NAME: source ended"). [`SourceHandle::stop`]
/// makes the thread quit after its current read returns.
pub fn spawn_reader<R: Read + Send + 'static>(
    reader: R,
    name: &str,
    opts: &SourceOptions,
    store: Arc<LiveStore>,
) -> Result<SourceHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, format, origin) = (stop.clone(), opts.format, name.to_string());
    store.set_status(format!("reading {name}"));
    // Detached: the JoinHandle is dropped, so nothing waits for this thread.
    spawn_thread(name, move || {
        let mut dec = StreamDecoder::new(format, false);
        match pump(reader, &mut dec, &origin, &store, &flag) {
            Ok(Pumped::Stopped) => {}
            Ok(Pumped::Eof) => {
                dec.finish(&origin, &store);
                store.mark_ended(format!("{origin}: source ended"));
            }
            Err(e) => {
                dec.finish(&origin, &store);
                store.report_problem(format!("{origin}: read error: {e}"));
                store.mark_ended(format!("{origin}: source ended (read error)"));
            }
        }
    })
    .map_err(|e| Error::io(name, e))?;
    Ok(SourceHandle {
        name: name.to_string(),
        stop,
        threads: Vec::new(),
        local_addr: None,
        socket: None,
    })
}

/// How a stream's bytes are decoded; decided by the first bytes for Auto.
#[derive(Debug)]
enum Decoder {
    Undecided(Vec<u8>),
    Text(TextDecoder),
    Binary(FrameDecoder),
    /// Raw little-endian f32 rows of `cols`, and the bytes of a partial row.
    Raw {
        cols: usize,
        partial: Vec<u8>,
    },
}

#[derive(Debug)]
struct StreamDecoder {
    dec: Decoder,
    /// A first line that is not numbers is a header, not a problem.
    header_allowed: bool,
    /// Channels this stream has pushed rows to.
    channels: Vec<String>,
    /// A text decoder was told the store's widths.
    seeded: bool,
}

impl StreamDecoder {
    fn new(format: WireFormat, header_allowed: bool) -> Self {
        let dec = match format {
            WireFormat::Auto => Decoder::Undecided(Vec::new()),
            WireFormat::Text => Decoder::Text(TextDecoder::new()),
            WireFormat::Binary => Decoder::Binary(FrameDecoder::new()),
        };
        StreamDecoder {
            dec,
            header_allowed,
            channels: Vec::new(),
            seeded: false,
        }
    }

    fn raw(cols: usize) -> Self {
        StreamDecoder {
            dec: Decoder::Raw {
                cols,
                partial: Vec::new(),
            },
            header_allowed: false,
            channels: Vec::new(),
            seeded: false,
        }
    }

    /// Tell a text decoder the widths the store has fixed, so that a row
    /// of another width is reported with its line number and the rows
    /// after it are still taken.
    /// Channels in `removed` are about to go: their widths do not count.
    fn seed(&mut self, store: &LiveStore, removed: &[String]) {
        self.seeded = true;
        if let Decoder::Text(t) = &mut self.dec {
            for (channel, cols) in store.widths() {
                if !removed.contains(&channel) {
                    t.set_width(&channel, cols);
                }
            }
        }
    }

    /// Decode `bytes`; push rows and problems to the store (after removing
    /// the channels in `remove`).
    fn push(&mut self, bytes: &[u8], origin: &str, store: &LiveStore, remove: &[String]) {
        if let Decoder::Undecided(head) = &mut self.dec {
            head.extend_from_slice(bytes);
            let n = head.len().min(4);
            if head.len() < 4 && head[..n] == MAGIC[..n] {
                if !remove.is_empty() {
                    store.apply(origin, remove, Vec::new());
                }
                return; // Might still be a frame.
            }
            let head = std::mem::take(head);
            self.dec = if head.starts_with(MAGIC) {
                Decoder::Binary(FrameDecoder::new())
            } else {
                Decoder::Text(TextDecoder::new())
            };
            self.seed(store, remove);
            return self.push(&head, origin, store, remove);
        }
        if !self.seeded {
            self.seed(store, remove);
        }
        let items = match &mut self.dec {
            Decoder::Undecided(_) => Vec::new(),
            Decoder::Text(t) => t.push(bytes),
            Decoder::Binary(b) => b.push(bytes),
            Decoder::Raw { cols, partial } => {
                partial.extend_from_slice(bytes);
                let row_bytes = *cols * 4;
                let rows = partial.len() / row_bytes;
                if rows == 0 {
                    Vec::new()
                } else {
                    let data = partial[..rows * row_bytes]
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    partial.drain(..rows * row_bytes);
                    vec![Ok(Frame::rows(String::new(), rows, *cols, data))]
                }
            }
        };
        self.apply(items, origin, store, remove);
    }

    fn apply(
        &mut self,
        mut items: Vec<Result<Frame, ProtocolError>>,
        origin: &str,
        store: &LiveStore,
        remove: &[String],
    ) {
        if self.header_allowed {
            items.retain(|r| {
                !matches!(r, Err(ProtocolError::Line { line: 1, message }) if message.contains("is not a number"))
            });
            if !items.is_empty() {
                self.header_allowed = false;
            }
        }
        for f in items.iter().flatten() {
            if !self.channels.contains(&f.channel) {
                self.channels.push(f.channel.clone());
            }
        }
        for m in store.apply(origin, remove, items) {
            // Follow the store's width, so one bad first row does not make
            // the channel's good rows errors.
            if let Decoder::Text(t) = &mut self.dec {
                t.set_width(&m.channel, m.expected);
            }
        }
    }

    /// The stream ended: decode what is left.
    fn finish(&mut self, origin: &str, store: &LiveStore) {
        let items = match &mut self.dec {
            Decoder::Undecided(head) => {
                let head = std::mem::take(head);
                let mut t = TextDecoder::new();
                let mut items = t.push(&head);
                items.extend(t.finish());
                items
            }
            Decoder::Text(t) => t.finish().into_iter().collect(),
            Decoder::Binary(b) if b.pending() > 0 => {
                store.report_problem(format!(
                    "{origin}: the stream ended inside a frame; {} bytes dropped",
                    b.pending()
                ));
                Vec::new()
            }
            Decoder::Raw { cols, partial } if !partial.is_empty() => {
                store.report_problem(format!(
                    "{origin}: {} bytes at the end are not a whole row of {cols} f32 values",
                    partial.len()
                ));
                Vec::new()
            }
            _ => Vec::new(),
        };
        self.apply(items, origin, store, &[]);
    }
}

enum Pumped {
    Eof,
    Stopped,
}

/// Read `r` to its end (or until `stop`), decoding into `store`. Read
/// timeouts only check `stop`.
fn pump(
    mut r: impl Read,
    dec: &mut StreamDecoder,
    origin: &str,
    store: &LiveStore,
    stop: &AtomicBool,
) -> io::Result<Pumped> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(Pumped::Stopped);
        }
        match r.read(&mut buf) {
            Ok(0) => return Ok(Pumped::Eof),
            Ok(n) => dec.push(&buf[..n], origin, store, &[]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

/// A listening socket: accepts writers without blocking.
trait Listen: Send + 'static {
    type Conn: Read + Send + 'static;
    /// A writer, set to blocking reads with a timeout, and its description.
    fn accept_conn(&self) -> io::Result<(Self::Conn, String)>;
}

impl Listen for TcpListener {
    type Conn = TcpStream;
    fn accept_conn(&self) -> io::Result<(TcpStream, String)> {
        let (s, peer) = self.accept()?;
        s.set_nonblocking(false)?;
        s.set_read_timeout(Some(POLL))?;
        Ok((s, peer.to_string()))
    }
}

impl Listen for UnixListener {
    type Conn = UnixStream;
    fn accept_conn(&self) -> io::Result<(UnixStream, String)> {
        let (s, _) = self.accept()?;
        s.set_nonblocking(false)?;
        s.set_read_timeout(Some(POLL))?;
        Ok((s, "a local process".into()))
    }
}

/// Accept writers until stopped; each gets a thread and a fresh decoder.
fn accept_loop<L: Listen>(
    listener: L,
    name: String,
    format: WireFormat,
    store: Arc<LiveStore>,
    stop: Arc<AtomicBool>,
) {
    let active = Arc::new(AtomicUsize::new(0));
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    let mut count = 0u64;
    let mut last_error = String::new();
    while !stop.load(Ordering::SeqCst) {
        conns.retain(|t| !t.is_finished());
        let (conn, peer) = match listener.accept_conn() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(POLL);
                continue;
            }
            Err(e) => {
                // Out of file descriptors and the like: say so once, retry.
                let msg = format!("{name}: cannot accept a writer: {e}");
                if msg != last_error {
                    store.report_problem(msg.clone());
                    last_error = msg;
                }
                std::thread::sleep(POLL);
                continue;
            }
        };
        count += 1;
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            store.report_problem(format!(
                "{name}: refused writer #{count} from {peer}: {MAX_CONNECTIONS} writers are connected already"
            ));
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let origin = format!("{name} (writer #{count})");
        let (store2, stop2, active2, name2) = (store.clone(), stop.clone(), active.clone(), name.clone());
        store.set_status(format!("{name}: writer #{count} connected ({peer})"));
        let thread_name = origin.clone();
        let spawned = spawn_thread(&thread_name, move || {
            let mut dec = StreamDecoder::new(format, false);
            let how = pump(conn, &mut dec, &origin, &store2, &stop2);
            let left = active2.fetch_sub(1, Ordering::SeqCst) - 1;
            if matches!(how, Ok(Pumped::Stopped)) {
                return;
            }
            dec.finish(&origin, &store2);
            let why = match how {
                Err(e) => format!(" ({e})"),
                _ => String::new(),
            };
            let still = match left {
                0 => "listening".to_string(),
                1 => "1 writer still connected".to_string(),
                n => format!("{n} writers still connected"),
            };
            store2.set_status(format!("{name2}: writer #{count} disconnected{why}; {still}"));
        });
        match spawned {
            Ok(t) => conns.push(t),
            Err(e) => {
                active.fetch_sub(1, Ordering::SeqCst);
                store.report_problem(format!("{name}: cannot start a reader thread: {e}"));
            }
        }
    }
    for t in conns {
        let _ = t.join();
    }
}

fn spawn_listener<L: Listen>(
    listener: L,
    name: String,
    opts: &SourceOptions,
    store: Arc<LiveStore>,
    local_addr: Option<SocketAddr>,
    socket: Option<(PathBuf, u64)>,
) -> Result<SourceHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    store.set_status(format!("listening on {name}"));
    let (n, format, flag) = (name.clone(), opts.format, stop.clone());
    let mut handle = SourceHandle {
        name,
        stop,
        threads: Vec::new(),
        local_addr,
        socket,
    };
    let thread_name = n.clone();
    let t = spawn_thread(&thread_name, move || {
        accept_loop(listener, n, format, store, flag)
    })
    .map_err(|e| Error::io(handle.name.as_str(), e))?;
    handle.threads.push(t);
    Ok(handle)
}

fn spawn_tcp(addr: &str, opts: &SourceOptions, store: Arc<LiveStore>) -> Result<SourceHandle> {
    let shown = format!("tcp://{addr}");
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| Error::io(shown.as_str(), e))?
        .collect();
    let listener = TcpListener::bind(&addrs[..]).map_err(|e| Error::io(shown.as_str(), e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io(shown.as_str(), e))?;
    let local = listener.local_addr().map_err(|e| Error::io(shown.as_str(), e))?;
    spawn_listener(listener, format!("tcp://{local}"), opts, store, Some(local), None)
}

/// Bind a Unix socket, replacing a stale socket file (one nobody listens
/// on) but never another kind of file or a live socket.
fn bind_unix(path: &Path) -> Result<UnixListener> {
    match UnixListener::bind(path) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
            if !meta.file_type().is_socket() {
                return Err(Error::Invalid(format!(
                    "{}: exists and is not a socket; pick another path",
                    path.display()
                )));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(Error::io(
                    path,
                    io::Error::new(
                        io::ErrorKind::AddrInUse,
                        "another process is listening on this socket",
                    ),
                ));
            }
            std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
            UnixListener::bind(path).map_err(|e| Error::io(path, e))
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

fn spawn_unix(path: &Path, opts: &SourceOptions, store: Arc<LiveStore>) -> Result<SourceHandle> {
    let listener = bind_unix(path)?;
    let ino = std::fs::symlink_metadata(path).map(|m| m.ino()).unwrap_or(0);
    // From here on the handle removes the socket file, even on error.
    let socket = Some((path.to_path_buf(), ino));
    if let Err(e) = listener.set_nonblocking(true) {
        let _ = std::fs::remove_file(path);
        return Err(Error::io(path, e));
    }
    let name = format!("unix:{}", path.display());
    spawn_listener(listener, name, opts, store, None, socket)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum FileKind {
    Npy,
    Text,
    Binary,
    Raw(usize),
}

fn file_kind(path: &Path, opts: &SourceOptions) -> Result<FileKind> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let raw = || match opts.cols {
        Some(0) => Err(Error::Invalid("--cols must be at least 1".into())),
        Some(c) => Ok(FileKind::Raw(c)),
        None => Err(Error::Invalid(format!(
            "{}: a raw f32 file has no shape; give the row length with --cols N",
            path.display()
        ))),
    };
    match (ext.as_str(), opts.format) {
        ("npy", _) => Ok(FileKind::Npy),
        (_, WireFormat::Binary) => Ok(FileKind::Binary),
        (_, WireFormat::Text) => Ok(FileKind::Text),
        ("csv" | "tsv" | "txt", _) => Ok(FileKind::Text),
        ("f32" | "bin", _) => raw(),
        _ => Err(Error::Invalid(format!(
            "{}: cannot watch this file type; expected .npy (re-read when replaced) or \
             .csv, .tsv, .txt, .f32, .bin (followed as they grow)",
            path.display()
        ))),
    }
}

fn spawn_file(path: &Path, opts: &SourceOptions, store: Arc<LiveStore>) -> Result<SourceHandle> {
    let kind = file_kind(path, opts)?;
    let stop = Arc::new(AtomicBool::new(false));
    let name = path.display().to_string();
    let mut watcher = FileWatch {
        path: path.to_path_buf(),
        name: name.clone(),
        kind,
        store,
        seen: None,
        waiting: false,
        offset: 0,
        dec: None,
        last_error: String::new(),
    };
    spawn_poller(path, name, stop, FILE_POLL, move |stop| watcher.poll(stop))
}

/// What identifies a version of a watched file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

struct FileWatch {
    path: PathBuf,
    name: String,
    kind: FileKind,
    store: Arc<LiveStore>,
    /// The file as last read.
    seen: Option<FileKey>,
    waiting: bool,
    /// Stream files: bytes read so far, and the decoder they went through.
    offset: u64,
    dec: Option<StreamDecoder>,
    last_error: String,
}

impl FileWatch {
    /// Report a problem unless it is the one reported last.
    fn problem(&mut self, message: String) {
        if message != self.last_error {
            self.store.report_problem(message.clone());
            self.last_error = message;
        }
    }

    fn poll(&mut self, stop: &AtomicBool) {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) => {
                if e.kind() == io::ErrorKind::NotFound {
                    if !self.waiting {
                        self.waiting = true;
                        self.store.set_status(format!("waiting for {}", self.name));
                    }
                } else {
                    self.problem(Error::io(&self.path, e).to_string());
                }
                return;
            }
        };
        let key = FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        };
        if self.seen == Some(key) {
            return;
        }
        if self.waiting {
            self.waiting = false;
            self.store.set_status(format!("watching {}", self.name));
        }
        let previous = self.seen.replace(key);
        match self.kind {
            FileKind::Npy => self.read_npy(),
            _ => {
                let same_file = previous.is_some_and(|p| p.dev == key.dev && p.ino == key.ino);
                self.follow(same_file && key.size >= self.offset, stop);
            }
        }
    }

    fn read_npy(&mut self) {
        let grid = crate::input::npy::read_npy(&self.path).and_then(|t| t.into_grid(&GridSelect::default()));
        match grid.and_then(|g| self.store.replace("", g)) {
            Ok(()) => {
                self.last_error.clear();
                self.store.set_status(format!("watching {}", self.name));
            }
            // Retried when the file changes again (a half-written file).
            Err(e) => self.problem(e.to_string()),
        }
    }

    /// Read what was appended; with `!same`, start over from the top and
    /// drop the channels the old file fed.
    fn follow(&mut self, same: bool, stop: &AtomicBool) {
        let mut remove = Vec::new();
        if !same || self.dec.is_none() {
            if let Some(old) = self.dec.take() {
                remove = old.channels;
            }
            self.offset = 0;
            self.dec = Some(match self.kind {
                FileKind::Raw(cols) => StreamDecoder::raw(cols),
                FileKind::Binary => StreamDecoder::new(WireFormat::Binary, false),
                _ => StreamDecoder::new(WireFormat::Text, true),
            });
        }
        let result = (|| -> io::Result<()> {
            let mut f = File::open(&self.path)?;
            f.seek(SeekFrom::Start(self.offset))?;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                self.offset += n as u64;
                if let Some(dec) = &mut self.dec {
                    dec.push(&buf[..n], &self.name, &self.store, &std::mem::take(&mut remove));
                }
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            Ok(())
        })();
        if !remove.is_empty() {
            // Nothing was read: the file is empty now.
            self.store.apply(&self.name, &remove, Vec::new());
        }
        if let Err(e) = result {
            self.problem(Error::io(&self.path, e).to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::store::StoreOptions;

    #[test]
    fn specs_parse() {
        let p = |s: &str| SourceSpec::parse(s);
        assert_eq!(p("-").unwrap(), SourceSpec::Stdin);
        assert_eq!(
            p("tcp://127.0.0.1:7878").unwrap(),
            SourceSpec::Tcp("127.0.0.1:7878".into())
        );
        assert_eq!(p("tcp://[::1]:9/").unwrap(), SourceSpec::Tcp("[::1]:9".into()));
        assert_eq!(
            p("unix:///tmp/a.sock").unwrap(),
            SourceSpec::Unix("/tmp/a.sock".into())
        );
        assert_eq!(p("unix:a.sock").unwrap(), SourceSpec::Unix("a.sock".into()));
        assert_eq!(p("acts.npy").unwrap(), SourceSpec::File("acts.npy".into()));
        assert_eq!(p("runs/exp1").unwrap(), SourceSpec::RunLog("runs/exp1".into()));
        assert_eq!(p(".").unwrap(), SourceSpec::RunLog(".".into()));
        for bad in [
            "tcp://7878",
            "tcp://host:port",
            "tcp://:1",
            "unix:",
            "http://x",
            "",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert_eq!(p("tcp://localhost:1").unwrap().to_string(), "tcp://localhost:1");
        assert_eq!("BINARY".parse::<WireFormat>().unwrap(), WireFormat::Binary);
        assert!("json".parse::<WireFormat>().is_err());
    }

    #[test]
    fn with_rank_follows_one_rank_of_a_distributed_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        // Not there yet: rank 1's run log is waited for.
        let spec = SourceSpec::RunLog(run.clone()).with_rank(1).unwrap();
        assert_eq!(spec, SourceSpec::RunLog(run.join("rank1")));
        for r in [0, 1] {
            let w =
                crate::runlog::RunWriter::open(crate::runlog::rank_dir(&run, r).unwrap(), Default::default())
                    .unwrap();
            w.append("x", Some(0), 0.0, &[1], &[r as f32]).unwrap();
            w.close().unwrap();
        }
        let spec = SourceSpec::RunLog(run.clone()).with_rank(1).unwrap();
        assert_eq!(spec, SourceSpec::RunLog(run.join("rank1")));
        let e = SourceSpec::RunLog(run.clone())
            .with_rank(3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no rank 3; the run has ranks 0, 1"), "{e}");
        let e = SourceSpec::Stdin.with_rank(0).unwrap_err().to_string();
        assert!(
            e.contains("--rank picks a rank of a distributed run log; stdin is not a run log"),
            "{e}"
        );
    }

    #[test]
    fn file_kinds() {
        let o = SourceOptions::default();
        let k = |p: &str, o: &SourceOptions| file_kind(Path::new(p), o);
        assert_eq!(k("a.NPY", &o).unwrap(), FileKind::Npy);
        assert_eq!(k("a.tsv", &o).unwrap(), FileKind::Text);
        let e = k("a.f32", &o).unwrap_err().to_string();
        assert!(e.contains("--cols"), "{e}");
        let with = SourceOptions {
            cols: Some(3),
            ..Default::default()
        };
        assert_eq!(k("a.bin", &with).unwrap(), FileKind::Raw(3));
        assert!(k("a.pt", &o).is_err());
    }

    fn store() -> LiveStore {
        LiveStore::new(StoreOptions::default()).unwrap()
    }

    #[test]
    fn auto_detects_frames_by_their_magic_in_any_chunking() {
        let frame = FrameDecoder::encode("a", 1, 2, &[1.0, 2.0]);
        for split in 1..6 {
            let s = store();
            let mut d = StreamDecoder::new(WireFormat::Auto, false);
            d.push(&frame[..split], "t", &s, &[]);
            d.push(&frame[split..], "t", &s, &[]);
            d.finish("t", &s);
            let snap = s.snapshot();
            assert_eq!(snap.channel("a").unwrap().total_rows, 1, "split {split}");
            assert_eq!(snap.problem_count, 0);
        }
        let s = store();
        let mut d = StreamDecoder::new(WireFormat::Auto, false);
        d.push(b"A", "t", &s, &[]);
        d.push(b"1\n2", "t", &s, &[]);
        d.finish("t", &s);
        // "A1" is not a row; "2" is.
        let snap = s.snapshot();
        assert_eq!(snap.problem_count, 1, "{:?}", snap.problems);
        assert_eq!(snap.channels[0].total_rows, 1);
    }

    #[test]
    fn a_bad_first_row_does_not_poison_the_channel() {
        let s = LiveStore::new(StoreOptions {
            expected_cols: Some(3),
            ..Default::default()
        })
        .unwrap();
        let mut d = StreamDecoder::new(WireFormat::Text, false);
        d.push(b"1,2\n1,2,3\n4,5,6\n", "stdin", &s, &[]);
        let snap = s.snapshot();
        assert_eq!(snap.channels[0].total_rows, 2);
        assert_eq!(snap.problem_count, 1);
        assert!(snap.problems[0].starts_with("stdin: "), "{:?}", snap.problems);
    }

    #[test]
    fn raw_rows_wait_for_whole_rows() {
        let s = store();
        let mut d = StreamDecoder::raw(2);
        let bytes: Vec<u8> = [1.0f32, 2.0, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        d.push(&bytes, "r", &s, &[]);
        assert_eq!(s.snapshot().channels[0].total_rows, 1);
        d.push(&4.0f32.to_le_bytes(), "r", &s, &[]);
        let snap = s.snapshot();
        assert_eq!(
            snap.channels[0].grid.as_ref().unwrap().data(),
            [1.0, 2.0, 3.0, 4.0]
        );
        d.push(&[0, 0], "r", &s, &[]);
        d.finish("r", &s);
        assert_eq!(s.snapshot().problem_count, 1);
    }
}
