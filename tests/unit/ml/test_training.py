"""ModelSpec, TrainedModel, train_model, the scores, tune and the data hash."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import mannwhitneyu

from quantgrid.ml._lineage import compute_data_hash
from quantgrid.ml._model import MODEL_KINDS, ModelSpec, TrainedModel, build_estimator, fit_model
from quantgrid.ml._scoring import score_forecasts
from quantgrid.ml._training import train_model
from quantgrid.ml._tuning import tune
from quantgrid.ml._validation import PurgedKFold, WalkForward

STEP = 60_000_000_000
# Small models: these tests are about plumbing, not skill.
SMALL: Mapping[str, Mapping[str, int]] = {
    "lightgbm": {"n_estimators": 30},
    "logistic": {},
    "random_forest": {"n_estimators": 20},
    "hist_gradient_boosting": {"max_iter": 20},
}


def spans(n: int) -> tuple[np.ndarray, np.ndarray]:
    ts = 1_704_067_200_000_000_000 + STEP * np.arange(n, dtype=np.int64)
    return ts, ts + STEP


def signal_data(n: int, seed: int, three_classes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Three features, the first predictive; binary or a HOLD-heavy three-class label."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 3))
    score = features[:, 0] + 1.5 * rng.normal(size=n)
    if three_classes:  # about 73 % HOLD, 13-14 % each of BUY and SELL
        return features, np.where(score > 2.0, 1, np.where(score < -2.0, -1, 0))
    return features, np.where(score > 0, 1, -1)


# -- ModelSpec ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "xgboost"}, "ModelSpec.kind must be one of"),
        ({"kind": "lightgbm", "params": {"depth": 3}}, r"params\['depth'\] is not a parameter"),
        ({"kind": "lightgbm", "params": {"class_weight": None}}, "set ModelSpec.class_weight"),
        ({"kind": "logistic", "params": {"random_state": 1}}, "set ModelSpec.seed"),
        ({"kind": "logistic", "params": {"C": [1.0]}}, "must be a JSON scalar"),
        ({"kind": "logistic", "params": {"C": math.nan}}, "must be finite"),
        ({"kind": "logistic", "class_weight": "auto"}, "class_weight must be 'balanced' or None"),
        ({"kind": "logistic", "seed": -1}, "seed must be a non-negative int"),
    ],
)
def test_spec_rejects_what_the_estimator_would_not_take(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ModelSpec(**kwargs)  # type: ignore[arg-type]


def test_spec_is_frozen_hashable_and_round_trips_through_a_dict() -> None:
    spec = ModelSpec("lightgbm", {"num_leaves": 7, "learning_rate": 0.1}, None, seed=3)

    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert hash(ModelSpec.from_dict(spec.to_dict())) == hash(spec)
    with pytest.raises(TypeError):
        spec.params["num_leaves"] = 8  # type: ignore[index]


def test_spec_params_override_defaults_and_the_spec_sets_weights_and_seed() -> None:
    estimator = build_estimator(ModelSpec("lightgbm", {"num_leaves": 7}, seed=5))

    params = estimator.get_params()
    assert params["num_leaves"] == 7
    assert params["n_estimators"] == 200  # the default
    assert params["class_weight"] == "balanced"
    assert params["random_state"] == 5
    assert params["deterministic"] is True


# -- scores -------------------------------------------------------------------------------


def test_binary_scores_match_a_hand_computation() -> None:
    y = np.array([1, -1, 1, 1])
    proba = np.array([[0.2, 0.8], [0.6, 0.4], [0.7, 0.3], [0.1, 0.9]])

    m = score_forecasts(y, proba, (-1, 1), last_direction=np.array([1, 1, 1, -1]))

    assert m.accuracy == pytest.approx(0.75)  # forecasts 1, -1, -1, 1
    assert m.balanced_accuracy == pytest.approx((1.0 + 2 / 3) / 2)
    assert m.roc_auc == pytest.approx(2 / 3)  # up scores .8 .3 .9 against one down at .4
    assert m.log_loss == pytest.approx(-(math.log(0.8 * 0.6 * 0.3 * 0.9)) / 4)
    assert m.brier_score == pytest.approx((0.2**2 + 0.4**2 + 0.7**2 + 0.1**2) / 4)
    assert dict(m.class_share) == {-1: 0.25, 1: 0.75}
    assert dict(m.prediction_share) == {-1: 0.5, 1: 0.5}
    assert m.majority_accuracy == m.always_up_accuracy == 0.75
    assert m.last_direction_accuracy == 0.5
    assert m.best_baseline_accuracy == 0.75
    assert m.accuracy_margin == pytest.approx(0.0)
    assert m.as_dict()["prediction_share_down"] == 0.5
    assert m.as_dict()["last_direction_accuracy"] == 0.5


def test_three_class_auc_is_the_mean_of_one_vs_rest_mann_whitney_aucs() -> None:
    rng = np.random.default_rng(5)
    y = rng.choice([-1, 0, 1], size=300)
    proba = rng.dirichlet([1.0, 1.0, 1.0], size=300)
    proba[np.arange(300), y + 1] += 0.3  # some skill
    proba /= proba.sum(axis=1, keepdims=True)

    m = score_forecasts(y, proba, (-1, 0, 1))

    aucs = []
    for column, label in enumerate((-1, 0, 1)):
        positive, negative = proba[y == label, column], proba[y != label, column]
        u = mannwhitneyu(positive, negative).statistic
        aucs.append(u / (positive.size * negative.size))
    assert m.roc_auc == pytest.approx(np.mean(aucs), abs=1e-12)
    onehot = np.eye(3)[y + 1]
    assert m.brier_score == pytest.approx(np.mean(np.sum((proba - onehot) ** 2, axis=1)) / 2)
    assert m.always_up_accuracy == pytest.approx(np.mean(y == 1))


def test_auc_is_nan_when_a_class_never_occurs() -> None:
    m = score_forecasts(np.array([1, 1]), np.array([[0.3, 0.7], [0.4, 0.6]]), (-1, 1))

    assert math.isnan(m.roc_auc)
    assert m.accuracy == 1.0


# -- train_model --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    features, labels = signal_data(800, seed=1)
    return features, labels, *spans(800)


def test_pooled_figures_are_those_of_the_out_of_fold_forecasts(binary: tuple) -> None:
    features, labels, ts, t1 = binary
    spec = ModelSpec("logistic")

    result = train_model(features, labels, ts, t1, spec, PurgedKFold(4))

    assert result.tested.all()
    assert result.metrics == score_forecasts(labels, result.oof_proba, (-1, 1))
    assert [f.n_test for f in result.folds] == [200, 200, 200, 200]
    # Next-bar labels: one neighbour purged on each inner side of a test fold.
    assert [f.n_train for f in result.folds] == [599, 598, 598, 599]
    assert result.metrics.roc_auc > 0.7  # the first feature carries the signal
    assert result.n_samples == 800
    assert result.cv == "PurgedKFold(n_splits=4, embargo=0)"


def test_each_fold_is_forecast_by_a_model_that_never_saw_it(binary: tuple) -> None:
    features, labels, ts, t1 = binary
    spec = ModelSpec("lightgbm", SMALL["lightgbm"])
    cv = PurgedKFold(4, embargo=5)

    result = train_model(features, labels, ts, t1, spec, cv)

    train, test = list(cv.split(ts, t1))[2]
    alone = fit_model(features[train], labels[train], spec, ("f0", "f1", "f2"))
    np.testing.assert_array_equal(result.oof_proba[test], alone.predict_proba(features[test]))


def test_the_final_model_is_fitted_on_every_sample(binary: tuple) -> None:
    features, labels, ts, t1 = binary
    spec = ModelSpec("lightgbm", SMALL["lightgbm"])

    result = train_model(features, labels, ts, t1, spec, PurgedKFold(3))

    everything = fit_model(features, labels, spec, ("f0", "f1", "f2"))
    assert result.model.to_bytes() == everything.to_bytes()


def test_training_is_deterministic_given_the_seed(binary: tuple) -> None:
    features, labels, ts, t1 = binary
    spec = ModelSpec("lightgbm", {**SMALL["lightgbm"], "colsample_bytree": 0.7}, seed=9)

    first = train_model(features, labels, ts, t1, spec, PurgedKFold(3))
    second = train_model(features, labels, ts, t1, spec, PurgedKFold(3))

    np.testing.assert_array_equal(first.oof_proba, second.oof_proba)
    assert first.model.to_bytes() == second.model.to_bytes()


def test_walk_forward_scores_only_the_tested_blocks(binary: tuple) -> None:
    features, labels, ts, t1 = binary
    last = np.sign(features[:, 1]).astype(np.int64)

    result = train_model(
        features, labels, ts, t1, ModelSpec("logistic"), WalkForward(3), last_direction=last
    )

    assert result.tested.tolist() == [False] * 200 + [True] * 600
    assert np.isnan(result.oof_proba[:200]).all()
    assert result.metrics.n_samples == 600
    assert result.metrics.last_direction_accuracy == pytest.approx(
        np.mean(last[200:] == labels[200:])
    )


@pytest.mark.parametrize("kind", ["lightgbm", "logistic"])
def test_balanced_weights_keep_a_rare_buy_and_sell_alive(kind: str) -> None:
    # About 73 % HOLD. Unweighted, the model calls HOLD nearly always, which scores a
    # fine accuracy and is useless; balanced weights make it call BUY and SELL.
    features, labels = signal_data(2000, seed=11, three_classes=True)
    ts, t1 = spans(2000)

    balanced = train_model(features, labels, ts, t1, ModelSpec(kind), PurgedKFold(4)).metrics
    unweighted = train_model(
        features, labels, ts, t1, ModelSpec(kind, class_weight=None), PurgedKFold(4)
    ).metrics

    assert unweighted.prediction_share[0] > 0.85  # the failure balanced weights prevent
    assert min(balanced.prediction_share.values()) > 0.15
    assert balanced.prediction_share[0] < 0.6
    assert balanced.balanced_accuracy > unweighted.balanced_accuracy + 0.1


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("three_classes", [False, True])
def test_every_kind_predicts_one_row_as_it_predicts_a_batch(kind: str, three_classes: bool) -> None:
    features, labels = signal_data(600, seed=2, three_classes=three_classes)
    spec = ModelSpec(kind, SMALL[kind])  # type: ignore[arg-type]

    model = fit_model(features, labels, spec, ("a", "b", "c"))

    batch = model.predict_proba(features[:20])
    assert batch.shape == (20, 3 if three_classes else 2)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-12)
    for i in range(20):
        np.testing.assert_allclose(model.predict_one(features[i]), batch[i], atol=1e-12)
    estimator = build_estimator(spec).fit(features, labels)
    np.testing.assert_allclose(batch, estimator.predict_proba(features[:20]), atol=1e-10)
    assert model.classes == ((-1, 0, 1) if three_classes else (-1, 1))
    np.testing.assert_array_equal(
        model.predict(features[:20]), np.asarray(model.classes)[batch.argmax(axis=1)]
    )


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_bytes_round_trip_without_the_training_data(kind: str) -> None:
    features, labels = signal_data(600, seed=3, three_classes=True)
    spec = ModelSpec(kind, SMALL[kind], seed=4)  # type: ignore[arg-type]
    model = fit_model(features, labels, spec, ("a", "b", "c"))

    loaded = TrainedModel.from_bytes(model.to_bytes())

    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))
    assert (loaded.spec, loaded.classes) == (spec, (-1, 0, 1))
    assert loaded.feature_names == ("a", "b", "c")


def test_a_lightgbm_artefact_is_model_text_not_a_pickle(binary: tuple) -> None:
    features, labels, _, _ = binary
    model = fit_model(features, labels, ModelSpec("lightgbm", SMALL["lightgbm"]), ("a", "b", "c"))

    data = model.to_bytes()

    assert b"\x80\x05" not in data[:64]
    assert b"tree\nversion=" in data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a model", "wrong magic bytes"),
        (b"QGMODEL\x01" + (5).to_bytes(8, "little") + b"{bad}", "bad header"),
    ],
)
def test_bytes_that_are_not_a_model_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainedModel.from_bytes(data)


def test_a_row_of_the_wrong_length_is_refused(binary: tuple) -> None:
    features, labels, _, _ = binary
    model = fit_model(features, labels, ModelSpec("logistic"), ("a", "b", "c"))

    with pytest.raises(ValueError, match="row must hold 3 features"):
        model.predict_one(np.zeros(4))
    with pytest.raises(ValueError, match=r"features must have shape \(n, 3\)"):
        model.predict_proba(np.zeros(3))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("nan", r"features must be finite, but row 7, column 'f1' is nan"),
        ("label", r"labels must be directions in \{-1, 0, 1\}, but labels\[3\] = 2"),
        ("one_class", "labels must hold at least two classes"),
        ("short_ts", "ts and t1 must have one entry per row of features"),
        ("names", "feature_names must name the 3 columns once each"),
        ("1d", "features must be a non-empty 2-D array"),
        ("last", "last_direction must hold 800 values"),
    ],
)
def test_bad_training_input_is_named(binary: tuple, change: str, message: str) -> None:
    features, labels, ts, t1 = (a.copy() for a in binary)
    names: tuple[str, ...] | None = None
    last = None
    if change == "nan":
        features[7, 1] = np.nan
    elif change == "label":
        labels[3] = 2
    elif change == "one_class":
        labels[:] = 1
    elif change == "short_ts":
        ts, t1 = ts[:-1], t1[:-1]
    elif change == "names":
        names = ("a", "a", "b")
    elif change == "1d":
        features = features[:, 0]
    elif change == "last":
        last = np.zeros(10, dtype=np.int64)

    with pytest.raises(ValueError, match=message):
        train_model(
            features,
            labels,
            ts,
            t1,
            ModelSpec("logistic"),
            PurgedKFold(2),
            feature_names=names,
            last_direction=last,
        )


def test_a_fold_without_a_class_to_learn_is_refused(binary: tuple) -> None:
    features, labels, ts, t1 = binary
    labels = np.where(np.arange(800) < 20, 0, labels)  # HOLD only in the first fold's span

    with pytest.raises(ValueError, match=r"fold 0 has no training sample of class \[0\]"):
        train_model(features, labels, ts, t1, ModelSpec("logistic"), PurgedKFold(4))


# -- tune ---------------------------------------------------------------------------------


def test_tune_is_reproducible_and_returns_a_spec_from_its_search(binary: tuple) -> None:
    features, labels, ts, t1 = binary
    before = optuna.logging.get_verbosity()

    first = tune(features, labels, ts, t1, "logistic", n_trials=4, cv=PurgedKFold(3), seed=1)
    second = tune(features, labels, ts, t1, "logistic", n_trials=4, cv=PurgedKFold(3), seed=1)

    assert optuna.logging.get_verbosity() == before  # quietened only while it ran
    assert first == second
    assert first.n_complete == 4
    assert first.metric == "log_loss"
    best = min(first.trials, key=lambda t: t.value if t.value is not None else math.inf)
    assert first.best_value == best.value
    assert first.best_spec == ModelSpec("logistic", best.params, seed=1)
    assert 1e-3 <= first.best_spec.params["C"] <= 100.0  # type: ignore[operator]
    # The reported value is what cross-validating the chosen spec gives.
    again = train_model(features, labels, ts, t1, first.best_spec, PurgedKFold(3))
    assert again.metrics.log_loss == pytest.approx(first.best_value)


def test_tune_keeps_fixed_params_out_of_the_search(binary: tuple) -> None:
    features, labels, ts, t1 = binary

    result = tune(
        features,
        labels,
        ts,
        t1,
        "lightgbm",
        n_trials=2,
        cv=PurgedKFold(2),
        metric="roc_auc",
        fixed_params={"n_estimators": 20},
    )

    assert all("n_estimators" not in trial.params for trial in result.trials)
    assert result.best_spec.params["n_estimators"] == 20
    assert result.best_value == max(t.value for t in result.trials if t.value is not None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "svm"}, "kind must be one of"),
        ({"n_trials": 0}, "n_trials must be an integer of at least 1"),
        ({"metric": "accuracy"}, "metric must be one of"),
        ({"timeout_seconds": 0.0}, "timeout_seconds must be positive"),
        ({"fixed_params": {"nope": 1}}, r"params\['nope'\] is not a parameter"),
    ],
)
def test_tune_rejects_bad_arguments(binary: tuple, kwargs: dict[str, object], message: str) -> None:
    features, labels, ts, t1 = binary
    arguments: dict[str, object] = {"kind": "logistic", "n_trials": 1, **kwargs}

    with pytest.raises(ValueError, match=message):
        tune(features, labels, ts, t1, **arguments)  # type: ignore[arg-type]


# -- data hash ----------------------------------------------------------------------------


def test_data_hash_ignores_memory_layout_but_not_values_shape_dtype_or_order() -> None:
    features = np.arange(12.0).reshape(4, 3)
    labels = np.array([1, -1, 1, 0])
    digest = compute_data_hash(features, labels)

    changed = features.copy()
    changed[2, 1] += 1e-9
    assert compute_data_hash(np.asfortranarray(features), labels) == digest
    assert compute_data_hash(features.copy(), labels.copy()) == digest
    assert compute_data_hash(changed, labels) != digest
    assert compute_data_hash(features.reshape(3, 4), labels) != digest
    assert compute_data_hash(features.astype(np.float32), labels) != digest
    assert compute_data_hash(labels, features) != digest
    assert len(digest) == 64


@given(st.lists(st.integers(-5, 5), min_size=1, max_size=20), st.integers(0, 19))
def test_data_hash_splitting_the_same_bytes_differently_changes_it(
    values: list[int], cut: int
) -> None:
    array = np.asarray(values, dtype=np.int64)
    cut = min(cut, array.size)

    assert compute_data_hash(array[:cut], array[cut:]) != compute_data_hash(array)


def test_data_hash_refuses_nothing_and_objects() -> None:
    with pytest.raises(ValueError, match="at least one array"):
        compute_data_hash()
    with pytest.raises(ValueError, match="array 1 holds Python objects"):
        compute_data_hash(np.zeros(2), np.array([object()]))


@pytest.mark.parametrize("three_classes", [False, True])
def test_extreme_feature_values_give_probabilities_not_overflow(three_classes: bool) -> None:
    """A served row far outside the training range must still give 0..1 (found by fuzzing)."""
    features, labels = signal_data(300, seed=4, three_classes=three_classes)
    model = fit_model(features, labels, ModelSpec("logistic"), ("a", "b", "c"))
    extreme = np.array([[1e300, 0.0, 0.0], [-1e300, 0.0, 0.0], [9303.0, -9303.0, 1e6]])
    proba = model.predict_proba(extreme)  # warnings are errors here: no overflow warning
    assert np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(model.predict_one(extreme[0]), proba[0])
