#!/usr/bin/env python3
"""Generate the model zoo under tests/zoo/ with onnxruntime reference outputs.

    pip install scikit-learn skl2onnx onnxruntime onnx numpy xgboost lightgbm onnxmltools
    python3 scripts/make_zoo.py

Every model is trained on data drawn from fixed seeds, exported to ONNX
(skl2onnx for scikit-learn, onnxmltools for XGBoost and LightGBM, or built by
hand with onnx.helper for single operators the converters never emit on their
own), and run by onnxruntime on one thread. Each tests/zoo/<name>/ holds:

model.onnx      the model
reference.json  {"estimator", "operators", "status", "abs_tol", "inputs",
                 "outputs"}: inputs and onnxruntime's outputs as
                 {name, datatype, shape, data (flat)}; every float is an exact
                 float32. status is "exact" (tests/zoo.rs requires inferd to
                 match) or "refused" (inferd must refuse it at load, with
                 `refusal` in the reason).

The Rust tests read these files and need no Python. Last run with
numpy 2.4.6, scikit-learn 1.9.1, skl2onnx 1.20.0, onnx 1.23.2,
onnxruntime 1.32.0, xgboost 3.2.0, lightgbm 4.7.0, onnxmltools 1.16.0.
"""

import json
import os
import pathlib
import shutil
import warnings

# Training goes through OpenBLAS, which picks its kernels by CPU: the same seeds
# gave probabilities 1e-6 apart on an AVX-512 and an AVX2 machine, so the
# committed references did not regenerate elsewhere (scripts/zoo-ci.sh). One
# kernel set (Haswell, AVX2, which every x86-64 server since 2013 has) and one
# thread make training the same on any of them. Set before numpy loads OpenBLAS.
os.environ["OPENBLAS_CORETYPE"] = "Haswell"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from skl2onnx import convert_sklearn  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType  # noqa: E402

warnings.filterwarnings("ignore")

# ZOO_DIR lets CI regenerate elsewhere and compare (scripts/zoo-ci.sh): the
# reference outputs are reproducible byte for byte; the ONNX files are not
# (converters name some graph nodes after object ids).
ROOT = pathlib.Path(os.environ.get("ZOO_DIR") or pathlib.Path(__file__).resolve().parent.parent / "tests" / "zoo")
OPSETS = {"": 17, "ai.onnx.ml": 3}
ROWS = 24
# Absolute floor where onnxruntime and tract sum floats in another order
# (dot products, kernels): the relative bound of 1e-5 still applies above it.
MATMUL_FLOOR = 1e-5


def data(seed, n_features, n_classes, n=300):
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=n + ROWS,
        n_features=n_features,
        n_informative=min(n_features, max(2, n_classes + 1)),
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    x = x.astype(np.float32)
    return x[:n], y[:n], x[n:]


def regression_data(seed, n_features, n=300):
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=n + ROWS, n_features=n_features, noise=5.0, random_state=seed)
    x = x.astype(np.float32)
    return x[:n], y[:n].astype(np.float32), x[n:]


DTYPES = {
    np.dtype(np.float32): "FP32",
    np.dtype(np.float64): "FP64",
    np.dtype(np.int64): "INT64",
    np.dtype(np.int32): "INT32",
    np.dtype(np.bool_): "BOOL",
}


def tensor_json(name, a):
    a = np.asarray(a)
    if a.dtype.kind in "OUS":
        datatype, flat = "BYTES", [str(v) for v in a.ravel()]
    else:
        datatype = DTYPES[a.dtype]
        flat = a.ravel().tolist()
        if a.dtype.kind == "f":
            flat = [None if np.isnan(v) else float(v) for v in a.ravel().tolist()]
    return {"name": name, "datatype": datatype, "shape": list(a.shape), "data": flat}


def run_ort(path, feeds):
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = onnxruntime.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return names, sess.run(None, feeds)


def unzip(output):
    """ZipMap's list of {label: probability} as the matrix inferd serves (see README)."""
    if isinstance(output, list) and output and isinstance(output[0], dict):
        return np.array([list(row.values()) for row in output], dtype=np.float32)
    return output


def operators(model):
    return sorted({f"{n.domain or 'ai.onnx'}:{n.op_type}" for n in model.graph.node})


def save(name, estimator, model, feeds, abs_tol=1e-6, status="exact", refusal=None):
    folder = ROOT / name
    folder.mkdir(parents=True, exist_ok=True)
    model.producer_name = "scripts/make_zoo.py"
    onnx.save(model, folder / "model.onnx")
    try:
        names, outputs = run_ort(folder / "model.onnx", feeds)
    except Exception:
        if status != "refused":
            raise
        names, outputs = [], []  # onnxruntime refuses it too
    doc = {
        "estimator": estimator,
        "operators": operators(model),
        "status": status,
        "abs_tol": abs_tol,
        "inputs": [tensor_json(k, v) for k, v in feeds.items()],
        "outputs": [tensor_json(n, unzip(o)) for n, o in zip(names, outputs)],
    }
    if refusal:
        doc["refusal"] = refusal
    (folder / "reference.json").write_text(json.dumps(doc, indent=None) + "\n")
    print(f"{name}: {', '.join(doc['operators'])}")


def sk(name, estimator, x_train, y_train, x_test, abs_tol=1e-6, options=None, **kw):
    estimator.fit(x_train, y_train)
    n = x_train.shape[1]
    last = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    opts = {"zipmap": False} if hasattr(last, "predict_proba") else {}
    if options is not None:
        opts = options
    model = convert_sklearn(
        estimator,
        initial_types=[("input", FloatTensorType([None, n]))],
        target_opset=kw.pop("target_opset", OPSETS),
        options={id(last): opts} if opts else None,
    )
    save(name, kw.pop("label", type(estimator).__name__), model, {"input": x_test}, abs_tol, **kw)


def classifiers():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.ensemble import (
        AdaBoostClassifier,
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC, LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    b = data(1, 6, 2)
    m = data(2, 6, 4)
    sk("logreg-binary", LogisticRegression(), *b)
    sk("logreg-multi", LogisticRegression(max_iter=500), *m)
    sk("linear-svc-binary", LinearSVC(random_state=0), *b)
    sk("linear-svc-multi", LinearSVC(random_state=0), *m)
    sk("ridge-classifier-multi", RidgeClassifier(), *m)
    sk("sgd-multi", SGDClassifier(random_state=0), *m)
    sk("lda-multi", LinearDiscriminantAnalysis(), *m, abs_tol=MATMUL_FLOOR)
    sk("decision-tree-binary", DecisionTreeClassifier(max_depth=5, random_state=0), *b)
    sk("decision-tree-multi", DecisionTreeClassifier(max_depth=6, random_state=0), *m)
    sk("random-forest-binary", RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0), *b)
    sk("random-forest-multi", RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0), *m)
    sk("extra-trees-multi", ExtraTreesClassifier(n_estimators=15, max_depth=6, random_state=0), *m)
    sk("gradient-boosting-binary", GradientBoostingClassifier(n_estimators=30, random_state=0), *b)
    sk("gradient-boosting-multi", GradientBoostingClassifier(n_estimators=20, random_state=0), *m)
    sk("svc-rbf-binary", SVC(probability=True, random_state=0), *b, abs_tol=MATMUL_FLOOR)
    sk("svc-rbf-multi", SVC(probability=True, random_state=0), *m, abs_tol=MATMUL_FLOOR)
    sk("svc-poly-multi-noproba", SVC(kernel="poly", degree=2), *m, abs_tol=MATMUL_FLOOR)
    sk("mlp-binary", MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0), *b, abs_tol=MATMUL_FLOOR)
    sk("mlp-multi", MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0), *m, abs_tol=MATMUL_FLOOR)
    sk("knn-multi", KNeighborsClassifier(n_neighbors=5), *m, abs_tol=MATMUL_FLOOR)
    sk("gaussian-nb-multi", GaussianNB(), *m, abs_tol=MATMUL_FLOOR)
    sk("adaboost-multi", AdaBoostClassifier(n_estimators=10, random_state=0), *m, abs_tol=MATMUL_FLOOR)
    # ZipMap kept: inferd serves its probabilities as a tensor.
    sk("random-forest-zipmap", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), *m, options={})
    # Class labels that are not 0..n-1.
    x, y, t = m
    sk("logreg-int-labels", LogisticRegression(max_iter=500), x, y * 10 + 7, t)
    sk("decision-tree-int-labels", DecisionTreeClassifier(max_depth=4, random_state=0), x, y * 10 + 7, t)
    # String class labels: a BYTES label output.
    names = np.array(["cat", "dog", "eel", "fox"])
    sk("logreg-string-labels", LogisticRegression(max_iter=500), x, names[y], t)
    sk("svc-rbf-string-labels", SVC(probability=True, random_state=0), x, names[y], t, abs_tol=MATMUL_FLOOR)
    xb, yb, tb = b
    sk("random-forest-string-labels-binary",
       RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0), xb, np.array(["no", "yes"])[yb], tb)


def regressors():
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler
    from sklearn.svm import SVR, LinearSVR

    r = regression_data(3, 5)
    sk("linear-regression", LinearRegression(), *r, abs_tol=1e-4)
    sk("ridge", Ridge(), *r, abs_tol=1e-4)
    sk("svr-rbf", SVR(C=50.0), *r, abs_tol=1e-4)
    sk("linear-svr-pipeline", make_pipeline(StandardScaler(), LinearSVR(random_state=0, max_iter=5000)), *r,
       abs_tol=1e-4, label="Pipeline(StandardScaler, LinearSVR)")
    sk("random-forest-regressor", RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0), *r, abs_tol=1e-4)
    sk("poly-ridge", make_pipeline(PolynomialFeatures(2), Ridge()), *r, abs_tol=1e-3,
       label="Pipeline(PolynomialFeatures, Ridge)")


def pipelines():
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import BernoulliNB
    from sklearn.pipeline import make_pipeline, Pipeline
    from sklearn.preprocessing import Binarizer, MinMaxScaler, Normalizer, OneHotEncoder, StandardScaler

    x, y, t = data(4, 6, 3)
    rng = np.random.default_rng(4)
    holes = lambda a: np.where(rng.random(a.shape) < 0.15, np.nan, a).astype(np.float32)
    sk("imputer-scaler-logreg", make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()),
       holes(x), y, holes(t), label="Pipeline(SimpleImputer, StandardScaler, LogisticRegression)")
    sk("binarizer-bernoulli-nb", make_pipeline(Binarizer(threshold=0.1), BernoulliNB()), x, y, t,
       abs_tol=MATMUL_FLOOR, label="Pipeline(Binarizer, BernoulliNB)")
    sk("normalizer-logreg", make_pipeline(Normalizer(), LogisticRegression()), x, y, t,
       label="Pipeline(Normalizer, LogisticRegression)")
    sk("minmax-pca-logreg", make_pipeline(MinMaxScaler(), PCA(n_components=3), LogisticRegression()), x, y, t,
       abs_tol=MATMUL_FLOOR, label="Pipeline(MinMaxScaler, PCA, LogisticRegression)")

    # Integer categories one-hot encoded: an INT64 input.
    cats = rng.integers(0, 4, size=(300 + ROWS, 3)).astype(np.int64)
    yc = (cats[:, 0] + cats[:, 1] > 3).astype(np.int64)
    pipe = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    pipe.fit(cats[:300], yc[:300])
    model = convert_sklearn(pipe, initial_types=[("input", Int64TensorType([None, 3]))],
                            target_opset=OPSETS, options={id(pipe): {"zipmap": False}})
    test = cats[300:].copy()
    test[0, 0] = 9  # an unknown category: all zeros
    save("onehot-int-logreg", "Pipeline(OneHotEncoder, LogisticRegression)", model, {"input": test})

    # Two inputs, as from a ColumnTransformer over a data frame.
    num = x[:, :3]
    cat = rng.integers(0, 3, size=(300 + ROWS, 2)).astype(np.int64)
    ct = ColumnTransformer([("num", StandardScaler(), [0, 1, 2]), ("cat", OneHotEncoder(), [3, 4])])
    pipe = Pipeline([("prep", ct), ("clf", LogisticRegression())])
    xy = np.hstack([num, np.zeros((300, 2), np.float32)])
    xy[:, 3:] = cat[:300]
    pipe.fit(xy, y)
    model = convert_sklearn(
        pipe,
        initial_types=[("num", FloatTensorType([None, 3])), ("cat", Int64TensorType([None, 2]))],
        target_opset=OPSETS,
        options={id(pipe): {"zipmap": False}},
    )
    save("column-transformer-two-inputs", "Pipeline(ColumnTransformer(StandardScaler, OneHotEncoder), LogisticRegression)",
         model, {"num": t[:, :3], "cat": cat[300:]})

    # String categories: a BYTES input.
    words = np.array(["red", "green", "blue"], dtype=object)
    strs = words[rng.integers(0, 3, size=(300 + ROWS, 2))]
    pipe = make_pipeline(OneHotEncoder(), LogisticRegression())
    pipe.fit(strs[:300], y)
    model = convert_sklearn(pipe, initial_types=[("input", StringTensorType([None, 2]))],
                            target_opset=OPSETS, options={id(pipe): {"zipmap": False}})
    save("onehot-string-logreg", "Pipeline(OneHotEncoder, LogisticRegression)", model, {"input": strs[300:]})

    # Numbers and strings side by side, string labels out: a FP32 and a BYTES
    # input, as from a ColumnTransformer over a data frame with a text column.
    mixed = np.empty((300 + ROWS, 5), dtype=object)
    mixed[:300, :3] = x[:, :3]
    mixed[300:, :3] = t[:, :3]
    mixed[:, 3:] = strs
    ct = ColumnTransformer([("num", StandardScaler(), [0, 1, 2]),
                            ("cat", OneHotEncoder(handle_unknown="ignore"), [3, 4])])
    pipe = Pipeline([("prep", ct), ("clf", LogisticRegression())])
    pipe.fit(mixed[:300], np.array(["low", "mid", "high"])[y])
    model = convert_sklearn(
        pipe,
        initial_types=[("num", FloatTensorType([None, 3])), ("cat", StringTensorType([None, 2]))],
        target_opset=OPSETS,
        options={id(pipe): {"zipmap": False}},
    )
    test = strs[300:].copy()
    test[0, 1] = "purple"  # an unknown category: all zeros
    save("column-transformer-strings",
         "Pipeline(ColumnTransformer(StandardScaler, OneHotEncoder), LogisticRegression), string labels",
         model, {"num": t[:, :3].astype(np.float32), "cat": test})


def boosters():
    import lightgbm
    import onnxmltools
    import xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType as MFloat

    def conv(name, estimator, convert, x, y, t, abs_tol=1e-6):
        estimator.fit(x, y)
        model = convert(estimator, initial_types=[("input", MFloat([None, x.shape[1]]))], target_opset=15)
        save(name, type(estimator).__name__, model, {"input": t}, abs_tol)

    b, m, r = data(5, 6, 2), data(6, 6, 3), regression_data(7, 5)
    xgb = dict(n_estimators=20, max_depth=4, random_state=0, n_jobs=1)
    conv("xgboost-binary", xgboost.XGBClassifier(**xgb), onnxmltools.convert_xgboost, *b)
    conv("xgboost-multi", xgboost.XGBClassifier(**xgb), onnxmltools.convert_xgboost, *m)
    conv("xgboost-regressor", xgboost.XGBRegressor(**xgb), onnxmltools.convert_xgboost, *r, abs_tol=1e-4)
    lgb = dict(n_estimators=20, num_leaves=15, random_state=0, n_jobs=1, verbose=-1)
    conv("lightgbm-binary", lightgbm.LGBMClassifier(**lgb), onnxmltools.convert_lightgbm, *b)
    conv("lightgbm-multi", lightgbm.LGBMClassifier(**lgb), onnxmltools.convert_lightgbm, *m)
    conv("lightgbm-regressor", lightgbm.LGBMRegressor(**lgb), onnxmltools.convert_lightgbm, *r, abs_tol=1e-4)


def one_node(name, op, attrs, inputs, outputs, feeds, ml_opset=3, **kw):
    """A model made of one ai.onnx.ml node, for operators converters emit only inside larger graphs."""
    node = helper.make_node(op, [i[0] for i in inputs], [o[0] for o in outputs], domain="ai.onnx.ml", **attrs)
    graph = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", ml_opset)])
    model.ir_version = 8
    save(name, f"{op} (one node)", model, feeds, **kw)


def single_operators():
    rng = np.random.default_rng(8)
    f = TensorProto.FLOAT
    x = rng.normal(size=(ROWS, 4)).astype(np.float32)
    one_node("op-binarizer", "Binarizer", {"threshold": 0.25}, [("x", f, [None, 4])], [("y", f, [None, 4])], {"x": x})
    holes = np.where(rng.random(x.shape) < 0.3, np.nan, x).astype(np.float32)
    one_node("op-imputer", "Imputer", {"imputed_value_floats": [1.0, 2.0, 3.0, 4.0], "replaced_value_float": float("nan")},
             [("x", f, [None, 4])], [("y", f, [None, 4])], {"x": holes})
    for norm in ["MAX", "L1", "L2"]:
        one_node(f"op-normalizer-{norm.lower()}", "Normalizer", {"norm": norm}, [("x", f, [None, 4])],
                 [("y", f, [None, 4])], {"x": x})
    cats = rng.integers(0, 6, size=(ROWS, 1)).astype(np.int64)
    one_node("op-label-encoder-int", "LabelEncoder",
             {"keys_int64s": [0, 1, 2, 3, 4], "values_int64s": [40, 30, 20, 10, 0], "default_int64": -1},
             [("x", TensorProto.INT64, [None, 1])], [("y", TensorProto.INT64, [None, 1])], {"x": cats})
    one_node("op-label-encoder-int-float", "LabelEncoder",
             {"keys_int64s": [0, 1, 2, 3, 4], "values_floats": [0.5, 1.5, 2.5, 3.5, 4.5], "default_float": -1.0},
             [("x", TensorProto.INT64, [None, 1])], [("y", f, [None, 1])], {"x": cats})
    one_node("op-onehot-int", "OneHotEncoder", {"cats_int64s": [0, 2, 4, 5], "zeros": 1},
             [("x", TensorProto.INT64, [None, 1])], [("y", f, [None, 1, 4])], {"x": cats})
    # String keys and values; "kiwi" is unknown to all three.
    # Its own generator, so the models after these keep their data.
    fruit_rng = np.random.default_rng(9)
    fruit = np.array(["apple", "pear", "fig", "kiwi"], dtype=object)[fruit_rng.integers(0, 4, size=(ROWS, 1))]
    s = TensorProto.STRING
    one_node("op-label-encoder-string-int", "LabelEncoder",
             {"keys_strings": ["apple", "pear", "fig"], "values_int64s": [7, 8, 9], "default_int64": -5},
             [("x", s, [None, 1])], [("y", TensorProto.INT64, [None, 1])], {"x": fruit})
    one_node("op-label-encoder-int-string", "LabelEncoder",
             {"keys_int64s": [0, 1, 2, 3], "values_strings": ["zero", "one", "two", "three"],
              "default_string": "many"},
             [("x", TensorProto.INT64, [None, 1])], [("y", s, [None, 1])], {"x": cats})
    one_node("op-onehot-string", "OneHotEncoder", {"cats_strings": ["apple", "pear", "fig"], "zeros": 1},
             [("x", s, [None, 1])], [("y", f, [None, 1, 3])], {"x": fruit})
    # CategoryMapper (tract's own), both ways, with the default for the unknown
    # (tract takes only the default of the output's type).
    mapping = {"cats_strings": ["apple", "pear", "fig"], "cats_int64s": [10, 20, 30]}
    one_node("op-category-mapper-string-int", "CategoryMapper", {**mapping, "default_int64": -1},
             [("x", s, [None, 1])], [("y", TensorProto.INT64, [None, 1])], {"x": fruit})
    codes = np.array([10, 20, 30, 40], dtype=np.int64)[fruit_rng.integers(0, 4, size=(ROWS, 1))]
    one_node("op-category-mapper-int-string", "CategoryMapper", {**mapping, "default_string": "none"},
             [("x", TensorProto.INT64, [None, 1])], [("y", s, [None, 1])], {"x": codes})
    one_node("op-linear-regressor-2targets", "LinearRegressor",
             {"coefficients": [0.5, -1.0, 2.0, 0.25, 1.0, 1.0, -1.0, 3.0], "intercepts": [0.1, -0.2], "targets": 2},
             [("x", f, [None, 4])], [("y", f, [None, 2])], {"x": x})
    # Fixed first dimensions: served for requests of exactly that many rows.
    for n in (1, 128):
        xs = rng.normal(size=(n, 4)).astype(np.float32)
        one_node(f"fixed-batch-{n}", "LinearRegressor",
                 {"coefficients": [0.5, -1.0, 2.0, 0.25], "intercepts": [0.1]},
                 [("x", f, [n, 4])], [("y", f, [n, 1])], {"x": xs})
    # The ai.onnx.ml opset 5 TreeEnsemble: one tree, x0 <= 0.2 ? 1.5 : (x1 < -0.3 ? -2 : 4).
    node_attrs = {
        "tree_roots": [0],
        "nodes_featureids": [0, 1],
        "nodes_modes": helper.make_tensor("modes", TensorProto.UINT8, [2], [0, 1]),
        "nodes_splits": helper.make_tensor("splits", f, [2], [0.2, -0.3]),
        "nodes_truenodeids": [0, 1],
        "nodes_trueleafs": [1, 1],
        "nodes_falsenodeids": [1, 2],
        "nodes_falseleafs": [0, 1],
        "leaf_targetids": [0, 0, 0],
        "leaf_weights": helper.make_tensor("weights", f, [3], [1.5, -2.0, 4.0]),
        "n_targets": 1,
        "aggregate_function": 1,
        "post_transform": 0,
    }
    one_node("op-tree-ensemble-v5", "TreeEnsemble", node_attrs, [("x", f, [None, 4])], [("y", f, [None, 1])],
             {"x": x}, ml_opset=5)
    # An operator inferd does not implement: refused at load, by name.
    one_node("op-feature-vectorizer", "FeatureVectorizer", {"inputdimensions": [2, 2]},
             [("a", f, [None, 2]), ("b", f, [None, 2])], [("y", f, [None, 4])],
             {"a": x[:, :2], "b": x[:, 2:]}, status="refused", refusal="ai.onnx.ml:FeatureVectorizer")


def readme_table():
    """The README's "Supported models" table rows, from the committed references."""
    for folder in sorted(p for p in ROOT.iterdir() if (p / "reference.json").is_file()):
        r = json.loads((folder / "reference.json").read_text())
        ml = [o.split(":")[1] for o in r["operators"] if o.startswith("ai.onnx.ml:")]
        core = [o.split(":")[1] for o in r["operators"] if not o.startswith("ai.onnx.ml:")]
        ops = ", ".join(ml) + (" + " if ml and core else "") + ", ".join(core)
        status = r["status"] if r["status"] == "exact" else f"refused: {r['refusal']}"
        print(f"| `{folder.name}` | {r['estimator']} | {ops} | {status} |")


def main():
    if "--readme-table" in os.sys.argv:
        return readme_table()
    if ROOT.exists():
        shutil.rmtree(ROOT)
    ROOT.mkdir(parents=True)
    single_operators()
    classifiers()
    regressors()
    pipelines()
    boosters()


if __name__ == "__main__":
    main()
