#!/usr/bin/env python3
"""Generate the committed test/benchmark models and their reference outputs.

Run from anywhere (takes ~10 seconds):

    python3 scripts/make_fixtures.py

It was last run with these packages (the script warns if yours differ, and
records the versions it actually used in every reference.json and in each
model's ONNX metadata, so a drift is visible in review):

    numpy==2.4.6 scikit-learn==1.9.1 skl2onnx==1.20.0 onnx==1.23.2
    onnxruntime==1.32.0

What it writes (everything is derived from fixed seeds, so re-running it with
the same package versions reproduces the files byte for byte):

models/stock-forecaster/1/model.onnx
    Pipeline(StandardScaler, GradientBoostingRegressor) exported by skl2onnx.
    Input `input` f32 [N, 16]: the 16 previous returns in percent, column 0 is
    the most recent (r[t-1]), column 15 the oldest (r[t-16]). Output
    `forecast` f32 [N, 1]: the predicted next return r[t] in percent. Uses the
    ai.onnx.ml ops Scaler and TreeEnsembleRegressor, which tract does not ship
    (src/onnx_ml.rs registers them), so this model is what proves that works.

models/dense-net/1/model.onnx
    A 512 -> 2048 -> 2048 -> 10 ReLU MLP used to benchmark batching: input
    `input` f32 [N, 512], output `logits` f32 [N, 10]. Its ~21 MB
    of weights are not stored: the graph computes them from seeds with exact
    int64 arithmetic (Range, Mul, Add, Mod), so both onnxruntime and tract get
    bit-identical weights and the file stays a few KB. tract folds that
    subgraph into constants when it optimises the model at load time.

models/*/1/reference.json
    Input rows drawn from the same distribution as the training data (for the
    forecaster, 64 consecutive windows of a fresh series; for the dense net, 8
    standard normal rows), and the outputs onnxruntime computes for them on
    one thread (fixed summation order). Every float is an exact float32 value, so Rust can parse it as f64
    and cast to f32 losslessly.
"""

import json
import math
import pathlib
import sys
import warnings

import numpy as np
import onnx
import onnxruntime
import skl2onnx
import sklearn
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

PINNED = {
    "numpy": "2.4.6",
    "scikit-learn": "1.9.1",
    "skl2onnx": "1.20.0",
    "onnx": "1.23.2",
    "onnxruntime": "1.32.0",
}
USED = {
    "numpy": np.__version__,
    "scikit-learn": sklearn.__version__,
    "skl2onnx": skl2onnx.__version__,
    "onnx": onnx.__version__,
    "onnxruntime": onnxruntime.__version__,
}
ROOT = pathlib.Path(__file__).resolve().parent.parent
GENERATOR = "scripts/make_fixtures.py"
N_LAGS = 16
# tract 0.23 is tested against ONNX opsets 9..18; stay inside that range.
# These are ceilings: skl2onnx declares the lowest opsets its ops need, which
# for the forecaster are ai.onnx 9 and ai.onnx.ml 1.
OPSET = 17
ML_OPSET = 3
# Largest prime below 2^24: see GraphBuilder.seeded_uniform.
HASH_PRIME = (1 << 24) - 3


def simulate_returns(seed, n, burn_in=500):
    """Percent returns from a nonlinear AR(5) with GARCH(1,1) noise.

    The mean has a bounded nonlinearity (tanh) so trees have something to
    learn beyond a linear model, and the linear part is stationary. The
    unconditional variance is 0.1 / (1 - 0.1 - 0.8) = 1, so values are O(1).
    """
    rng = np.random.default_rng(seed)
    total = n + burn_in
    r = np.zeros(total)
    var = np.ones(total)
    noise = rng.standard_normal(total)
    for t in range(5, total):
        var[t] = 0.1 + 0.1 * r[t - 1] ** 2 + 0.8 * var[t - 1]
        mean = (
            0.15 * r[t - 1]
            - 0.10 * r[t - 2]
            + 0.05 * r[t - 5]
            + 0.40 * math.tanh(r[t - 1])
            - 0.30 * math.tanh(r[t - 1] * r[t - 2])
        )
        r[t] = mean + math.sqrt(var[t]) * noise[t]
    return r[burn_in:]


def lagged(r):
    """Rows of the 16 previous returns (most recent first) and the next return."""
    x = np.stack([r[N_LAGS - 1 - k : len(r) - 1 - k] for k in range(N_LAGS)], axis=1)
    return x.astype(np.float32), r[N_LAGS:]


def run_onnxruntime(path, input_name, x):
    """Run on one thread so onnxruntime's summation order is fixed."""
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = onnxruntime.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {input_name: x})[0]


def exact_f32_rows(a):
    """Floats whose decimal text round-trips to the same float32 value."""
    return [[float(np.float32(v)) for v in row] for row in np.asarray(a, np.float32)]


def write_reference(model_dir, model, output_name, x, y):
    assert np.all(np.isfinite(y)), "reference outputs must be finite"
    assert np.ptp(y) > 0, "reference outputs are degenerate (all equal)"
    doc = {
        "model": model,
        "version": 1,
        "input_name": "input",
        "output_name": output_name,
        "inputs": exact_f32_rows(x),
        "outputs": exact_f32_rows(y),
        "generator": GENERATOR,
        "onnxruntime": onnxruntime.__version__,
        "packages": USED,
    }
    (model_dir / "reference.json").write_text(to_json(doc))


def to_json(doc):
    """Pretty JSON with one row per line, so diffs of reference files stay readable."""
    lines = []
    for key, value in doc.items():
        if key in ("inputs", "outputs"):
            rows = ",\n".join("    " + json.dumps(row) for row in value)
            lines.append(f'  "{key}": [\n{rows}\n  ]')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def stamp(model):
    """Record provenance in the model itself, where `inferd` can log it at load time."""
    helper.set_model_props(model, {"generator": GENERATOR, **USED})


def make_stock_forecaster():
    x, y = lagged(simulate_returns(seed=0, n=20_000))
    pipe = Pipeline(
        [
            ("scaler", StandardScaler()),
            ("gbr", GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0)),
        ]
    ).fit(x, y)
    model = convert_sklearn(
        pipe,
        name="stock-forecaster",
        initial_types=[("input", FloatTensorType([None, N_LAGS]))],
        final_types=[("forecast", FloatTensorType([None, 1]))],
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
    )
    op_types = {n.op_type for n in model.graph.node}
    assert {"Scaler", "TreeEnsembleRegressor"} <= op_types, op_types
    # skl2onnx collects opset imports in a set, whose order follows Python's
    # per-process string hash seed; sort them so the bytes are reproducible.
    opsets = sorted(model.opset_import, key=lambda o: o.domain)
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    stamp(model)
    out_dir = ROOT / "models" / "stock-forecaster" / "1"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    onnx.save(model, path)

    x_ref, _ = lagged(simulate_returns(seed=1, n=64 + N_LAGS))
    y_ref = run_onnxruntime(path, "input", x_ref)
    assert y_ref.shape == (64, 1), y_ref.shape
    sk = pipe.predict(x_ref)
    # float32 thresholds may send a row down another branch than sklearn's
    # float64 ones, so this is a sanity check, not an exactness check.
    assert np.median(np.abs(sk - y_ref[:, 0])) < 1e-3, "onnx export disagrees with sklearn"
    write_reference(out_dir, "stock-forecaster", "forecast", x_ref, y_ref)
    return path, y_ref


class GraphBuilder:
    """Tiny helper that names nodes and scalar initializers consistently."""

    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, value, dtype):
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op, inputs, out, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def seeded_uniform(self, name, shape, seed, scale):
        """`shape` values uniform in [-scale/2, scale/2), computed in-graph.

        h = h1 * (h1 + c) mod p, with h1 = (i * a + b) mod p and p the largest
        prime below 2^24, is a quadratic congruential hash of the flat index i.
        Every int64 intermediate stays below 2^49 and h below 2^24, so the
        arithmetic is exact everywhere: onnxruntime's integer fmod goes through
        double, exact below 2^53; h converts to f32 exactly; 2^-24 and -0.5
        are exact; only the final `* scale` rounds, the same in every engine.

        The graph is shaped for tract's constant folding (tract-core's
        optim/prop_const.rs), which skips any value over 4 MB that feeds more
        than one node. So h1 is built twice rather than reused, from two
        different ranges (tract merges identical constants): i from [0, n)
        with offset b, and i + 1 from [1, n + 1) with offset b - a + p, which
        is the same value mod p. Mod uses fmod=1, a single Rem op (fmod=0
        expands into a multi-consumer sign fix, needless for non-negative
        values). Reusing h1 would also let tract turn h1 * h1 into Square,
        which has no int64 kernel.
        """
        rng = np.random.default_rng(seed)
        a, b = (int(v) for v in rng.integers(1 << 20, HASH_PRIME, size=2))
        c = int(rng.integers(1, 1 << 20))
        n = int(np.prod(shape))
        assert n < 1 << 24

        def h1(tag, start, offset):
            at = f"{name}.{tag}"
            lo = self.const(f"{at}.lo", start, np.int64)
            hi = self.const(f"{at}.hi", start + n, np.int64)
            i = self.node("Range", [lo, hi, "one_i64"], f"{at}.i")
            t = self.node("Mul", [i, self.const(f"{at}.a", a, np.int64)], f"{at}.ia")
            t = self.node("Add", [t, self.const(f"{at}.b", offset, np.int64)], f"{at}.iab")
            return self.node("Mod", [t, "prime"], f"{at}.h1", fmod=1)

        shifted = h1("shifted", 1, b - a + HASH_PRIME)
        shifted = self.node("Add", [shifted, self.const(f"{name}.c", c, np.int64)], f"{name}.h1c")
        t = self.node("Mul", [h1("direct", 0, b), shifted], f"{name}.h1h1c")
        t = self.node("Mod", [t, "prime"], f"{name}.h", fmod=1)
        t = self.node("Cast", [t], f"{name}.f", to=TensorProto.FLOAT)
        t = self.node("Mul", [t, "inv_two_24"], f"{name}.unit")
        t = self.node("Sub", [t, "half"], f"{name}.centered")
        t = self.node("Mul", [t, self.const(f"{name}.scale", scale, np.float32)], f"{name}.flat")
        return self.node("Reshape", [t, self.const(f"{name}.shape", shape, np.int64)], name)


def make_dense_net():
    g = GraphBuilder()
    g.const("one_i64", 1, np.int64)
    g.const("prime", HASH_PRIME, np.int64)
    g.const("inv_two_24", 2.0**-24, np.float32)
    g.const("half", 0.5, np.float32)
    widths = [512, 2048, 2048, 10]
    x = "input"
    for layer, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        last = layer == len(widths) - 2
        # Uniform[-s/2, s/2) has variance s^2/12: He init (2/fan_in) keeps
        # ReLU activations O(1); the logits layer uses 1/fan_in.
        gain = 1.0 if last else 2.0
        w_scale = math.sqrt(12 * gain / fan_in)
        w = g.seeded_uniform(f"w{layer}", [fan_in, fan_out], 100 + layer, w_scale)
        b = g.seeded_uniform(f"b{layer}", [fan_out], 200 + layer, 0.2)
        y = g.node("MatMul", [x, w], f"l{layer}.matmul")
        y = g.node("Add", [y, b], "logits" if last else f"l{layer}.linear")
        x = y if last else g.node("Relu", [y], f"l{layer}.relu")
    graph = helper.make_graph(
        g.nodes,
        "dense-net",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 512])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # what opset 17 requires; keeps older runtimes happy
    model.producer_name = GENERATOR
    onnx.checker.check_model(model, full_check=True)
    stamp(model)
    out_dir = ROOT / "models" / "dense-net" / "1"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    onnx.save(model, path)

    x_ref = np.random.default_rng(7).standard_normal((8, 512)).astype(np.float32)
    y_ref = run_onnxruntime(path, "input", x_ref)
    assert y_ref.shape == (8, 10), y_ref.shape
    assert np.all(np.ptp(y_ref, axis=0) > 0), "logits do not depend on the input"
    write_reference(out_dir, "dense-net", "logits", x_ref, y_ref)
    return path, y_ref


def main():
    drift = {k: (PINNED[k], USED[k]) for k in PINNED if PINNED[k] != USED[k]}
    if drift:
        warnings.warn(f"package versions differ from the pinned ones (pinned, used): {drift}")
    print("packages:", json.dumps(USED))
    for make in (make_stock_forecaster, make_dense_net):
        path, y = make()
        print(
            f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes, "
            f"outputs mean {y.mean():.4f} std {y.std():.4f} min {y.min():.4f} max {y.max():.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
