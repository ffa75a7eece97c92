//! What is on disk: `<root>/<model>/<version>/model.onnx`, each model's `model.toml`,
//! and a fingerprint per version so a reload knows what changed.

use crate::config::model::{ModelSettings, ModelToml, VersionPolicy};
use crate::config::Config;
use crate::monitoring::BASELINE_FILE;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A model folder as found on disk.
pub(super) struct ModelDir {
    /// The folder's `model.toml`, layered over the global configuration, or why it
    /// cannot be.
    pub(super) plan: Result<Plan, String>,
    /// Version folders holding a `model.onnx`, by number.
    pub(super) versions: BTreeMap<u64, VersionFile>,
}

/// The model-level settings of `model.toml`.
#[derive(Clone)]
pub(super) struct Plan {
    /// Settings every version of the model is served with.
    pub(super) settings: ModelSettings,
    /// Which versions are served.
    pub(super) policy: VersionPolicy,
    /// Version labels.
    pub(super) labels: BTreeMap<String, u64>,
}

/// One version's file and what it looked like when scanned.
#[derive(Clone)]
pub(super) struct VersionFile {
    /// `<root>/<model>/<version>/model.onnx`.
    pub(super) path: PathBuf,
    /// Size and modification time of the model and its baseline.
    pub(super) fingerprint: Fingerprint,
}

/// Size and modification time of a version's files: a version whose fingerprint
/// changed since it was loaded (its file was replaced in place) is loaded again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    model: (u64, Option<SystemTime>),
    baseline: Option<(u64, Option<SystemTime>)>,
}

impl Fingerprint {
    fn of(version_dir: &Path) -> Option<Fingerprint> {
        let stamp = |p: PathBuf| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.len(), m.modified().ok()))
        };
        Some(Fingerprint {
            model: stamp(version_dir.join("model.onnx"))?,
            baseline: stamp(version_dir.join(BASELINE_FILE)),
        })
    }
}

/// Every model folder under `root`, by name. Fails only if `root` cannot be read.
pub(super) fn scan(root: &Path, config: &Config) -> Result<BTreeMap<String, ModelDir>, String> {
    let entries = std::fs::read_dir(root)
        .map_err(|e| format!("cannot read model_repository {}: {e}", root.display()))?;
    let mut found = BTreeMap::new();
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if is_model_name(&name) {
            if let Some(dir) = scan_model(root, &name, config) {
                found.insert(name, dir);
            }
        }
    }
    Ok(found)
}

/// Whether `name` can be a model folder: not hidden (a folder being copied in under
/// a dot name is not picked up half-written) and not a path.
pub(super) fn is_model_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// The model folder `root/name`, or `None` when there is no such folder.
pub(super) fn scan_model(root: &Path, name: &str, config: &Config) -> Option<ModelDir> {
    let model_dir = root.join(name);
    if !model_dir.is_dir() {
        return None;
    }
    let mut versions = BTreeMap::new();
    for entry in std::fs::read_dir(&model_dir)
        .into_iter()
        .flatten()
        .flatten()
    {
        let version = entry
            .file_name()
            .to_str()
            .and_then(|v| v.parse::<u64>().ok());
        let dir = entry.path();
        if let (Some(version), Some(fingerprint)) = (version, Fingerprint::of(&dir)) {
            let path = dir.join("model.onnx");
            versions.insert(version, VersionFile { path, fingerprint });
        }
    }
    Some(ModelDir {
        plan: plan(&model_dir, config),
        versions,
    })
}

fn plan(model_dir: &Path, config: &Config) -> Result<Plan, String> {
    let toml = ModelToml::read(model_dir)?;
    toml.check(&model_dir.join("model.toml").display().to_string())?;
    Ok(Plan {
        settings: toml.resolve(config)?,
        policy: toml.version_policy,
        labels: toml.labels,
    })
}
