//! A model version loaded straight from a repository folder, for the commands that
//! run a model without serving it (`inferd score`, `inferd baseline`). It loads the
//! same `model.onnx` with the same engine and the same `model.toml` settings as the
//! server does, so their answers are the server's.

use super::onnx::OnnxModel;
use crate::config::model::{ModelSettings, ModelToml};
use crate::config::Config;
use std::path::{Path, PathBuf};

/// One loaded version and where it came from.
pub struct LocalVersion {
    /// Model name (its folder name).
    pub name: String,
    /// The version loaded: the one asked for, or the newest.
    pub version: u64,
    /// `<repository>/<model>/<version>`, where `baseline.json` goes.
    pub dir: PathBuf,
    /// The engine, as the server builds it.
    pub model: OnnxModel,
    /// `model.toml` layered over the default configuration (batch size, NaN policy,
    /// feature names).
    pub settings: ModelSettings,
}

/// Which model version a command runs: the flags `inferd score` and `inferd
/// baseline` share.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Folder of models: <model>/<version>/model.onnx (with an optional
    /// <model>/model.toml, read as the server reads it).
    #[arg(long, value_name = "DIR")]
    pub model_repository: PathBuf,
    /// Model name (its folder in the repository).
    #[arg(long = "model", value_name = "M")]
    pub name: String,
    /// Version number; default the newest.
    #[arg(long, value_name = "V")]
    pub version: Option<u64>,
}

impl ModelArgs {
    /// Loads the version these flags name (see [`load`]).
    pub fn load(&self) -> Result<LocalVersion, String> {
        load(&self.model_repository, &self.name, self.version)
    }
}

/// Loads `name` (version `version`, else the newest) from `repository`. Every
/// error is one sentence naming what is missing or refused.
pub fn load(repository: &Path, name: &str, version: Option<u64>) -> Result<LocalVersion, String> {
    let model_dir = repository.join(name);
    if !model_dir.is_dir() {
        return Err(format!(
            "model `{name}` is not in the model repository {} (found: {})",
            repository.display(),
            model_names(repository)?.join(", ")
        ));
    }
    let version = match version {
        Some(v) => v,
        None => newest_version(&model_dir)?,
    };
    let dir = model_dir.join(version.to_string());
    let onnx = dir.join("model.onnx");
    if !onnx.is_file() {
        return Err(format!(
            "model `{name}` has no version {version} ({} is missing)",
            onnx.display()
        ));
    }
    let toml = ModelToml::read(&model_dir)?;
    let settings = toml.resolve(&Config::default())?;
    let model = OnnxModel::load(&onnx)?;
    Ok(LocalVersion {
        name: name.to_string(),
        version,
        dir,
        model,
        settings,
    })
}

fn model_names(repository: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(repository).map_err(|e| {
        format!(
            "cannot read the model repository {}: {e}",
            repository.display()
        )
    })?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

fn newest_version(model_dir: &Path) -> Result<u64, String> {
    let entries = std::fs::read_dir(model_dir)
        .map_err(|e| format!("cannot read model folder {}: {e}", model_dir.display()))?;
    entries
        .flatten()
        .filter(|e| e.path().join("model.onnx").is_file())
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .ok_or_else(|| format!("{} has no <version>/model.onnx", model_dir.display()))
}
