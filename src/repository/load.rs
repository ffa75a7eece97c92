//! Loading one version: parse and optimize the model, then warm it up with one run
//! on zeros, so the first request it serves does not pay for the first run and a
//! model that cannot run at all never takes traffic.

use crate::model::onnx::OnnxModel;
use crate::model::Model;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Loads `path` and warms it up, on the calling (blocking) thread; the error is the
/// reason the version cannot serve, as the status endpoints and the index report it.
pub(super) fn load_and_warm(path: &Path) -> Result<(Arc<dyn Model>, Duration), String> {
    let started = Instant::now();
    let model = OnnxModel::load(path)?;
    warm_up(&model)?;
    Ok((Arc::new(model), started.elapsed()))
}

/// One run on zeros of the model's input shapes, one row where the batch is free.
pub(crate) fn warm_up(model: &dyn Model) -> Result<(), String> {
    let inputs = model.signature().zeros(1)?;
    let outputs = model
        .predict(inputs)
        .map_err(|e| format!("the warm-up run on zeros failed: {e}"))?;
    if outputs.len() != model.signature().outputs.len() {
        return Err(format!(
            "the warm-up run returned {} outputs where the model declares {}",
            outputs.len(),
            model.signature().outputs.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Behaviour, FakeModel};

    #[test]
    fn warm_up_runs_one_row_of_zeros() {
        let model = FakeModel::new(Behaviour::Answer);
        warm_up(&model).unwrap();
        assert_eq!(model.batches(), vec![1], "one run of one row");
    }

    #[test]
    fn a_model_that_cannot_run_fails_its_warm_up_with_the_reason() {
        let err = warm_up(&FakeModel::new(Behaviour::Fail)).unwrap_err();
        assert!(err.contains("warm-up run on zeros failed"), "{err}");
        assert!(err.contains("secret engine detail"), "{err}");
    }

    #[test]
    fn a_corrupt_file_is_refused_before_any_run() {
        let dir = std::env::temp_dir().join(format!("inferd-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.onnx");
        std::fs::write(&path, b"not a model").unwrap();
        let err = load_and_warm(&path).err().unwrap();
        assert!(err.contains("cannot parse"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
