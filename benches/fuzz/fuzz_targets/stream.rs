#![no_main]
//! The stream decoders (text rows and binary frames), fed the input whole
//! and in chunks whose sizes the first bytes pick: both must decode the same.

use actmap::live::{FrameDecoder, TextDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else { return };
    let step = (cut as usize % 31) + 1;

    let mut whole = FrameDecoder::new();
    let a: Vec<_> = whole.push(bytes).into_iter().filter_map(|r| r.ok()).collect();
    let mut parts = FrameDecoder::new();
    let b: Vec<_> = bytes
        .chunks(step)
        .flat_map(|c| parts.push(c))
        .filter_map(|r| r.ok())
        .collect();
    for f in a.iter().chain(&b) {
        assert_eq!(f.data.len(), f.rows * f.cols);
    }
    assert!(whole.pending() <= bytes.len() && parts.pending() <= bytes.len());

    let mut text = TextDecoder::new();
    let mut n = text.push(bytes).len();
    n += text.finish().into_iter().count();
    let mut chunked = TextDecoder::new();
    let mut m: usize = bytes.chunks(step).map(|c| chunked.push(c).len()).sum();
    m += chunked.finish().into_iter().count();
    assert_eq!(n, m, "chunking changed the text rows");
});
