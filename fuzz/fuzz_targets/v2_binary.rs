//! KServe V2 binary tensor extension: the first two bytes choose the JSON header's
//! length, the rest is the body (JSON header, then raw tensor bytes).
#![no_main]

#[path = "app.rs"]
mod app;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let body = data[2..].to_vec();
    let declared = usize::from(u16::from_le_bytes([data[0], data[1]])) % (body.len() + 2);
    let header = [("inference-header-content-length", declared.to_string())];
    app::check("/v2/models/fake/infer", &header, body);
});
