//! The configuration loader: any file text, plus one environment variable and one
//! flag cut from the same input, must load or give a one-line error, never panic.
#![no_main]

use inferd::config::{Config, Sources};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let env = lines.next().and_then(|l| l.split_once('='));
    let flag = lines.next().and_then(|l| l.split_once('='));
    let sources = Sources {
        file: Some(("fuzz.toml".into(), text.to_string())),
        env: env
            .map(|(k, v)| vec![(format!("INFERD_{k}"), v.to_string())])
            .unwrap_or_default(),
        flags: flag
            .map(|(k, v)| vec![(k.to_string(), v.to_string())])
            .unwrap_or_default(),
    };
    if let Err(message) = Config::load(&sources) {
        assert!(!message.is_empty());
    }
});
