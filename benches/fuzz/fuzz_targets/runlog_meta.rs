#![no_main]
//! A real run log whose `values/zarr.json` is replaced by the input: every
//! reader call a viewer makes must give records or errors.

use std::path::PathBuf;
use std::sync::OnceLock;

use actmap::runlog::{RunReader, RunWriter, WriterOptions};
use libfuzzer_sys::fuzz_target;

/// A pristine run log, written once per process; each input gets a copy.
fn pristine() -> &'static PathBuf {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("actmap-fuzz-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let w = RunWriter::open(&dir, WriterOptions::default()).unwrap();
        for s in 0..6 {
            w.append("acts", Some(s * 10), 1.0, &[4], &[s as f32; 4]).unwrap();
        }
        w.close().unwrap();
        dir
    })
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let run = std::env::temp_dir().join(format!("actmap-fuzz-case-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&run);
    copy(pristine(), &run);
    std::fs::write(run.join("acts/values/zarr.json"), data).unwrap();
    if let Ok(meta) = serde_json::from_slice::<serde_json::Value>(data) {
        // The root's consolidated copy too, so readers that use it see the same.
        let root = run.join("zarr.json");
        if let Ok(mut r) = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&root).unwrap())
            && let Some(m) = r.pointer_mut("/consolidated_metadata/metadata/acts~1values")
        {
            *m = meta;
            std::fs::write(&root, serde_json::to_vec(&r).unwrap()).unwrap();
        }
    }
    let Ok(r) = RunReader::open(&run) else { return };
    let Ok(c) = r.channel("acts") else { return };
    let _ = c.summary();
    let rows = c.rows().min(16);
    let mut out = Vec::new();
    let _ = c.read(0..rows, &mut out);
    if let Ok(index) = c.step_index()
        && !index.is_empty()
    {
        let _ = c.record_at(&index, 0);
    }
});
