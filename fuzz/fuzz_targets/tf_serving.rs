//! TensorFlow Serving REST bodies (row and columnar), on its own route and on
//! `/predict`, chosen by the first byte.
#![no_main]

#[path = "app.rs"]
mod app;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    let uri = if choice % 2 == 0 {
        "/v1/models/fake:predict"
    } else {
        "/predict"
    };
    app::check(uri, &[], body.to_vec());
});
