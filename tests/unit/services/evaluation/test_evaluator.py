"""The evaluator resolves exactly the due predictions, from bars fetched once per instrument."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from quantgrid.adapters.market_data import Timeframe
from quantgrid.adapters.storage import SqliteStore, StoreUnavailableError
from quantgrid.core import NANOS_PER_SECOND, TestClock
from quantgrid.ml import OutcomeStatus, PredictionOutcome, UnresolvableReason
from quantgrid.model import BarSeries
from quantgrid.services.evaluation import (
    EvaluationFailedError,
    EvaluationRun,
    Evaluator,
    evaluation_job,
)
from tests.unit.services.evaluation.conftest import (
    MAX_GAP,
    MINUTE,
    NOW,
    T0,
    FlakySource,
    GatedSource,
    SwitchableStore,
    logged_predictions,
    market,
)

pytestmark = pytest.mark.anyio


def outcome(store: SwitchableStore, pid: str) -> PredictionOutcome | None:
    stored = store.get_prediction(pid)
    assert stored is not None
    return stored.outcome


def outcomes(store: SwitchableStore) -> dict[str, PredictionOutcome | None]:
    return {p.prediction_id: outcome(store, p.prediction_id) for p in logged_predictions()}


async def test_resolves_exactly_the_due_predictions_with_hand_checked_prices(
    evaluator: Evaluator, store: SwitchableStore
) -> None:
    run = await evaluator.resolve_due()

    assert run == EvaluationRun(
        ts_started=NOW,
        ts_finished=NOW,
        due=6,  # all but p-not-due
        instruments=3,
        resolved=2,
        unresolvable=1,
        unresolvable_by_reason={"no_entry_bar": 1},
        pending=2,  # p-later, p-ends
        failed_instruments=("BBB",),
        failed_predictions=1,
        saved=3,
        already_resolved=0,
    )
    bars = outcome(store, "p-bars")
    assert bars is not None and bars.status is OutcomeStatus.RESOLVED
    assert (bars.ts_entry, bars.entry_price) == (T0 + 10 * MINUTE, 110.0)
    assert (bars.ts_exit, bars.exit_price) == (T0 + 15 * MINUTE, 115.0)
    assert bars.realized_return == pytest.approx(math.log(115 / 110), abs=1e-15)
    assert bars.prior_return == pytest.approx(math.log(110 / 105), abs=1e-15)
    assert (bars.hit, bars.ts_resolved) == (True, NOW)

    duration = outcome(store, "p-duration")
    assert duration is not None
    assert (duration.entry_price, duration.ts_exit, duration.exit_price) == (
        112.0,
        T0 + 15 * MINUTE,
        115.0,
    )
    assert duration.prior_return == pytest.approx(math.log(112 / 108), abs=1e-15)
    assert duration.hit is False  # a SELL of a rise

    early = outcome(store, "p-early")
    assert early is not None and early.status is OutcomeStatus.UNRESOLVABLE
    assert early.reason is UnresolvableReason.NO_ENTRY_BAR
    assert str(T0 + MINUTE) in early.detail  # names AAA's first bar
    for pending in ("p-later", "p-down", "p-ends", "p-not-due"):
        assert outcome(store, pending) is None, pending


async def test_fetches_each_instruments_bars_once_from_the_earliest_lookback_to_now(
    evaluator: Evaluator, source: FlakySource
) -> None:
    await evaluator.resolve_due()

    # The earliest time less the horizon, less the longest gap: AAA's is p-later's 100
    # bars before T0 + 20m; BBB's p-down's 5 bars, CCC's p-ends' 10 bars.
    assert sorted(source.calls) == [
        ("AAA", T0 + 20 * MINUTE - 100 * MINUTE - MAX_GAP, NOW, 1000),
        ("BBB", T0 + 10 * MINUTE - 5 * MINUTE - MAX_GAP, NOW, 1000),
        ("CCC", T0 + 15 * MINUTE - 10 * MINUTE - MAX_GAP, NOW, 1000),
    ]


async def test_a_failing_instrument_stays_due_and_resolves_when_its_source_recovers(
    evaluator: Evaluator, store: SwitchableStore, source: FlakySource, clock: TestClock
) -> None:
    await evaluator.resolve_due()
    source.failing.clear()
    clock.set_time(T0 + 200 * MINUTE)

    run = await evaluator.resolve_due()

    assert (run.due, run.resolved, run.pending, run.failed_instruments) == (4, 3, 0, ())
    assert run.unresolvable_by_reason == {"data_ends": 1}
    down = outcome(store, "p-down")
    assert down is not None
    assert (down.entry_price, down.exit_price, down.hit) == (195.0, 192.5, False)
    later = outcome(store, "p-later")
    assert later is not None
    assert (later.entry_price, later.exit_price, later.prior_return) == (120.0, 220.0, None)
    not_due = outcome(store, "p-not-due")
    assert not_due is not None
    assert (not_due.ts_exit, not_due.exit_price, not_due.hit) == (T0 + 85 * MINUTE, 185.0, True)
    ends = outcome(store, "p-ends")
    assert ends is not None and ends.reason is UnresolvableReason.DATA_ENDS
    assert (ends.ts_entry, ends.entry_price) == (T0 + 15 * MINUTE, 65.0)  # the entry is kept
    assert all(o is not None for o in outcomes(store).values())


async def test_a_second_run_changes_nothing(evaluator: Evaluator, store: SwitchableStore) -> None:
    await evaluator.resolve_due()
    before = outcomes(store)

    run = await evaluator.resolve_due()

    assert (run.due, run.resolved, run.unresolvable, run.pending) == (3, 0, 0, 2)
    assert (run.saved, run.failed_predictions) == (0, 1)
    assert outcomes(store) == before


async def test_reads_and_saves_in_batches(
    store: SwitchableStore, source: FlakySource, clock: TestClock
) -> None:
    evaluator = Evaluator(store, source, clock, timeframe=Timeframe.M1, batch=2, max_gap_ns=MAX_GAP)

    run = await evaluator.resolve_due()

    assert (run.due, run.saved) == (6, 3)
    assert store.outcome_batches == [2, 1]


async def test_small_fetch_chunks_give_the_same_outcomes(
    store: SwitchableStore, clock: TestClock
) -> None:
    whole = SwitchableStore()
    whole.save_predictions(logged_predictions())
    await Evaluator(whole, FlakySource(market()), clock, timeframe=Timeframe.M1).resolve_due()
    chunked = FlakySource(market())

    await Evaluator(store, chunked, clock, timeframe=Timeframe.M1, fetch_chunk=7).resolve_due()

    assert outcomes(store) == outcomes(whole)
    assert sum(1 for call in chunked.calls if call[0] == "AAA") > 1
    assert all(call[3] == 7 for call in chunked.calls)


async def test_a_run_racing_another_keeps_the_first_outcomes(store: SwitchableStore) -> None:
    gated = GatedSource(market())
    slow = Evaluator(store, gated, TestClock(NOW), timeframe=Timeframe.M1, max_gap_ns=MAX_GAP)
    later = TestClock(NOW + NANOS_PER_SECOND)  # stamps different outcomes
    fast = Evaluator(
        store, FlakySource(market()), later, timeframe=Timeframe.M1, max_gap_ns=MAX_GAP
    )
    task = asyncio.create_task(slow.resolve_due())
    await gated.entered.wait()  # the slow run has read the due predictions

    first = await fast.resolve_due()
    gated.gate.set()
    second = await task

    assert (first.saved, first.resolved + first.unresolvable) == (4, 4)
    assert (second.saved, second.already_resolved) == (0, 4)
    assert all(
        o is None or o.ts_resolved == NOW + NANOS_PER_SECOND for o in outcomes(store).values()
    )


async def test_a_store_down_fails_the_run(evaluator: Evaluator, store: SwitchableStore) -> None:
    store.down = True
    with pytest.raises(StoreUnavailableError):
        await evaluator.resolve_due()


async def test_the_job_summarises_a_run_in_one_line(evaluator: Evaluator) -> None:
    summary = await evaluation_job(evaluator)(NOW)

    assert summary == (
        "6 due over 3 instrument(s): 2 resolved, 1 unresolvable (no_entry_bar 1), "
        "2 pending; bars failed for 1 instrument(s) (BBB), 1 prediction(s) left due"
    )
    assert "\n" not in summary


async def test_the_job_fails_when_no_instrument_gives_bars(
    store: SwitchableStore, clock: TestClock
) -> None:
    down = FlakySource(market(), failing={"AAA", "BBB", "CCC"})
    job = evaluation_job(Evaluator(store, down, clock, timeframe=Timeframe.M1))

    with pytest.raises(EvaluationFailedError, match="no instrument's bars"):
        await job(NOW)
    assert all(o is None for o in outcomes(store).values())


async def test_the_job_succeeds_with_nothing_due(source: FlakySource) -> None:
    job = evaluation_job(
        Evaluator(SwitchableStore(), source, TestClock(NOW), timeframe=Timeframe.M1)
    )

    assert await job(NOW) == "0 due over 0 instrument(s): 0 resolved, 0 unresolvable, 0 pending"


async def test_unordered_bars_fail_only_their_instrument(
    store: SwitchableStore, clock: TestClock
) -> None:
    class Shuffled(FlakySource):
        async def ohlcv(self, symbol, start, end, timeframe, *, limit=None):  # type: ignore[no-untyped-def]
            bars = await super().ohlcv(symbol, start, end, timeframe, limit=limit)
            if symbol == "CCC":
                close = bars.close[::-1]
                return BarSeries.from_arrays(symbol, bars.ts[::-1], close, close, close, close)
            return bars

    run = await Evaluator(store, Shuffled(market()), clock, timeframe=Timeframe.M1).resolve_due()

    assert run.failed_instruments == ("CCC",)
    assert run.resolved == 3  # AAA's two and BBB's


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeframe": "1m"}, "timeframe: must be a Timeframe"),
        ({"batch": 0}, "batch: must be an integer from 1 to 1000"),
        ({"batch": 1001}, "batch: must be an integer from 1 to 1000"),
        ({"hold_band": -0.1}, "hold_band: must be a finite number >= 0"),
        ({"hold_band": math.nan}, "hold_band: must be a finite number >= 0"),
        ({"max_gap_ns": 0}, "max_gap_ns: must be an integer >= 1"),
        ({"data_lag_ns": -1}, "data_lag_ns: must be an integer >= 0"),
        ({"fetch_chunk": True}, "fetch_chunk: must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    store: SwitchableStore, source: FlakySource, kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"timeframe": Timeframe.M1} | kwargs
    with pytest.raises(ValueError, match=message):
        Evaluator(store, source, TestClock(NOW), **arguments)  # type: ignore[arg-type]


async def test_sqlite_gives_the_same_outcomes_as_memory(
    store: SwitchableStore, source: FlakySource, clock: TestClock, tmp_path: Path
) -> None:
    sqlite = SqliteStore(tmp_path / "predictions.db", auto_migrate=True)
    try:
        sqlite.save_predictions(logged_predictions())
        on_sql = Evaluator(sqlite, source, clock, timeframe=Timeframe.M1, max_gap_ns=MAX_GAP)
        on_memory = Evaluator(store, source, clock, timeframe=Timeframe.M1, max_gap_ns=MAX_GAP)

        runs = (await on_sql.resolve_due(), await on_memory.resolve_due())
        again = await on_sql.resolve_due()

        assert runs[0] == runs[1]
        assert (again.due, again.saved) == (3, 0)
        for p in logged_predictions():
            stored = sqlite.get_prediction(p.prediction_id)
            assert stored is not None
            assert stored.outcome == outcome(store, p.prediction_id), p.prediction_id
    finally:
        sqlite.close()
