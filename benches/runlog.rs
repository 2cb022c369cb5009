//! The run log writer's per-call cost, as the Python package's writer
//! thread will pay it: `RunWriter::append` of one 4096-wide row with its
//! step (a copy into the channel's pending rows; every 256th call writes a
//! full 4 MiB chunk), and the same through a `LiveStore` with a recorder
//! attached (the tee behind `watch --record`). Also one flush of a pending
//! chunk, and reading a channel back in step order.
//!
//! Run: `cargo bench --bench runlog`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use actmap::input::RowSource;
use actmap::live::{LiveStore, StoreOptions};
use actmap::runlog::{RunReader, RunWriter, WriterOptions};
use criterion::{Criterion, criterion_group, criterion_main};

fn runlog(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let row: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.01).sin()).collect();
    let mut g = c.benchmark_group("runlog_4096");
    g.sample_size(50)
        .measurement_time(Duration::from_secs(6))
        .warm_up_time(Duration::from_secs(1));

    let w = RunWriter::open(dir.path().join("append"), WriterOptions::default()).expect("open");
    let mut step = 0i64;
    g.bench_function("append", |b| {
        b.iter(|| {
            step += 1;
            w.append("acts", Some(step), 1.7e9, &[4096], black_box(&row))
                .expect("append")
        })
    });
    // 256 appends = one full chunk written: the amortised cost per row.
    g.bench_function("append_256_rows_one_chunk", |b| {
        b.iter(|| {
            for _ in 0..256 {
                step += 1;
                w.append("acts", Some(step), 1.7e9, &[4096], black_box(&row))
                    .expect("append");
            }
        })
    });
    g.bench_function("flush_100_pending_rows", |b| {
        b.iter(|| {
            for _ in 0..100 {
                step += 1;
                w.append("acts", Some(step), 1.7e9, &[4096], &row)
                    .expect("append");
            }
            w.flush().expect("flush")
        })
    });
    w.close().expect("close");

    let tee = Arc::new(RunWriter::open(dir.path().join("tee"), WriterOptions::default()).expect("open"));
    let store = LiveStore::new(StoreOptions::default()).expect("store");
    store.set_recorder(Some(tee.clone()));
    g.bench_function("store_push_with_recorder", |b| {
        b.iter(|| store.push_rows("acts", 4096, black_box(&row)).expect("push"))
    });
    store.set_recorder(None);
    tee.close().expect("close");

    // Read a 20000-step channel back in step order, as render does.
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
