//! `INFERD_*` environment variables: which ones name a configuration key.
//!
//! Kubernetes injects `INFERD_SERVICE_HOST`, `INFERD_PORT=tcp://...` and friends into
//! every pod of a namespace holding a Service named `inferd`. Those name no key, and
//! refusing them would crash the first rollout, so a variable that names no key is
//! ignored (the caller logs one warning line). Files and flags are written by the
//! operator on purpose, so unknown keys there stay errors.

use super::{set_path, Config};
use serde::Deserialize;
use toml::{Table, Value};

/// The `INFERD_*` variables split into those that name a key and those ignored.
#[derive(Debug, Default)]
pub(super) struct EnvKeys {
    /// `(variable, dotted key, value)` for every variable that names a key.
    pub(super) known: Vec<(String, String, Value)>,
    /// Names of the variables that name no key, in the order given.
    pub(super) ignored: Vec<String>,
}

/// Splits `env` (all variables; those without the prefix are skipped silently).
pub(super) fn split(env: &[(String, String)]) -> EnvKeys {
    let mut keys = EnvKeys::default();
    for (name, text) in env {
        let Some(rest) = name.strip_prefix("INFERD_") else {
            continue;
        };
        let path = rest.to_lowercase().replace("__", ".");
        // Deeper than any key: it names none, and building its tables would nest
        // one per part.
        if path.split('.').count() > super::MAX_DEPTH {
            keys.ignored.push(name.clone());
            continue;
        }
        let value = super::scalar(text);
        if names_a_key(&path, &value) {
            keys.known.push((name.clone(), path, value));
        } else {
            keys.ignored.push(name.clone());
        }
    }
    keys
}

/// Whether `path` is a key: set alone over the defaults, it either deserializes or
/// fails on its value, but not as an unknown field. Asking serde rather than keeping
/// a list of keys means a key added to [`Config`] is known here at once.
fn names_a_key(path: &str, value: &Value) -> bool {
    let mut table = Table::new();
    set_path(&mut table, path, value.clone());
    match Config::deserialize(Value::Table(table)) {
        Ok(_) => true,
        Err(e) => !e.message().starts_with("unknown field"),
    }
}

/// The one warning line for ignored variables, or `None` when there are none.
pub fn ignored_warning(ignored: &[String]) -> Option<String> {
    (!ignored.is_empty()).then(|| {
        format!(
            "ignoring environment variables that name no configuration key: {}",
            ignored.join(", ")
        )
    })
}
