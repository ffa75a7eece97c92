//! KServe V2 JSON inference bodies.
#![no_main]

#[path = "app.rs"]
mod app;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    app::check("/v2/models/fake/infer", &[], data.to_vec());
});
