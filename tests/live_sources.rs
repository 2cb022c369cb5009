//! Live sources against real sockets, pipes and files: rows arrive in the
//! store, bad input becomes problems, writers come and go, files are
//! replaced and appended to. Waits are on the store's version with a
//! generous deadline, never fixed sleeps.

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actmap::live::{
    FrameDecoder, LiveStore, SourceOptions, SourceSpec, StoreOptions, StoreSnapshot, WireFormat,
    spawn_reader, spawn_source,
};
use actmap::sink::write_npy_f32;

fn store() -> Arc<LiveStore> {
    Arc::new(LiveStore::new(StoreOptions::default()).unwrap())
}

/// Wait until `cond` holds for a snapshot (10 s at most).
fn wait_until(store: &LiveStore, what: &str, cond: impl Fn(&StoreSnapshot) -> bool) -> StoreSnapshot {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let snap = store.snapshot();
        if cond(&snap) {
            return snap;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out waiting for {what}; last snapshot: {snap:#?}"
        );
        store.wait_for_change(snap.version, left);
    }
}

fn rows(snap: &StoreSnapshot, channel: &str) -> u64 {
    snap.channel(channel).map_or(0, |c| c.total_rows)
}

fn data(snap: &StoreSnapshot, channel: &str) -> Vec<f32> {
    snap.channel(channel)
        .and_then(|c| c.grid.as_ref())
        .map(|g| g.data().to_vec())
        .unwrap_or_default()
}

fn tcp(store: &Arc<LiveStore>) -> actmap::live::SourceHandle {
    let spec = SourceSpec::parse("tcp://127.0.0.1:0").unwrap();
    spawn_source(&spec, &SourceOptions::default(), store.clone()).unwrap()
}

#[test]
fn tcp_text_then_binary_writers_come_and_go() {
    let s = store();
    let h = tcp(&s);
    let addr = h.local_addr().unwrap();
    assert_eq!(h.name(), format!("tcp://{addr}"));
    assert_eq!(s.snapshot().status, format!("listening on tcp://{addr}"));

    // First writer: text rows with a bad line in the middle.
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"1,2,3\n4,5,6\n1,x,3\nattn: 0.5 0.25\n7,8").unwrap();
    c.write_all(b",9\n").unwrap();
    drop(c);
    let snap = wait_until(&s, "the first writer's rows and disconnect", |s| {
        rows(s, "") == 3 && rows(s, "attn") == 1 && s.status.contains("disconnected")
    });
    assert_eq!(data(&snap, ""), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    assert_eq!(snap.problem_count, 1, "{:?}", snap.problems);
    let p = &snap.problems[0];
    assert!(
        p.starts_with(&format!("tcp://{addr} (writer #1): line 3: value 2 'x'")),
        "{p}"
    );
    assert!(
        snap.status.contains("writer #1 disconnected; listening"),
        "{}",
        snap.status
    );

    // Second writer: binary frames, and a frame too narrow for its channel.
    let mut c = TcpStream::connect(addr).unwrap();
    let mut bytes = FrameDecoder::encode("acts", 2, 2, &[1.0, -2.0, 3.0, -4.0]);
    bytes.extend(FrameDecoder::encode("", 1, 2, &[0.0, 0.0]));
    bytes.extend(FrameDecoder::encode("", 1, 3, &[10.0, 11.0, 12.0]));
    // Split mid-frame: the decoder waits for the rest.
    c.write_all(&bytes[..21]).unwrap();
    c.flush().unwrap();
    c.write_all(&bytes[21..]).unwrap();
    drop(c);
    let snap = wait_until(&s, "the second writer's frames", |s| {
        rows(s, "acts") == 2 && rows(s, "") == 4 && s.status.contains("writer #2 disconnected")
    });
    // The first writer's rows stay; channels in first-seen order.
    assert_eq!(s.channel_names(), ["", "attn", "acts"]);
    assert_eq!(data(&snap, "acts"), [1.0, -2.0, 3.0, -4.0]);
    assert_eq!(&data(&snap, "")[9..], [10.0, 11.0, 12.0]);
    assert_eq!(snap.problem_count, 2);
    assert!(
        snap.problems[1].contains("rows of 2 values, but the channel has 3 columns"),
        "{:?}",
        snap.problems
    );
    assert!(!snap.ended);
    h.stop();
    // The port is free again.
    std::net::TcpListener::bind(addr).unwrap();
}

#[test]
fn tcp_writers_may_overlap_and_stop_does_not_hang() {
    let s = store();
    let h = tcp(&s);
    let addr = h.local_addr().unwrap();
    let mut a = TcpStream::connect(addr).unwrap();
    let mut b = TcpStream::connect(addr).unwrap();
    a.write_all(b"a: 1,2\n").unwrap();
    b.write_all(b"b: 3\n").unwrap();
    wait_until(&s, "both writers' rows", |s| {
        rows(s, "a") == 1 && rows(s, "b") == 1
    });
    // Both writers still connected and idle: stop must return anyway.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        h.stop();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("stop hung with connected writers");
    drop((a, b));
}

#[test]
fn tcp_address_in_use_is_an_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let spec = SourceSpec::parse(&format!("tcp://{addr}")).unwrap();
    let e = spawn_source(&spec, &SourceOptions::default(), store()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("tcp://{addr}: ")), "{msg}");
    assert!(
        matches!(e, actmap::Error::Io { ref cause, .. } if cause.kind() == std::io::ErrorKind::AddrInUse)
    );
}

#[test]
fn unix_socket_stale_file_writers_and_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acts.sock");
    // A stale socket file left by a process that died.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let s = store();
    let spec = SourceSpec::parse(&format!("unix://{}", path.display())).unwrap();
    let opts = SourceOptions::default();
    let h = spawn_source(&spec, &opts, s.clone()).unwrap();
    assert_eq!(h.socket_path(), Some(path.as_path()));

    let mut c = UnixStream::connect(&path).unwrap();
    c.write_all(b"1 2\nbad\n3 4\n").unwrap();
    drop(c);
    let snap = wait_until(&s, "text rows over the socket", |s| {
        rows(s, "") == 2 && s.status.contains("disconnected")
    });
    assert_eq!(data(&snap, ""), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(snap.problem_count, 1);
    assert!(
        snap.problems[0].contains("(writer #1): line 2"),
        "{:?}",
        snap.problems
    );

    let mut c = UnixStream::connect(&path).unwrap();
    c.write_all(&FrameDecoder::encode("", 1, 2, &[5.0, 6.0])).unwrap();
    c.write_all(b"garbage").unwrap();
    c.write_all(&FrameDecoder::encode("", 1, 2, &[7.0, 8.0])).unwrap();
    drop(c);
    let snap = wait_until(&s, "frames over the socket", |s| rows(s, "") == 4);
    assert_eq!(&data(&snap, "")[4..], [5.0, 6.0, 7.0, 8.0]);
    wait_until(&s, "the garbage reported", |s| s.problem_count == 2);
    // A second source on the same live socket is refused.
    let e = spawn_source(&spec, &opts, store()).unwrap_err().to_string();
    assert!(e.contains("another process is listening"), "{e}");

    h.stop();
    assert!(!path.exists(), "socket file left behind");
    // A file that is not a socket is never removed.
    std::fs::write(&path, b"keep me").unwrap();
    let e = spawn_source(&spec, &opts, store()).unwrap_err().to_string();
    assert!(e.contains("is not a socket"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
}

#[test]
fn reader_source_ends_and_keeps_its_rows() {
    // What stdin does, over a real pipe.
    let (reader, mut writer) = UnixStream::pair().unwrap();
    let s = store();
    let opts = SourceOptions {
        format: WireFormat::Text,
        ..Default::default()
    };
    let _h = spawn_reader(reader, "stdin", &opts, s.clone()).unwrap();
    writer.write_all(b"1,2,3,4\n5,6,7,8\n1,2,3\n").unwrap();
    let snap = wait_until(&s, "the first rows", |s| rows(s, "") == 2 && s.problem_count == 1);
    assert_eq!(
        snap.problems[0],
        "stdin: line 3: 3 values, but the stream has 4 per row"
    );
    assert!(!snap.ended);
    // Last line without a newline, then end of input.
    writer.write_all(b"9,9,9,9").unwrap();
    drop(writer);
    let snap = wait_until(&s, "the end of the stream", |s| s.ended);
    assert_eq!(snap.status, "stdin: source ended");
    assert_eq!(rows(&snap, ""), 3);

    // Binary frames through a real pipe, detected by their magic.
    let (reader, mut writer) = std::io::pipe().unwrap();
    let s = store();
    let _h = spawn_reader(reader, "stdin", &SourceOptions::default(), s.clone()).unwrap();
    writer
        .write_all(&FrameDecoder::encode("x", 3, 1, &[1.0, 2.0, 3.0]))
        .unwrap();
    writer
        .write_all(&FrameDecoder::encode("x", 1, 1, &[4.0])[..10])
        .unwrap();
    drop(writer);
    let snap = wait_until(&s, "frames from a pipe", |s| s.ended);
    assert_eq!(data(&snap, "x"), [1.0, 2.0, 3.0]);
    assert_eq!(snap.problem_count, 1);
    assert!(
        snap.problems[0].contains("stream ended inside a frame"),
        "{:?}",
        snap.problems
    );
}

fn file_source(path: &Path, opts: SourceOptions, s: &Arc<LiveStore>) -> actmap::live::SourceHandle {
    let spec = SourceSpec::parse(path.to_str().unwrap()).unwrap();
    assert_eq!(spec, SourceSpec::File(path.to_path_buf()));
    spawn_source(&spec, &opts, s.clone()).unwrap()
}

#[test]
fn watched_npy_is_reread_when_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acts.npy");
    let s = store();
    let h = file_source(&path, SourceOptions::default(), &s);
    wait_until(&s, "waiting status", |s| {
        s.status == format!("waiting for {}", path.display())
    });

    // write_npy_f32 writes a temporary file and renames it over the path.
    write_npy_f32(&path, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let watching = format!("watching {}", path.display());
    let snap = wait_until(&s, "the first grid", |s| rows(s, "") == 2 && s.status == watching);
    let g = snap.channels[0].grid.clone().unwrap();
    assert_eq!((g.rows(), g.cols()), (2, 3));
    assert_eq!(g.data(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);

    // Replaced by an array of another shape.
    write_npy_f32(&path, &[4, 2], &[9.0; 8]).unwrap();
    let snap = wait_until(&s, "the replaced grid", |s| rows(s, "") == 4);
    assert_eq!(snap.channels[0].cols, 2);
    assert_eq!(data(&snap, ""), [9.0; 8]);
    assert_eq!(snap.problem_count, 0);

    // Half-written in place: a problem, and the last grid stays.
    let full = std::fs::read(&path).unwrap();
    std::fs::write(&path, &full[..full.len() - 5]).unwrap();
    let snap = wait_until(&s, "the truncated file reported", |s| s.problem_count >= 1);
    assert!(
        snap.problems[0].starts_with(&path.display().to_string()),
        "{:?}",
        snap.problems
    );
    assert_eq!(data(&snap, ""), [9.0; 8]);
    // Retried on the next change.
    write_npy_f32(&path, &[1, 2], &[-1.0, 1.0]).unwrap();
    let snap = wait_until(&s, "recovery", |s| rows(s, "") == 1);
    assert_eq!(data(&snap, ""), [-1.0, 1.0]);
    h.stop();
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn appended_csv_is_followed_and_restarts_when_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acts.csv");
    std::fs::write(&path, b"a,b\n1,2\n3,4\n5,").unwrap();
    let s = store();
    let h = file_source(&path, SourceOptions::default(), &s);
    let snap = wait_until(&s, "the first rows", |s| rows(s, "") == 2);
    // The header is not a problem; the partial last line waits.
    assert_eq!(snap.problem_count, 0, "{:?}", snap.problems);
    append(&path, b"6\n7,8\nx,y\n");
    let snap = wait_until(&s, "appended rows", |s| rows(s, "") == 4 && s.problem_count == 1);
    assert_eq!(data(&snap, ""), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    assert!(
        snap.problems[0].contains("line 6: value 1 'x'"),
        "{:?}",
        snap.problems
    );

    // Truncated and rewritten with another width: start over.
    std::fs::write(&path, b"1,1,1\n").unwrap();
    let snap = wait_until(&s, "the rewritten file", |s| {
        s.channel("").is_some_and(|c| c.cols == 3)
    });
    assert_eq!(rows(&snap, ""), 1);
    // Replaced by a new file (new inode) that is longer: start over too.
    let tmp = dir.path().join("tmp.csv");
    std::fs::write(&tmp, b"2,2,2\n3,3,3\n4,4,4\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let snap = wait_until(&s, "the replacing file", |s| rows(s, "") == 3);
    assert_eq!(data(&snap, "")[..3], [2.0, 2.0, 2.0]);
    h.stop();
}

#[test]
fn raw_f32_file_needs_cols_and_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acts.f32");
    let spec = SourceSpec::File(path.clone());
    let e = spawn_source(&spec, &SourceOptions::default(), store()).unwrap_err();
    assert!(e.to_string().contains("--cols"), "{e}");

    let s = store();
    let opts = SourceOptions {
        cols: Some(2),
        ..Default::default()
    };
    let h = file_source(&path, opts, &s);
    let bytes: Vec<u8> = (0..5).flat_map(|i| (i as f32).to_le_bytes()).collect();
    append(&path, &bytes);
    let snap = wait_until(&s, "two raw rows", |s| rows(s, "") == 2);
    assert_eq!(data(&snap, ""), [0.0, 1.0, 2.0, 3.0]);
    append(&path, &5.0f32.to_le_bytes());
    let snap = wait_until(&s, "the completed row", |s| rows(s, "") == 3);
    assert_eq!(&data(&snap, "")[4..], [4.0, 5.0]);
    h.stop();
}

#[test]
fn a_fast_writer_keeps_memory_bounded() {
    let s = Arc::new(
        LiveStore::new(StoreOptions {
            capacity_rows: 64,
            ..Default::default()
        })
        .unwrap(),
    );
    let h = tcp(&s);
    let mut c = TcpStream::connect(h.local_addr().unwrap()).unwrap();
    let row: Vec<f32> = (0..256).map(|i| i as f32).collect();
    let frame = FrameDecoder::encode("big", 1000, 256, &row.repeat(1000));
    for _ in 0..50 {
        c.write_all(&frame).unwrap();
    }
    drop(c);
    let snap = wait_until(&s, "all 50000 rows", |s| rows(s, "big") == 50_000);
    let g = snap.channel("big").unwrap().grid.clone().unwrap();
    assert!(g.rows() <= 64, "{}", g.rows());
    assert_eq!(g.cols(), 256);
}

#[test]
fn a_directory_of_runs_is_followed_run_by_run_and_new_runs_show_up() {
    use actmap::runlog::{RunWriter, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("runs");
    std::fs::create_dir_all(&root).unwrap();
    let write = |name: &str, v: f32| {
        let w = RunWriter::open(root.join(name), WriterOptions::default()).unwrap();
        for s in [0, 10] {
            w.append("acts", Some(s), 0.0, &[2], &[v, v]).unwrap();
        }
        w.close().unwrap();
    };
    write("a", 1.0);
    write("b", 2.0);
    std::fs::write(root.join("notes.txt"), "not a run").unwrap();
    let spec = SourceSpec::parse(root.to_str().unwrap()).unwrap();
    assert_eq!(
        spec,
        SourceSpec::Runs {
            paths: vec![root.clone()],
            patterns: vec![]
        }
    );
    let s = store();
    let h = spawn_source(&spec, &SourceOptions::default(), s.clone()).unwrap();
    // The status line follows once every run's records are in.
    let snap = wait_until(&s, "both runs", |snap| {
        rows(snap, "a/acts") == 2 && rows(snap, "b/acts") == 2 && snap.status == "following 2 runs: a, b"
    });
    assert_eq!(data(&snap, "b/acts"), [2.0, 2.0, 2.0, 2.0]);
    // A run that starts while the view is open joins it.
    write("c", 3.0);
    wait_until(&s, "the new run", |snap| rows(snap, "c/acts") == 2);
    h.stop();
    // --runs: only the runs picked.
    let spec = SourceSpec::Runs {
        paths: vec![root.clone()],
        patterns: vec!["a".into(), "c*".into()],
    };
    let s = store();
    let h = spawn_source(&spec, &SourceOptions::default(), s.clone()).unwrap();
    let snap = wait_until(&s, "a and c", |snap| {
        rows(snap, "a/acts") == 2 && rows(snap, "c/acts") == 2
    });
    assert!(snap.channel("b/acts").is_none());
    h.stop();
}

#[test]
fn every_rank_of_a_distributed_run_is_followed_side_by_side() {
    use actmap::runlog::{RunWriter, WriterOptions, rank_dir};
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("ddp");
    let write = |rank: u32| {
        let w = RunWriter::open(rank_dir(&run, rank).unwrap(), WriterOptions::default()).unwrap();
        w.append("acts", Some(0), 0.0, &[2], &[rank as f32, 0.0]).unwrap();
        w.close().unwrap();
    };
    write(0);
    write(1);
    let s = store();
    let h = spawn_source(
        &SourceSpec::Ranks(run.clone()),
        &SourceOptions::default(),
        s.clone(),
    )
    .unwrap();
    let snap = wait_until(&s, "both ranks", |snap| {
        rows(snap, "rank0/acts") == 1 && rows(snap, "rank1/acts") == 1
    });
    assert_eq!(data(&snap, "rank1/acts"), [1.0, 0.0]);
    // A rank that starts later (a job scaled up, a slow node) joins.
    write(2);
    wait_until(&s, "rank 2", |snap| rows(snap, "rank2/acts") == 1);
    h.stop();
}
