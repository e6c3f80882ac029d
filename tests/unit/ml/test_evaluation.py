"""Resolving predictions against bars, and the evaluation report against references."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from quantgrid.core import NANOS_PER_DAY, NANOS_PER_SECOND, dt_to_ns
from quantgrid.ml._evaluation import (
    ConfidenceBin,
    EvaluationReport,
    GroupScore,
    HitRate,
    ModelScore,
    _Resolution,
    due_time_ns,
    evaluate_predictions,
    resolve_prediction,
)
from quantgrid.ml._predictions import (
    Direction,
    Horizon,
    OutcomeStatus,
    Prediction,
    PredictionOutcome,
    UnresolvableReason,
)
from quantgrid.model import BarSeries

NY = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
MINUTE = 60 * NANOS_PER_SECOND
HOUR = 60 * MINUTE
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z


def bars_at(ts: list[int] | np.ndarray, closes: list[float] | np.ndarray, iid: str = "AAPL"):
    close = np.asarray(closes, dtype=np.float64)
    return BarSeries.from_arrays(iid, np.asarray(ts, dtype=np.int64), close, close, close, close)


def minute_bars(closes: list[float], iid: str = "AAPL") -> BarSeries:
    return bars_at([T0 + k * MINUTE for k in range(len(closes))], closes, iid)


def local_ns(tz: ZoneInfo, day: date, hh: int, mm: int) -> int:
    return dt_to_ns(datetime.combine(day, time(hh, mm), tzinfo=tz))


def session_bars(
    tz: ZoneInfo, days: list[date], open_at: tuple[int, int], close_at: tuple[int, int]
) -> BarSeries:
    """5-minute bars stamped at their close, from the open to the close of each day."""
    ts = []
    for day in days:
        start = local_ns(tz, day, *open_at)
        end = local_ns(tz, day, *close_at)
        ts += list(range(start + 5 * MINUTE, end + 1, 5 * MINUTE))
    closes = 100.0 + np.arange(len(ts)) * 0.01  # a rising price: the index is readable
    return bars_at(ts, closes)


def predict(**changes: Any) -> Prediction:
    fields: dict[str, Any] = {
        "prediction_id": "p-1",
        "model_name": "m",
        "model_version": 1,
        "instrument_id": "AAPL",
        "ts_event": T0,
        "direction": Direction.BUY,
        "confidence": 0.6,
        "horizon": Horizon.of_bars(2),
        "exchange_tz": "America/New_York",
    }
    fields.update(changes)
    return Prediction(**fields)


def index_of(bars: BarSeries, ts: int) -> int:
    (found,) = np.flatnonzero(bars.ts == ts)
    return int(found)


# -- bar horizons --------------------------------------------------------------------------
def test_a_bar_horizon_exits_k_bars_after_the_entry_bar():
    bars = minute_bars([100.0, 101.0, 102.0, 99.0, 98.0])
    prediction = predict(ts_event=T0 + MINUTE + 30 * NANOS_PER_SECOND)  # after bar 1
    outcome = resolve_prediction(prediction, bars, now_ns=T0 + 10 * MINUTE)
    assert outcome == PredictionOutcome(
        prediction_id="p-1",
        status=OutcomeStatus.RESOLVED,
        ts_resolved=T0 + 10 * MINUTE,
        ts_entry=T0 + MINUTE,
        entry_price=101.0,
        ts_exit=T0 + 3 * MINUTE,
        exit_price=99.0,
        realized_return=math.log(99.0 / 101.0),
        prior_return=None,  # two bars before bar 1 do not exist
        hit=False,
    )
    sell = resolve_prediction(
        predict(ts_event=T0 + 2 * MINUTE, direction=Direction.SELL), bars, T0 + 10 * MINUTE
    )
    assert sell is not None
    assert sell.realized_return == pytest.approx(math.log(98.0 / 102.0))
    assert sell.prior_return == pytest.approx(math.log(102.0 / 100.0))
    assert sell.hit is True


def test_a_bar_horizon_the_data_has_not_reached_is_pending():
    bars = minute_bars([100.0, 101.0, 102.0])
    assert resolve_prediction(predict(ts_event=T0 + MINUTE), bars, T0 + 5 * MINUTE) is None


def test_bars_after_now_are_not_known_yet():
    bars = minute_bars([100.0, 101.0, 102.0, 99.0])
    prediction = predict(ts_event=T0)
    assert resolve_prediction(prediction, bars, now_ns=T0 + MINUTE) is None
    outcome = resolve_prediction(prediction, bars, now_ns=T0 + 2 * MINUTE)
    assert outcome is not None
    assert outcome.exit_price == 102.0


@pytest.mark.parametrize(
    ("exit_close", "band", "hit"),
    [(100.0, 0.0, True), (100.1, 0.0, False), (100.1, 0.001, True), (99.85, 0.001, False)],
)
def test_a_hold_is_right_within_the_hold_band(exit_close: float, band: float, hit: bool):
    bars = minute_bars([100.0, 100.5, exit_close])
    outcome = resolve_prediction(predict(direction=Direction.HOLD), bars, T0 + HOUR, hold_band=band)
    assert outcome is not None
    assert outcome.hit is hit


def test_a_zero_return_is_a_miss_for_buy_and_sell():
    bars = minute_bars([100.0, 103.0, 100.0])
    for direction in (Direction.BUY, Direction.SELL):
        outcome = resolve_prediction(predict(direction=direction), bars, T0 + HOUR)
        assert outcome is not None
        assert outcome.realized_return == 0.0
        assert outcome.hit is False


# -- duration horizons ---------------------------------------------------------------------
def test_a_duration_horizon_exits_at_the_last_bar_at_or_before_its_end():
    ts = [T0, T0 + 10 * MINUTE, T0 + 30 * MINUTE, T0 + 70 * MINUTE]
    bars = bars_at(ts, [100.0, 102.0, 104.0, 90.0])
    # Ends at T0 + 30 min exactly: that bar is the exit.
    exact = resolve_prediction(predict(horizon=Horizon.of_duration(30 * MINUTE)), bars, T0 + HOUR)
    assert exact is not None
    assert (exact.ts_exit, exact.exit_price) == (T0 + 30 * MINUTE, 104.0)
    # Ends at T0 + 40 min: the last bar before it (30 min), known since the 70 min bar.
    between = predict(horizon=Horizon.of_duration(40 * MINUTE))
    assert resolve_prediction(between, bars, T0 + 69 * MINUTE) is None
    outcome = resolve_prediction(between, bars, T0 + 70 * MINUTE)
    assert outcome is not None
    assert (outcome.ts_exit, outcome.exit_price) == (T0 + 30 * MINUTE, 104.0)
    # Ends after the data: pending.
    assert (
        resolve_prediction(predict(horizon=Horizon.of_duration(2 * HOUR)), bars, T0 + 3 * HOUR)
        is None
    )


def test_a_duration_horizon_with_no_bar_after_the_entry_is_unresolvable():
    bars = bars_at([T0, T0 + HOUR], [100.0, 101.0])
    outcome = resolve_prediction(predict(horizon=Horizon.of_duration(MINUTE)), bars, T0 + HOUR)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.UNRESOLVABLE
    assert outcome.reason is UnresolvableReason.NO_BAR_IN_HORIZON
    assert outcome.detail == f"no bar between the entry at {T0} and the horizon end {T0 + MINUTE}"
    assert (outcome.ts_entry, outcome.entry_price) == (T0, 100.0)


def test_a_duration_prior_return_starts_one_duration_before_the_prediction():
    ts = [T0 + k * 10 * MINUTE for k in range(7)]
    bars = bars_at(ts, [100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0])
    prediction = predict(ts_event=T0 + 35 * MINUTE, horizon=Horizon.of_duration(20 * MINUTE))
    outcome = resolve_prediction(prediction, bars, T0 + 2 * HOUR)
    assert outcome is not None
    # Entry: the 30-minute bar (103); prior reference: the last bar at or before 15 min (101).
    assert outcome.prior_return == pytest.approx(math.log(103.0 / 101.0))
    assert outcome.exit_price == 105.0  # the last bar at or before 55 min


# -- session horizons ----------------------------------------------------------------------
NY_DAYS = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5), date(2024, 1, 8)]


def test_a_session_horizon_resolves_at_the_next_trading_days_close_in_new_york():
    bars = session_bars(NY, NY_DAYS, (9, 30), (16, 0))
    made = local_ns(NY, date(2024, 1, 2), 15, 55)
    prediction = predict(ts_event=made, horizon=Horizon.of_sessions(1))
    due = due_time_ns(prediction)
    assert due == local_ns(NY, date(2024, 1, 3), 0, 0)
    outcome = resolve_prediction(prediction, bars, local_ns(NY, date(2024, 1, 4), 10, 0))
    assert outcome is not None
    assert outcome.ts_entry == made
    assert outcome.ts_exit == local_ns(NY, date(2024, 1, 3), 16, 0)
    assert outcome.exit_price == bars.close[index_of(bars, outcome.ts_exit)]
    # The prior session: the entry against the last close of the day before (none here).
    assert outcome.prior_return is None


def test_a_session_horizon_skips_weekends_and_counts_k_sessions():
    bars = session_bars(NY, NY_DAYS, (9, 30), (16, 0))
    made = local_ns(NY, date(2024, 1, 4), 12, 0)  # Thursday noon
    prediction = predict(ts_event=made, horizon=Horizon.of_sessions(2))
    outcome = resolve_prediction(prediction, bars, local_ns(NY, date(2024, 1, 9), 0, 0) + HOUR)
    assert outcome is not None
    assert outcome.ts_exit == local_ns(NY, date(2024, 1, 8), 16, 0)  # Fri, then Mon
    wednesday_close = bars.close[index_of(bars, local_ns(NY, date(2024, 1, 3), 16, 0))]
    tuesday_close = bars.close[index_of(bars, local_ns(NY, date(2024, 1, 2), 16, 0))]
    entry = bars.close[index_of(bars, made)]
    assert outcome.prior_return == pytest.approx(math.log(entry / tuesday_close))
    assert wednesday_close != tuesday_close


def test_a_session_in_sydney_is_one_session_though_it_spans_two_utc_dates():
    # 10:00-16:00 in Sydney is 23:00-05:00 UTC in January: UTC dates would split it.
    days = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]
    bars = session_bars(SYDNEY, days, (10, 0), (16, 0))
    made = local_ns(SYDNEY, date(2024, 1, 2), 15, 55)
    prediction = predict(
        ts_event=made, horizon=Horizon.of_sessions(1), exchange_tz="Australia/Sydney"
    )
    outcome = resolve_prediction(prediction, bars, local_ns(SYDNEY, date(2024, 1, 5), 0, 0))
    assert outcome is not None
    assert outcome.ts_exit == local_ns(SYDNEY, date(2024, 1, 3), 16, 0)
    assert outcome.ts_exit == dt_to_ns(datetime(2024, 1, 3, 5, 0, tzinfo=ZoneInfo("UTC")))


def test_a_session_is_complete_by_a_later_bar_or_by_its_local_midnight_and_the_lag():
    bars = session_bars(NY, NY_DAYS[:2], (9, 30), (16, 0))  # Tuesday and Wednesday only
    prediction = predict(
        ts_event=local_ns(NY, date(2024, 1, 2), 15, 55), horizon=Horizon.of_sessions(1)
    )
    midnight = local_ns(NY, date(2024, 1, 4), 0, 0)
    assert resolve_prediction(prediction, bars, midnight - 1) is None
    assert resolve_prediction(prediction, bars, midnight + HOUR - 1) is None
    outcome = resolve_prediction(prediction, bars, midnight + HOUR)
    assert outcome is not None
    assert outcome.ts_exit == local_ns(NY, date(2024, 1, 3), 16, 0)
    shorter_lag = resolve_prediction(prediction, bars, midnight, data_lag_ns=0)
    assert shorter_lag == msgspec.structs.replace(outcome, ts_resolved=midnight)


def test_a_session_horizon_across_the_march_dst_change_in_new_york():
    days = [date(2024, 3, 8), date(2024, 3, 11)]  # the clocks moved on Sunday the 10th
    bars = session_bars(NY, days, (9, 30), (16, 0))
    prediction = predict(
        ts_event=local_ns(NY, date(2024, 3, 8), 16, 0), horizon=Horizon.of_sessions(1)
    )
    outcome = resolve_prediction(prediction, bars, local_ns(NY, date(2024, 3, 12), 2, 0))
    assert outcome is not None
    assert outcome.ts_exit == dt_to_ns(datetime(2024, 3, 11, 20, 0, tzinfo=ZoneInfo("UTC")))
    assert due_time_ns(prediction) == dt_to_ns(datetime(2024, 3, 9, 5, 0, tzinfo=ZoneInfo("UTC")))


@st.composite
def session_cases(draw: st.DrawFn) -> tuple[BarSeries, Prediction]:
    """Random trading dates (gaps are holidays), random bars in them, a random call."""
    gaps = draw(st.lists(st.integers(1, 4), min_size=2, max_size=8))
    day, days = date(2024, 3, 1), []
    for gap in gaps:
        day += timedelta(days=gap)
        days.append(day)
    ts: list[int] = []
    for day in days:
        minutes = draw(st.lists(st.integers(0, 23 * 60), min_size=1, max_size=5, unique=True))
        ts += sorted(local_ns(NY, day, m // 60, m % 60) for m in minutes)
    bars = bars_at(ts, 100.0 + np.arange(len(ts)))
    made = draw(st.integers(ts[0], ts[-1]))
    k = draw(st.integers(1, 3))
    return bars, predict(ts_event=made, horizon=Horizon.of_sessions(k))


@given(session_cases(), st.integers(0, 4 * NANOS_PER_DAY))
def test_nothing_resolves_before_the_due_time(case: tuple[BarSeries, Prediction], before: int):
    # The due time is a safe lower bound: without the due check, resolving at any
    # earlier time still finds nothing, so a store that waits for it misses nothing.
    bars, prediction = case
    now = due_time_ns(prediction) - 1 - before
    if now >= 0:
        resolution = _Resolution(prediction, bars, now, 0, 10 * NANOS_PER_DAY)
        assert resolution.run(0.0) is None


@given(session_cases(), st.integers(0, 30 * NANOS_PER_DAY))
def test_an_outcome_uses_no_bar_after_now(case: tuple[BarSeries, Prediction], later: int):
    bars, prediction = case
    now = int(bars.ts[0]) + later
    known = int(np.searchsorted(bars.ts, now, side="right"))
    assert resolve_prediction(prediction, bars, now) == resolve_prediction(
        prediction, bars.slice(0, known), now
    )
    outcome = resolve_prediction(prediction, bars, now)
    if outcome is not None and outcome.ts_exit is not None:
        assert prediction.ts_event < outcome.ts_exit <= now


# -- unresolvable --------------------------------------------------------------------------
def test_no_bar_at_or_before_the_prediction_is_unresolvable():
    bars = bars_at([T0 + MINUTE, T0 + 2 * MINUTE], [1.0, 2.0])
    outcome = resolve_prediction(predict(), bars, T0 + HOUR)
    assert outcome is not None
    assert outcome.reason is UnresolvableReason.NO_ENTRY_BAR
    assert (
        outcome.detail
        == f"no bar at or before the prediction time: the first bar is at {T0 + MINUTE}"
    )


def test_no_bars_at_all_stay_pending_until_the_gap_is_too_long():
    empty = bars_at([], [])
    assert resolve_prediction(predict(), empty, T0 + NANOS_PER_DAY) is None
    outcome = resolve_prediction(predict(), empty, T0 + 11 * NANOS_PER_DAY)
    assert outcome is not None
    assert outcome.reason is UnresolvableReason.NO_ENTRY_BAR


def test_an_entry_bar_older_than_the_longest_closure_is_stale():
    bars = bars_at([T0, T0 + 30 * NANOS_PER_DAY], [1.0, 2.0])
    outcome = resolve_prediction(
        predict(ts_event=T0 + 20 * NANOS_PER_DAY), bars, T0 + 40 * NANOS_PER_DAY
    )
    assert outcome is not None
    assert outcome.reason is UnresolvableReason.STALE_ENTRY
    assert "20.0 days older" in outcome.detail


def test_data_that_stops_before_the_horizon_is_unresolvable_after_the_longest_gap():
    bars = minute_bars([100.0, 101.0])
    prediction = predict(horizon=Horizon.of_bars(5))
    assert resolve_prediction(prediction, bars, T0 + 5 * NANOS_PER_DAY) is None
    outcome = resolve_prediction(prediction, bars, T0 + 12 * NANOS_PER_DAY)
    assert outcome is not None
    assert outcome.status is OutcomeStatus.UNRESOLVABLE
    assert outcome.reason is UnresolvableReason.DATA_ENDS
    assert outcome.detail.startswith("data ends before the horizon: no bar for 12.0 days")
    assert (outcome.ts_entry, outcome.entry_price, outcome.hit) == (T0, 100.0, None)


@pytest.mark.parametrize("closes", [[math.nan, 1.0, 2.0], [1.0, 2.0, 0.0]])
def test_a_bad_entry_or_exit_price_is_unresolvable(closes: list[float]):
    outcome = resolve_prediction(predict(), minute_bars(closes), T0 + HOUR)
    assert outcome is not None
    assert outcome.reason is UnresolvableReason.BAD_PRICE


def test_not_due_by_the_clock_is_pending_whatever_the_bars():
    bars = minute_bars([100.0] * 200)
    prediction = predict(horizon=Horizon.of_duration(HOUR))
    assert resolve_prediction(prediction, bars, T0 + HOUR - 1) is None
    assert resolve_prediction(prediction, bars, T0 + HOUR) is not None


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (
            {"bars": minute_bars([1.0, 2.0], "MSFT")},
            "bars: must be of the prediction's instrument 'AAPL', got 'MSFT'",
        ),
        (
            {"bars": bars_at([T0, T0], [1.0, 2.0])},
            "bars: ts must be strictly increasing, but bar 1 is not after bar 0",
        ),
        ({"now_ns": -1}, "now_ns: must be a non-negative integer"),
        ({"hold_band": -0.1}, "hold_band: must be a finite number >= 0"),
        ({"hold_band": math.nan}, "hold_band: must be a finite number >= 0"),
        ({"max_gap_ns": 0}, "max_gap_ns: must be a positive integer"),
        ({"data_lag_ns": 1.5}, "data_lag_ns: must be a non-negative integer"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], pattern: str):
    args: dict[str, Any] = {"bars": minute_bars([1.0, 2.0, 3.0]), "now_ns": T0 + HOUR}
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        resolve_prediction(predict(), **args)


def test_due_times_per_horizon_kind():
    assert due_time_ns(predict(horizon=Horizon.of_duration(HOUR))) == T0 + HOUR
    assert due_time_ns(predict(horizon=Horizon.of_bars(10))) == T0 + 1
    # 2024-01-01T00:00Z is Dec 31 19:00 in New York: 2 sessions are due from Jan 2 00:00 there.
    assert due_time_ns(predict(horizon=Horizon.of_sessions(2))) == local_ns(
        NY, date(2024, 1, 2), 0, 0
    )


# -- the report ----------------------------------------------------------------------------
def outcome_of(prediction: Prediction, realized: float, prior: float | None, hit: bool):
    return PredictionOutcome(
        prediction_id=prediction.prediction_id,
        status=OutcomeStatus.RESOLVED,
        ts_resolved=T0 + HOUR,
        ts_entry=T0,
        entry_price=100.0,
        ts_exit=T0 + 1,
        exit_price=100.0 * math.exp(realized),
        realized_return=realized,
        prior_return=prior,
        hit=hit,
    )


def test_a_small_report_computed_by_hand():
    calls = [
        # id, instrument, model version, direction, confidence, realized, prior
        ("a", "AAPL", 1, Direction.BUY, 0.9, 0.02, 0.01),
        ("b", "AAPL", 1, Direction.SELL, 0.6, 0.01, -0.03),
        ("c", "MSFT", 2, Direction.BUY, 0.55, -0.01, None),
        ("d", "MSFT", 2, Direction.SELL, 0.75, -0.04, 0.0),
    ]
    pairs: list[tuple[Prediction, PredictionOutcome | None]] = []
    for pid, iid, version, direction, confidence, realized, prior in calls:
        p = predict(
            prediction_id=pid,
            instrument_id=iid,
            model_version=version,
            direction=direction,
            confidence=confidence,
        )
        hit = realized > 0 if direction is Direction.BUY else realized < 0
        pairs.append((p, outcome_of(p, realized, prior, hit)))
    hold = predict(prediction_id="h", direction=Direction.HOLD, confidence=0.7)
    pairs.append((hold, outcome_of(hold, 0.0005, None, True)))
    lost = predict(prediction_id="u")
    pairs.append(
        (
            lost,
            PredictionOutcome(
                prediction_id="u",
                status=OutcomeStatus.UNRESOLVABLE,
                ts_resolved=T0,
                reason=UnresolvableReason.DATA_ENDS,
            ),
        )
    )
    pairs.append((predict(prediction_id="w"), None))

    report = evaluate_predictions(pairs, n_bins=4)

    assert (report.total, report.resolved, report.unresolvable, report.pending) == (7, 5, 1, 1)
    assert report.unresolvable_by_reason == {"data_ends": 1}
    assert report.calls == HitRate(count=4, hits=2, hit_rate=0.5)  # a and d right
    assert report.holds == HitRate(count=1, hits=1, hit_rate=1.0)
    # (0.9-1)^2 + (0.6-0)^2 + (0.55-0)^2 + (0.75-1)^2 = 0.01 + 0.36 + 0.3025 + 0.0625
    assert report.brier_score == pytest.approx(0.735 / 4)
    assert report.always_up == HitRate(count=4, hits=2, hit_rate=0.5)  # a and b went up
    # Prior known and non-zero for a (up, then up: right) and b (down, then up: wrong).
    assert report.last_direction == HitRate(count=2, hits=1, hit_rate=0.5)
    assert report.mean_directional_return == pytest.approx((0.02 - 0.01 - 0.01 + 0.04) / 4)
    assert report.calibration == (
        ConfidenceBin(lower=0.5, upper=0.75, count=2, hits=0, hit_rate=0.0, mean_confidence=0.575),
        ConfidenceBin(lower=0.75, upper=1.0, count=2, hits=2, hit_rate=1.0, mean_confidence=0.825),
    )
    assert [(b.lower, b.upper, b.count, b.hits) for b in report.by_confidence] == [
        (0.5, 0.6, 1, 0),
        (0.6, 0.7, 1, 0),
        (0.7, 0.8, 1, 1),
        (0.9, 1.0, 1, 1),
    ]
    assert report.by_instrument == (
        GroupScore(
            key="AAPL",
            count=2,
            hits=1,
            hit_rate=0.5,
            mean_confidence=pytest.approx(0.75),
            mean_directional_return=pytest.approx(0.005),
        ),
        GroupScore(
            key="MSFT",
            count=2,
            hits=1,
            hit_rate=0.5,
            mean_confidence=pytest.approx(0.65),
            mean_directional_return=pytest.approx(0.015),
        ),
    )
    assert [(m.model_name, m.model_version, m.count) for m in report.by_model] == [
        ("m", 1, 2),
        ("m", 2, 2),
    ]
    assert isinstance(report.by_model[0], ModelScore)
    # The evaluation service sends it as JSON.
    assert msgspec.json.decode(msgspec.json.encode(report), type=EvaluationReport) == report


def test_an_empty_report_has_no_rates():
    report = evaluate_predictions([])
    assert report.total == 0
    assert report.calls == HitRate(count=0, hits=0, hit_rate=None)
    assert report.brier_score is None
    assert report.mean_directional_return is None
    assert report.calibration == ()
    assert report.last_direction.hit_rate is None


def test_brier_score_and_calibration_curve_match_scikit_learn():
    rng = np.random.default_rng(7)
    n = 2_000
    confidence = rng.uniform(0.0, 1.0, n)
    hit = rng.uniform(0.0, 1.0, n) < confidence**1.5  # over-confident on purpose
    pairs = []
    for k in range(n):
        direction = Direction.BUY if k % 2 else Direction.SELL
        p = predict(prediction_id=f"p-{k}", direction=direction, confidence=float(confidence[k]))
        realized = (0.01 if hit[k] else -0.01) * (1 if direction is Direction.BUY else -1)
        pairs.append((p, outcome_of(p, realized, None, bool(hit[k]))))

    report = evaluate_predictions(pairs, n_bins=10)

    assert report.brier_score == pytest.approx(brier_score_loss(hit, confidence), abs=1e-12)
    prob_true, prob_pred = calibration_curve(hit, confidence, n_bins=10, strategy="uniform")
    assert [b.hit_rate for b in report.calibration] == pytest.approx(prob_true, abs=1e-12)
    assert [b.mean_confidence for b in report.calibration] == pytest.approx(prob_pred, abs=1e-12)
    assert sum(b.count for b in report.calibration) == n


@pytest.mark.parametrize(
    ("pairs", "kwargs", "pattern"),
    [
        (
            [(predict(), None), (predict(), None)],
            {},
            "pairs: prediction p-1 is given more than once",
        ),
        (
            [
                (
                    predict(),
                    PredictionOutcome(
                        prediction_id="p-2",
                        status=OutcomeStatus.UNRESOLVABLE,
                        ts_resolved=0,
                        reason=UnresolvableReason.DATA_ENDS,
                    ),
                )
            ],
            {},
            "pairs: prediction p-1 is paired with the outcome of p-2",
        ),
        ([], {"n_bins": 0}, "n_bins: must be a positive integer"),
        ([], {"confidence_edges": (0.0, 0.5)}, "confidence_edges: must increase from 0 to 1"),
        ([], {"confidence_edges": (0.0, 0.7, 0.6, 1.0)}, "confidence_edges: must increase"),
    ],
)
def test_bad_report_input_is_refused(pairs: list[Any], kwargs: dict[str, Any], pattern: str):
    with pytest.raises(ValueError, match=pattern):
        evaluate_predictions(pairs, **kwargs)
