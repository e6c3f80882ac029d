"""The in-process model server: predictions, errors, hot reload, failed loads."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from quantgrid.adapters.registry import InMemoryModelRegistry, ModelNotFoundError
from quantgrid.ml import Direction, TrainedModel, TrainingResult
from quantgrid.services.ml import (
    InvalidFeaturesError,
    ModelNotServedError,
    ModelServer,
    ServedPrediction,
)
from quantgrid.services.ml._served import directions_of
from tests.unit.services.ml.support import (
    FEATURES,
    FlakyRegistry,
    memory_registry,
    register,
    row,
    to_production,
)

pytestmark = pytest.mark.anyio

DIRECTION_OF = {-1: Direction.SELL, 0: Direction.HOLD, 1: Direction.BUY}


class ListHandler(logging.Handler):
    """Keep the records logged, to count them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= logging.ERROR]


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, ListHandler]]:
    logger = logging.getLogger("tests.ml.server")
    logger.propagate = False
    handler = ListHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, handler
    logger.removeHandler(handler)


def rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, len(FEATURES)))


def assert_matches_model(prediction: ServedPrediction, model: TrainedModel, x: np.ndarray) -> None:
    """The prediction is the model's own: same probabilities, argmax direction."""
    expected = model.predict_proba(x.reshape(1, -1))[0]
    got = [prediction.probabilities[DIRECTION_OF[c]] for c in model.classes]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    best = int(np.argmax(expected))
    assert prediction.direction is DIRECTION_OF[model.classes[best]]
    assert prediction.confidence == pytest.approx(expected[best], abs=1e-12)
    assert set(prediction.probabilities) == {DIRECTION_OF[c] for c in model.classes}
    assert math.fsum(prediction.probabilities.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("fixture", ["v1_result", "lightgbm_result"])
async def test_predictions_are_the_production_models_probabilities(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(fixture)
    registry = memory_registry()
    to_production(registry, "eurusd", register(registry, "eurusd", result))
    server = ModelServer(registry, reload_interval_s=None, clock=lambda: 42)
    await server.start()
    try:
        x = rows(40)
        singles = [server.predict("eurusd", row(v)) for v in x]
        batch = server.predict_batch("eurusd", [row(v) for v in x])
    finally:
        await server.stop()

    for prediction, values in zip(singles, x, strict=True):
        assert_matches_model(prediction, result.model, values)
        assert (prediction.model, prediction.version, prediction.ts_event) == ("eurusd", 1, 42)
        assert prediction.feature_names == FEATURES
    np.testing.assert_allclose(batch.probabilities, result.model.predict_proba(x), atol=1e-12)
    for from_batch, single in zip(batch, singles, strict=True):  # the same, one at a time
        assert from_batch.direction is single.direction
        assert from_batch.probabilities == pytest.approx(single.probabilities, abs=1e-12)
        assert (from_batch.model, from_batch.version, from_batch.ts_event) == ("eurusd", 1, 42)
    assert batch.directions == tuple(p.direction for p in singles)
    np.testing.assert_allclose(batch.confidences, [p.confidence for p in singles], atol=1e-12)
    assert len(batch) == 40 and batch.version == 1
    assert server.prediction_counts() == {("eurusd", 1): 80}


async def test_a_three_class_model_answers_hold_too(lightgbm_result: TrainingResult) -> None:
    registry = memory_registry()
    to_production(registry, "eurusd", register(registry, "eurusd", lightgbm_result))
    server = ModelServer(registry, reload_interval_s=None)
    await server.start()
    directions = {server.predict("eurusd", row(v)).direction for v in rows(300)}
    await server.stop()
    assert lightgbm_result.model.classes == (-1, 0, 1)
    assert directions == {Direction.SELL, Direction.HOLD, Direction.BUY}


def test_class_labels_map_to_directions() -> None:
    assert directions_of((-1, 1)) == (Direction.SELL, Direction.BUY)
    assert directions_of((-1, 0, 1)) == (Direction.SELL, Direction.HOLD, Direction.BUY)
    for bad in [(0, 2), (1,), (-2, 1)]:
        with pytest.raises(ValueError, match="direction labels"):
            directions_of(bad)


async def test_missing_unexpected_and_non_finite_features_are_named(server: ModelServer) -> None:
    good = row(rows(1)[0])
    cases = [
        ({k: v for k, v in good.items() if k != "rsi_14"}, ("rsi_14",), (), ()),
        ({"ret_1": 0.1}, ("ret_5", "rsi_14"), (), ()),
        ({**good, "vol_20": 1.0, "adx_14": 2.0}, (), ("adx_14", "vol_20"), ()),
        ({**good, "ret_5": math.nan}, (), (), ("ret_5",)),
        ({**good, "ret_1": math.inf, "rsi_14": "high"}, (), (), ("ret_1", "rsi_14")),
        ({"ret_1": -math.inf, "x": 1.0}, ("ret_5", "rsi_14"), ("x",), ("ret_1",)),
    ]
    for features, missing, unexpected, non_finite in cases:
        with pytest.raises(InvalidFeaturesError) as caught:
            server.predict("eurusd", features)  # type: ignore[arg-type]
        error = caught.value
        assert (error.missing, error.unexpected, error.non_finite) == (
            missing,
            unexpected,
            non_finite,
        )
        assert (error.model, error.version, error.row) == ("eurusd", 1, None)
        for name in (*missing, *unexpected, *non_finite):
            assert name in str(error)
    assert server.prediction_counts() == {}


async def test_a_batch_names_its_first_bad_row_and_counts_the_bad_ones(
    server: ModelServer,
) -> None:
    good = [row(v) for v in rows(6)]
    bad = list(good)
    bad[2] = {**good[2], "ret_1": math.nan}
    bad[4] = {k: v for k, v in good[4].items() if k != "ret_5"}
    with pytest.raises(InvalidFeaturesError) as caught:
        server.predict_batch("eurusd", bad)
    error = caught.value
    assert (error.row, error.bad_rows, error.non_finite) == (2, 2, ("ret_1",))
    assert "rows[2]" in str(error) and "1 more bad rows" in str(error)
    with pytest.raises(ValueError, match="at least one row"):
        server.predict_batch("eurusd", [])


async def test_unknown_and_unpromoted_models_are_not_served(
    server: ModelServer, served_registry: InMemoryModelRegistry, v2_result: TrainingResult
) -> None:
    register(served_registry, "gbpusd", v2_result)  # registered, never approved
    await server.refresh()
    for name in ("nosuch", "gbpusd"):
        with pytest.raises(ModelNotServedError, match="no registered model of this name has a"):
            server.predict(name, {})
        with pytest.raises(ModelNotServedError):
            server.predict_batch(name, [{}])
    assert [s.name for s in server.statuses()] == ["eurusd"]


async def test_a_server_of_named_models_reports_each_one(
    served_registry: InMemoryModelRegistry, v2_result: TrainingResult
) -> None:
    register(served_registry, "gbpusd", v2_result)
    server = ModelServer(served_registry, models=["eurusd", "gbpusd", "nosuch"])
    await server.start()
    await server.stop()

    eurusd, gbpusd, nosuch = server.statuses()
    assert (eurusd.version, eurusd.production_version, eurusd.last_error) == (1, 1, None)
    assert eurusd.feature_set_name == "returns-v1" and eurusd.classes == (-1, 1)
    assert (gbpusd.version, gbpusd.production_version, gbpusd.last_error) == (None, None, None)
    assert nosuch.version is None and "no registered model is named 'nosuch'" in str(
        nosuch.last_error
    )
    with pytest.raises(ModelNotServedError, match="no version in production"):
        server.predict("gbpusd", {})
    with pytest.raises(ModelNotServedError, match="no registered model is named"):
        server.serving("nosuch")
    with pytest.raises(ModelNotServedError, match="serves only eurusd, gbpusd, nosuch"):
        server.predict("audusd", {})
    with pytest.raises(ModelNotServedError, match="serves only"):
        await server.reload_now("audusd")
    assert not server.watches("audusd") and server.watches("gbpusd")


async def test_promoting_v2_while_predicting_fails_no_prediction(
    server: ModelServer, served_registry: InMemoryModelRegistry, v2_result: TrainingResult
) -> None:
    """Predictions run in a thread throughout the swap: none fails, v2 serves after it."""
    x = rows(200)
    seen: list[tuple[bool, int]] = []  # (started after the swap, version)
    failures: list[BaseException] = []
    swapped, stop = threading.Event(), threading.Event()
    warmed, after = threading.Event(), threading.Event()

    def predict_in_a_loop() -> None:
        i = 0
        while not stop.is_set():
            started_after = swapped.is_set()
            try:
                prediction = server.predict("eurusd", row(x[i % len(x)]))
            except BaseException as error:  # the test fails on any
                failures.append(error)
                return
            seen.append((started_after, prediction.version))
            i += 1
            if i == 100:
                warmed.set()
            if started_after and sum(a for a, _ in seen) >= 100:
                after.set()

    worker = threading.Thread(target=predict_in_a_loop)
    worker.start()
    try:
        assert await asyncio.to_thread(warmed.wait, 30), "no predictions before the swap"
        version = register(served_registry, "eurusd", v2_result)
        to_production(served_registry, "eurusd", version)
        status = await server.reload_now("eurusd")
        swapped.set()
        assert await asyncio.to_thread(after.wait, 30), "no predictions after the swap"
    finally:
        stop.set()
        worker.join()

    assert failures == []
    assert status.version == 2 and status.reloads == 2
    versions = [v for _, v in seen]
    assert versions[0] == 1 and versions == sorted(versions)  # never back to v1
    assert {v for started_after, v in seen if started_after} == {2}
    expected = v2_result.model.predict_proba(x[:1])[0]
    assert server.predict("eurusd", row(x[0])).probabilities[Direction.BUY] == pytest.approx(
        expected[1], abs=1e-12
    )


async def test_polling_picks_up_a_promotion(
    served_registry: InMemoryModelRegistry, v2_result: TrainingResult
) -> None:
    server = ModelServer(served_registry, reload_interval_s=0.01)
    await server.start()
    try:
        to_production(served_registry, "eurusd", register(served_registry, "eurusd", v2_result))
        # Waits for the poll, however slow the machine; not a timing assertion.
        async with asyncio.timeout(30):
            while server.status("eurusd").version != 2:
                await asyncio.sleep(0.01)
    finally:
        await server.stop()
    assert server.predict("eurusd", row(rows(1)[0])).version == 2
    assert not server.running


async def test_a_failed_load_keeps_v1_logs_once_and_shows(
    v1_result: TrainingResult,
    v2_result: TrainingResult,
    log: tuple[logging.Logger, ListHandler],
) -> None:
    logger, handler = log
    registry = FlakyRegistry()
    to_production(registry, "eurusd", register(registry, "eurusd", v1_result))
    server = ModelServer(registry, reload_interval_s=None, logger=logger, clock=lambda: 7)
    await server.start()
    registry.broken.add(2)
    to_production(registry, "eurusd", register(registry, "eurusd", v2_result))

    first = await server.reload_now("eurusd")
    await server.refresh()
    second = server.status("eurusd")

    assert first.version == second.version == 1
    assert second.production_version == 2 and second.failed_version == 2
    assert second.reload_failures == 2 and second.reloads == 1
    assert (
        second.last_error == "loading version 2 failed: OSError: artefact of version 2 is corrupt"
    )
    assert second.last_error_at_ns == 7
    assert server.predict("eurusd", row(rows(1)[0])).version == 1
    assert handler.errors() == [
        "model eurusd: loading version 2 failed: OSError: artefact of version 2 is corrupt; "
        "still serving version 1"
    ]

    registry.broken.clear()
    await server.refresh()
    healed = server.status("eurusd")
    await server.stop()
    assert (healed.version, healed.last_error, healed.failed_version) == (2, None, None)
    assert healed.reloads == 2


async def test_a_registry_that_cannot_list_is_shown_and_v1_serves_on(
    v1_result: TrainingResult, log: tuple[logging.Logger, ListHandler]
) -> None:
    logger, handler = log
    registry = FlakyRegistry()
    to_production(registry, "eurusd", register(registry, "eurusd", v1_result))
    server = ModelServer(registry, reload_interval_s=None, logger=logger)
    await server.start()
    registry.down = True
    await server.refresh()
    await server.refresh()
    assert server.registry_error == (
        "listing the registered models failed: RegistryError: the database is locked"
    )
    assert len(handler.errors()) == 1
    assert server.predict("eurusd", row(rows(1)[0])).version == 1
    registry.down = False
    await server.refresh()
    await server.stop()
    assert server.registry_error is None


async def test_a_model_promoted_after_start_is_found_at_the_next_refresh(
    server: ModelServer, served_registry: InMemoryModelRegistry, v2_result: TrainingResult
) -> None:
    to_production(served_registry, "gbpusd", register(served_registry, "gbpusd", v2_result))
    with pytest.raises(ModelNotServedError):
        server.predict("gbpusd", row(rows(1)[0]))
    await server.refresh()
    assert server.predict("gbpusd", row(rows(1)[0])).model == "gbpusd"


async def test_reload_now_of_a_model_without_production_says_so(
    server: ModelServer, served_registry: InMemoryModelRegistry, v2_result: TrainingResult
) -> None:
    unknown = await server.reload_now("nosuch")
    assert unknown.version is None
    assert unknown.last_error == "reading its production version failed: " + (
        "ModelNotFoundError: no registered model is named 'nosuch'"
    )
    register(served_registry, "gbpusd", v2_result)
    unpromoted = await server.reload_now("gbpusd")
    assert (unpromoted.version, unpromoted.production_version, unpromoted.last_error) == (
        None,
        None,
        None,
    )
    # Neither is tracked: a server of every production model lists only those.
    assert [s.name for s in server.statuses()] == ["eurusd"]
    with pytest.raises(ModelNotServedError, match="no registered model of this name has a"):
        server.predict("nosuch", {})


async def test_start_twice_is_refused_and_stop_is_idempotent(server: ModelServer) -> None:
    with pytest.raises(RuntimeError, match="already started"):
        await server.start()
    await server.stop()
    await server.stop()
    assert not server.running
    # Stopped is not unloaded: the loaded version serves on.
    assert server.predict("eurusd", row(rows(1)[0])).version == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"models": "eurusd"}, "sequence of model names, got the string 'eurusd'"),
        ({"models": ["eur usd"]}, "'eur usd' is not a model name"),
        ({"models": ["eurusd", "eurusd"]}, "must not repeat a name"),
        ({"reload_interval_s": 0}, "positive number of seconds or None, got 0"),
        ({"reload_interval_s": -1.0}, "got -1.0"),
        ({"reload_interval_s": math.nan}, "got nan"),
        ({"reload_interval_s": True}, "got True"),
    ],
)
def test_bad_server_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelServer(memory_registry(), **options)  # type: ignore[arg-type]


def test_the_registrys_not_found_error_is_what_the_server_reports() -> None:
    # The server relies on this to tell an unknown model from a failing registry.
    with pytest.raises(ModelNotFoundError):
        memory_registry().production_version("nosuch")
