//! Scratch model repositories for reload tests: versions and `model.toml` written
//! the way an operator should (into a hidden name, then renamed), so a poll never
//! sees half a file; and the zoo's onnxruntime references to check answers with.

use super::repo_path;
use serde::Deserialize;
use std::path::PathBuf;

pub struct Scratch {
    pub root: PathBuf,
}

impl Scratch {
    /// An empty repository under the system temp folder, unique to this test.
    pub fn new(name: &str) -> Scratch {
        let root = std::env::temp_dir().join(format!("inferd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Scratch { root }
    }

    /// Puts `bytes` as `<model>/<version>/model.onnx`, atomically.
    pub fn put_bytes(&self, model: &str, version: u64, bytes: &[u8]) {
        let dir = self.root.join(model);
        std::fs::create_dir_all(&dir).unwrap();
        let hidden = dir.join(format!(".{version}.incoming"));
        let _ = std::fs::remove_dir_all(&hidden);
        std::fs::create_dir_all(&hidden).unwrap();
        std::fs::write(hidden.join("model.onnx"), bytes).unwrap();
        std::fs::rename(&hidden, dir.join(version.to_string())).unwrap();
    }

    /// Puts the zoo model `zoo` as `<model>/<version>`.
    pub fn put_zoo(&self, model: &str, version: u64, zoo: &str) {
        let bytes = std::fs::read(repo_path(&format!("tests/zoo/{zoo}/model.onnx"))).unwrap();
        self.put_bytes(model, version, &bytes);
    }

    /// Replaces `<model>/<version>/model.onnx` in place (same folder), atomically.
    pub fn replace_file(&self, model: &str, version: u64, zoo: &str) {
        let dir = self.root.join(model).join(version.to_string());
        let bytes = std::fs::read(repo_path(&format!("tests/zoo/{zoo}/model.onnx"))).unwrap();
        let tmp = dir.join(".model.onnx.incoming");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, dir.join("model.onnx")).unwrap();
    }

    /// Writes `<model>/model.toml`, atomically.
    pub fn write_toml(&self, model: &str, text: &str) {
        let dir = self.root.join(model);
        std::fs::create_dir_all(&dir).unwrap();
        let tmp = dir.join(".model.toml.incoming");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join("model.toml")).unwrap();
    }

    pub fn remove_version(&self, model: &str, version: u64) {
        std::fs::remove_dir_all(self.root.join(model).join(version.to_string())).unwrap();
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A zoo model's onnxruntime reference: one FP32 input, one output column.
#[derive(Deserialize)]
pub struct ZooRef {
    pub inputs: Vec<ZooTensor>,
    pub outputs: Vec<ZooTensor>,
    pub abs_tol: f64,
}

#[derive(Deserialize)]
pub struct ZooTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl ZooRef {
    pub fn load(zoo: &str) -> ZooRef {
        let path = repo_path(&format!("tests/zoo/{zoo}/reference.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    pub fn rows(&self) -> usize {
        self.inputs[0].shape[0]
    }

    /// Row `i` of the input.
    pub fn row(&self, i: usize) -> &[f64] {
        let width = self.inputs[0].shape[1];
        &self.inputs[0].data[i * width..(i + 1) * width]
    }

    /// The reference's first output value for row `i`.
    pub fn answer(&self, i: usize) -> f64 {
        let width = self.outputs[0].shape.get(1).copied().unwrap_or(1);
        self.outputs[0].data[i * width]
    }

    /// Whether `got` is onnxruntime's answer for row `i`, within the zoo's tolerance.
    pub fn matches(&self, i: usize, got: f64) -> bool {
        let want = self.answer(i);
        (got - want).abs() <= self.abs_tol.max(super::REL_TOL * want.abs())
    }
}
