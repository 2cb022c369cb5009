//! The run log writer's per-call cost, as the Python package's writer
//! thread will pay it: `RunWriter::append` of one 4096-wide row with its
//! step (a copy into the channel's pending rows; every 256th call hands a
//! full 4 MiB chunk to the I/O thread), and the same through a `LiveStore`
//! with a recorder attached (the tee behind `watch --record`). Also
//! reading a channel back in step order.
//!
//! - `append_no_backpressure`: the call itself, while the disk keeps up
//!   (each sample appends at most 128 rows, flushed outside the timing);
//! - `append_sustained`: appends until the samples' rows are on disk (the
//!   close is timed too), so the rate the disk allows.
//!
//! Every sample writes into a fresh run that is deleted afterwards, so the
//! benchmark never holds more than one sample's rows on disk.
//!
//! Run: `cargo bench --bench runlog`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actmap::input::RowSource;
use actmap::live::{LiveStore, StoreOptions};
use actmap::runlog::{RunReader, RunWriter, WriterOptions};
use criterion::{Criterion, criterion_group, criterion_main};

fn runlog(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let row: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.01).sin()).collect();
    let mut g = c.benchmark_group("runlog_4096");
    g.sample_size(30)
        .measurement_time(Duration::from_secs(6))
        .warm_up_time(Duration::from_secs(1));
    let fresh = |k: &mut u32| {
        *k += 1;
        let path = dir.path().join(format!("run{k}"));
        (
            RunWriter::open(&path, WriterOptions::default()).expect("open"),
            path,
        )
    };
    let mut k = 0;

    g.bench_function("append_no_backpressure", |b| {
        b.iter_custom(|iters| {
            let (w, path) = fresh(&mut k);
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(128);
                let t = Instant::now();
                for s in done..done + n {
                    w.append("acts", Some(s as i64), 1.7e9, &[4096], black_box(&row))
                        .expect("append");
                }
                total += t.elapsed();
                w.flush().expect("flush");
                done += n;
            }
            w.close().expect("close");
            std::fs::remove_dir_all(path).ok();
            total
        })
    });
    g.bench_function("append_sustained", |b| {
        b.iter_custom(|iters| {
            let (w, path) = fresh(&mut k);
            let t = Instant::now();
            for s in 0..iters {
                w.append("acts", Some(s as i64), 1.7e9, &[4096], black_box(&row))
                    .expect("append");
            }
            w.close().expect("close");
            let total = t.elapsed();
            std::fs::remove_dir_all(path).ok();
            total
        })
    });
    g.bench_function("store_push_with_recorder", |b| {
        b.iter_custom(|iters| {
            let (w, path) = fresh(&mut k);
            let w = Arc::new(w);
            let store = LiveStore::new(StoreOptions::default()).expect("store");
            store.set_recorder(Some(w.clone()));
            let t = Instant::now();
            for _ in 0..iters {
                store.push_rows("acts", 4096, black_box(&row)).expect("push");
            }
            let total = t.elapsed();
            store.set_recorder(None);
            w.close().expect("close");
            std::fs::remove_dir_all(path).ok();
            total
        })
    });

    // Read a 20000-step channel (328 MB) back in step order, as render does.
    let path = dir.path().join("read");
    let w = RunWriter::open(&path, WriterOptions::default()).expect("open");
    for s in 0..20_000 {
        w.append("acts", Some(s), 0.0, &[4096], &row).expect("append");
    }
    w.close().expect("close");
    let r = RunReader::open(&path).expect("read");
    g.sample_size(10);
    g.bench_function("read_20000_rows_in_step_order", |b| {
        b.iter(|| {
            let ch = r.channel("acts").expect("channel");
            let mut src = ch.row_source(ch.step_index().expect("steps"));
            let mut buf = Vec::new();
            let mut n = 0;
            while src.read_rows(256, &mut buf).expect("read") > 0 {
                n += buf.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, runlog);
criterion_main!(benches);
