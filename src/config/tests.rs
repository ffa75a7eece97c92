use super::*;

fn sources(file: Option<&str>, env: &[(&str, &str)], flags: &[(&str, &str)]) -> Sources {
    Sources {
        file: file.map(|t| ("inferd.toml".to_string(), t.to_string())),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        flags: flags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn defaults_match_the_spec() {
    let c = Config::load(&Sources::default()).unwrap();
    assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(c.cache.ttl, Duration::from_secs(60));
    assert_eq!(c.max_body_bytes, 16 << 20);
    assert_eq!(c.batching.max_batch_size, BatchSize::Auto);
    assert_eq!(c.batching.max_batch_latency, Duration::from_millis(10));
    assert_eq!(c.log.format, LogFormat::Json);
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let file = "listen = \"127.0.0.1:1000\"\n[cache]\nttl = \"5s\"\nmax_bytes = \"1MiB\"\n[batching]\nmax_batch_size = 8";
    let env = [
        ("INFERD_LISTEN", "127.0.0.1:2000"),
        ("INFERD_CACHE__TTL", "7s"),
        ("PATH", "/bin"),
    ];
    let flags = [("listen", "127.0.0.1:3000")];
    let c = Config::load(&sources(Some(file), &env, &flags)).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:3000", "flag wins");
    assert_eq!(c.cache.ttl, Duration::from_secs(7), "env beats file");
    assert_eq!(c.cache.max_bytes, 1 << 20, "file beats default");
    assert_eq!(c.batching.max_batch_size, BatchSize::Rows(8));
    assert_eq!(
        c.batching.queue_capacity, 1024,
        "default when nobody sets it"
    );

    let c = Config::load(&sources(Some(file), &env, &[])).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:2000", "env beats file");
}

#[test]
fn bad_value_names_key_value_source_and_what_is_allowed() {
    let err = Config::load(&sources(
        None,
        &[("INFERD_BATCHING__MAX_BATCH_SIZE", "lots")],
        &[],
    ))
    .unwrap_err();
    assert!(err.contains("batching.max_batch_size"), "{err}");
    assert!(err.contains("lots"), "{err}");
    assert!(err.contains("INFERD_BATCHING__MAX_BATCH_SIZE"), "{err}");
    assert!(
        err.contains(r#"expected a number of rows greater than 0, or "auto""#),
        "{err}"
    );

    let err = Config::load(&sources(Some("[cache]\nttl = \"soon\""), &[], &[])).unwrap_err();
    assert!(err.contains("cache.ttl") && err.contains("soon"), "{err}");
    assert!(err.contains("\"30s\""), "says what is allowed: {err}");
    assert!(err.contains("config file inferd.toml"), "{err}");

    let err = Config::load(&sources(None, &[], &[("log.format", "xml")])).unwrap_err();
    assert!(err.contains("log.format") && err.contains("xml"), "{err}");
    assert!(err.contains("json") && err.contains("pretty"), "{err}");
}

#[test]
fn unknown_keys_and_zero_bounds_are_refused() {
    let err = Config::load(&sources(Some("[cache]\ntll = \"5s\""), &[], &[])).unwrap_err();
    assert!(
        err.contains("tll") && err.contains("unknown field"),
        "{err}"
    );
    let err = Config::load(&sources(None, &[], &[("cache.tll", "5s")])).unwrap_err();
    assert!(
        err.contains("tll") && err.contains("unknown field"),
        "{err}"
    );
    let err = Config::load(&sources(
        None,
        &[("INFERD_BATCHING__QUEUE_CAPACITY", "0")],
        &[],
    ))
    .unwrap_err();
    assert!(err.contains("batching.queue_capacity = 0"), "{err}");
    let err = Config::load(&sources(None, &[("INFERD_LISTEN", "nowhere")], &[])).unwrap_err();
    assert!(err.contains("listen") && err.contains("nowhere"), "{err}");
}

#[test]
fn model_toml_overrides_global_settings() {
    let global = Config::load(&Sources::default()).unwrap();
    let m = model::ModelToml::parse(
        "[cache]\nttl = \"2s\"\n[batching]\nmax_batch_size = 4",
        "m/model.toml",
    )
    .unwrap();
    let s = m.resolve(&global).unwrap();
    assert_eq!(s.cache.ttl, Duration::from_secs(2));
    assert_eq!(s.batching.max_batch_size, BatchSize::Rows(4));
    assert_eq!(s.batching.queue_capacity, 1024);
    let err = model::ModelToml::parse("[cache]\nttl = 5", "m/model.toml").unwrap_err();
    assert!(
        err.contains("cache.ttl") && err.contains("m/model.toml"),
        "{err}"
    );
}

#[test]
fn shipped_config_file_holds_the_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/inferd.toml");
    let mut sources = Sources::default();
    sources.read_file(&path, true).unwrap();
    assert_eq!(Config::load(&sources).unwrap(), Config::default());
}

#[test]
fn unknown_env_vars_are_ignored_and_reported_but_known_ones_still_checked() {
    // What Kubernetes injects for a Service named `inferd`, beside real settings.
    let env = [
        ("INFERD_SERVICE_HOST", "10.96.0.7"),
        ("INFERD_SERVICE_PORT", "8080"),
        ("INFERD_PORT", "tcp://10.96.0.7:8080"),
        ("INFERD_PORT_8080_TCP_ADDR", "10.96.0.7"),
        ("INFERD_CACHE__TLL", "5s"),
        ("INFERD_CACHE__TTL", "7s"),
        ("INFERD_WORKERS", "3"),
        ("HOME", "/root"),
    ];
    let (c, ignored) = Config::load_reporting(&sources(None, &env, &[])).unwrap();
    assert_eq!(c.cache.ttl, Duration::from_secs(7));
    assert_eq!(c.workers, 3);
    assert_eq!(
        ignored,
        [
            "INFERD_SERVICE_HOST",
            "INFERD_SERVICE_PORT",
            "INFERD_PORT",
            "INFERD_PORT_8080_TCP_ADDR",
            "INFERD_CACHE__TLL"
        ]
    );
    let line = ignored_warning(&ignored).unwrap();
    assert!(
        !line.contains('\n') && line.contains("INFERD_PORT,"),
        "{line}"
    );
    assert_eq!(ignored_warning(&[]), None);

    // A variable naming a real key with a bad value is still refused, not ignored.
    let err = Config::load(&sources(
        None,
        &[("INFERD_PORT", "tcp://x"), ("INFERD_CACHE__TTL", "soon")],
        &[],
    ))
    .unwrap_err();
    assert!(
        err.contains("INFERD_CACHE__TTL") && err.contains("soon"),
        "{err}"
    );
}

#[test]
fn log_requests_takes_true_false_or_errors_from_every_source() {
    let c = Config::load(&Sources::default()).unwrap();
    assert_eq!(c.log.requests, RequestLog::All);
    let file = sources(Some("[log]\nrequests = false"), &[], &[]);
    assert_eq!(Config::load(&file).unwrap().log.requests, RequestLog::Off);
    let env = sources(None, &[("INFERD_LOG__REQUESTS", "errors")], &[]);
    assert_eq!(Config::load(&env).unwrap().log.requests, RequestLog::Errors);
    let flag = sources(None, &[], &[("log.requests", "true")]);
    assert_eq!(Config::load(&flag).unwrap().log.requests, RequestLog::All);

    let err = Config::load(&sources(None, &[], &[("log.requests", "some")])).unwrap_err();
    assert!(
        err.contains("log.requests") && err.contains("some"),
        "{err}"
    );
    assert!(err.contains("\"errors\""), "says what is allowed: {err}");
}

#[test]
fn hostile_input_bounds_load_and_are_checked() {
    let c = Config::load(&Sources::default()).unwrap();
    assert_eq!(c.http.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.http.body_read_timeout, Duration::from_secs(30));
    assert_eq!(c.http.decode_budget, 32 << 20);
    assert_eq!(c.batching.max_request_rows, 65536);
    let env = [("INFERD_HTTP__HEADER_READ_TIMEOUT", "250ms")];
    let c = Config::load(&sources(None, &env, &[])).unwrap();
    assert_eq!(c.http.header_read_timeout, Duration::from_millis(250));
    let err = Config::load(&sources(None, &[], &[("http.decode_budget", "1MiB")])).unwrap_err();
    assert!(
        err.contains("http.decode_budget = 1048576 is smaller than max_body_bytes"),
        "{err}"
    );
    let err = Config::load(&sources(None, &[], &[("http.body_read_timeout", "0s")])).unwrap_err();
    assert!(err.contains("http.body_read_timeout = \"0s\""), "{err}");
    let err = Config::load(&sources(None, &[], &[("batching.max_request_rows", "0")])).unwrap_err();
    assert!(err.contains("batching.max_request_rows = 0"), "{err}");
}

#[test]
fn max_batch_size_is_a_positive_number_of_rows_or_auto() {
    let env = |v: &str| {
        Config::load(&sources(
            None,
            &[("INFERD_BATCHING__MAX_BATCH_SIZE", v)],
            &[],
        ))
    };
    assert_eq!(
        env("auto").unwrap().batching.max_batch_size,
        BatchSize::Auto
    );
    assert_eq!(
        env("32").unwrap().batching.max_batch_size,
        BatchSize::Rows(32)
    );
    for bad in ["0", "-3", "Auto", "1.5"] {
        let err = env(bad).unwrap_err();
        assert!(err.contains("batching.max_batch_size"), "{bad}: {err}");
    }
    let file = "[batching]\nmax_batch_size = 0\n";
    let err = Config::load(&sources(Some(file), &[], &[])).unwrap_err();
    assert!(err.contains("greater than 0"), "{err}");
    let m = model::ModelToml::parse(
        "[batching]\nmax_batch_size = \"auto\"\nmax_batch_latency = \"3ms\"",
        "m/model.toml",
    )
    .unwrap();
    let global = Config::load(&Sources::default()).unwrap();
    let s = m.resolve(&global).unwrap();
    assert_eq!(s.batching.max_batch_size, BatchSize::Auto);
    assert_eq!(s.batching.max_batch_latency, Duration::from_millis(3));
}
