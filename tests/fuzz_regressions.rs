//! Inputs the `fuzz/` targets found crashing, replayed through the same entry point
//! the target calls, so each fix stays fixed without a fuzzer.

use inferd::config::{Config, Sources};

fn load(file: &str) -> Result<Config, String> {
    Config::load(&Sources {
        file: Some(("fuzz.toml".into(), file.to_string())),
        ..Sources::default()
    })
}

/// The config target's find: tracing-subscriber panicked on a filter directive with
/// leading spaces and a multi-byte character before `[` (it slices the untrimmed
/// text at offsets into the trimmed text, inside the character).
#[test]
fn a_log_level_with_a_multibyte_character_is_an_error_not_a_panic() {
    for level in ["info, é[x]", " \u{FFFD}[", "in   , ox\u{FFFD}[y]"] {
        let file = format!("[log]\nlevel = {level:?}\n");
        let message = load(&file).expect_err(level);
        assert!(
            message.contains("log.level") && message.contains("ASCII"),
            "{level:?}: {message}"
        );
    }
    // Filters that tracing-subscriber accepts still load.
    let config = load("[log]\nlevel = \"warn,inferd=debug\"\n").unwrap();
    assert_eq!(config.log.level, "warn,inferd=debug");
}

/// Hardening after the config target's second find (a stack overflow on a
/// deeply nested input): nesting past `MAX_DEPTH` levels is refused before parsing,
/// arrays and tables are no longer printed back in errors, and scalars still are.
#[test]
fn a_badly_typed_nested_value_is_named_not_printed() {
    let nested = format!("workers = {}1{}\n", "[".repeat(50), "]".repeat(50));
    let message = load(&nested).unwrap_err();
    assert!(message.contains("levels deep"), "{message}");
    let message = load("workers = [[1]]\n").unwrap_err();
    assert!(message.contains("workers"), "{message}");
    assert!(
        !message.contains("[["),
        "the value is not printed: {message}"
    );
    assert!(message.len() < 300, "one short line: {message}");
    let message = load("workers = \"many\"\n").unwrap_err();
    assert!(message.contains("workers = \"many\""), "{message}");
}

/// Tables nest without brackets too: a dotted key or header nests one table per
/// dot, from the file, an environment variable or a flag. Each is refused (or, for
/// the environment, ignored) before anything deep is built, on a thread whose stack
/// is the size of a test thread's.
#[test]
fn deeply_dotted_keys_are_refused_before_they_nest() {
    let deep = vec!["a"; 2000].join(".");
    let deep_env = vec!["A"; 2000].join("__");
    let outcome = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let file_key = load(&format!("{deep} = 1\n")).unwrap_err();
            let file_header = load(&format!("[{deep}]\nx = 1\n")).unwrap_err();
            let inline = load(&format!("x = {{ {deep} = 1 }}\n")).unwrap_err();
            let flag = Config::load(&Sources {
                flags: vec![(deep.clone(), "1".into())],
                ..Sources::default()
            })
            .unwrap_err();
            let (_, ignored) = Config::load_reporting(&Sources {
                env: vec![(format!("INFERD_{deep_env}"), "1".into())],
                ..Sources::default()
            })
            .expect("an unknown variable is ignored, not fatal");
            (file_key, file_header, inline, flag, ignored.len())
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    let (file_key, file_header, inline, flag, ignored) = outcome;
    for message in [&file_key, &file_header, &inline, &flag] {
        assert!(message.contains("levels deep"), "{message}");
        assert!(message.len() < 300, "one short line: {message}");
    }
    assert_eq!(ignored, 1);
    // Dots inside strings and comments, and floats, are not nesting.
    let dotted_string = format!("listen = \"127.0.0.1:0\" # {}\n", ".".repeat(40));
    assert!(
        load(&dotted_string).is_ok(),
        "{:?}",
        load(&dotted_string).err()
    );
    let config = load("model_repository = \"/m/a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r\"\n");
    assert!(config.is_ok(), "{:?}", config.err());
}
