"""Walk-forward analysis: optimise on each in-sample window, trade the next one.

Warm-up and lookahead
---------------------
The out-of-sample (OOS) run of a window replays the chosen parameters over the
in-sample bars *and* the test bars in one backtest, then counts only the test part:
the equity from the last in-sample bar (the anchor) to the end of the test window,
the trades closed in the test window and the commissions paid in it. So indicators
are warm when the test window opens, and the position the strategy holds then is the
one it would hold had it been trading those parameters all along. Nothing after the
test window is read: each decision uses bars up to its own time, and the test window's
open position is closed at its last close (``BacktestConfig.close_at_end``).

Independent windows
-------------------
Each window's work (search the in-sample bars, run the chosen parameters over train +
test, keep the test part) is a pure function of the bars, the window's bounds and the
settings, so the windows can run in any order or place: ``walk_forward`` hands them to
``map_windows`` (one after another here by default; ``quantgrid.distributed.ray_map``
runs them as Ray tasks) and stitches the results in window order.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from quantgrid.analytics import Statistics, compute_statistics
from quantgrid.analytics._returns import infer_periods_per_year
from quantgrid.backtest import BacktestConfig, run_backtest
from quantgrid.core import ns_to_iso
from quantgrid.model import BarSeries, ClosedTrade, FloatArray, IntArray
from quantgrid.optimize._objective import check_objective, objective_value
from quantgrid.optimize._search import SpaceValue, grid_search, optuna_search
from quantgrid.strategy import Strategy, load_strategy

_T = TypeVar("_T")
_R = TypeVar("_R")


class WindowMap(Protocol):
    """Map ``func(shared, item)`` over ``items``, returning the results in item order.

    ``quantgrid.distributed.ray_map`` fits (with its other options bound, e.g. by
    ``functools.partial``); the default runs the windows one after another here.
    """

    def __call__(
        self, func: Callable[[BarSeries, _T], _R], items: Sequence[_T], /, *, shared: BarSeries
    ) -> list[_R]: ...


def _map_in_order(
    func: Callable[[BarSeries, _T], _R], items: Sequence[_T], /, *, shared: BarSeries
) -> list[_R]:
    return [func(shared, item) for item in items]


@dataclass(frozen=True, slots=True)
class WalkForwardWindow:
    """One in-sample/out-of-sample pair.

    Attributes
    ----------
    index
        Position of the window, 0 first.
    train_start, train_stop, test_start, test_stop
        Bar indices, stops exclusive; ``train_stop == test_start``.
    params
        The best feasible parameters of the in-sample search (fixed ones included), or
        ``None`` when no combination was feasible: the window then stays in cash.
    in_sample
        The objective of those parameters on the in-sample bars.
    out_of_sample
        The objective of the same parameters on the test bars (see the module notes).
    stats
        Statistics of the test window alone, from the anchor bar's equity.
    """

    index: int
    train_start: int
    train_stop: int
    test_start: int
    test_stop: int
    params: dict[str, Any] | None
    in_sample: float
    out_of_sample: float
    stats: Statistics

    def to_dict(self, ts: IntArray) -> dict[str, Any]:
        """Return the window as a JSON-ready dict; ``ts`` are the data's timestamps."""
        return {
            "index": self.index,
            "train_start": ns_to_iso(int(ts[self.train_start])),
            "train_bars": self.train_stop - self.train_start,
            "test_start": ns_to_iso(int(ts[self.test_start])),
            "test_end": ns_to_iso(int(ts[self.test_stop - 1])),
            "test_bars": self.test_stop - self.test_start,
            "params": self.params,
            "in_sample": _finite(self.in_sample),
            "out_of_sample": _finite(self.out_of_sample),
            "return_pct": _finite(self.stats.return_pct),
            "n_trades": self.stats.n_trades,
        }


@dataclass(frozen=True, slots=True, eq=False)
class WalkForwardResult:
    """The windows of a walk-forward analysis and the stitched out-of-sample curve.

    Attributes
    ----------
    windows
        In time order; their test windows tile the bars from ``train_bars`` to the end.
    ts, equity
        The stitched OOS curve: row 0 is the first window's anchor bar at the initial
        cash, then every test bar, equity chained from the windows' returns.
    stats
        Statistics of the stitched curve with the OOS trades.
    trades
        The trades closed in the test windows.
    in_sample_mean, out_of_sample_mean
        Means of the windows' finite objectives.
    degradation
        ``out_of_sample_mean - in_sample_mean`` (negative: worse out of sample).
    efficiency
        Mean of ``out_of_sample / in_sample`` over windows where both are finite and
        the in-sample value is positive (NaN if none): 1 means no decay, 0 none kept.
    """

    strategy: str
    objective: str
    method: str
    anchored: bool
    train_bars: int
    test_bars: int
    windows: tuple[WalkForwardWindow, ...]
    ts: IntArray = field(repr=False)
    equity: FloatArray = field(repr=False)
    stats: Statistics
    trades: tuple[ClosedTrade, ...] = field(repr=False)
    in_sample_mean: float
    out_of_sample_mean: float
    degradation: float
    efficiency: float
    data_ts: IntArray = field(repr=False)
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict (``None`` for NaN)."""
        return {
            "strategy": self.strategy,
            "objective": self.objective,
            "method": self.method,
            "anchored": self.anchored,
            "train_bars": self.train_bars,
            "test_bars": self.test_bars,
            "in_sample_mean": _finite(self.in_sample_mean),
            "out_of_sample_mean": _finite(self.out_of_sample_mean),
            "degradation": _finite(self.degradation),
            "efficiency": _finite(self.efficiency),
            "out_of_sample": self.stats.to_dict(),
            "windows": [w.to_dict(self.data_ts) for w in self.windows],
            "seconds": self.seconds,
        }


def walk_forward(
    strategy: type[Strategy] | str,
    data: BarSeries,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    space: Mapping[str, SpaceValue] | None = None,
    train_bars: int,
    test_bars: int,
    anchored: bool = False,
    objective: str = "sharpe",
    min_trades: int = 0,
    fixed: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    n_trials: int = 50,
    seed: int = 0,
    map_windows: WindowMap | None = None,
) -> WalkForwardResult:
    """Optimise on rolling or anchored in-sample windows and trade each next window.

    Parameters
    ----------
    strategy
        A strategy class or a name ``load_strategy`` knows.
    data
        One instrument's bars.
    grid, space
        Exactly one: a grid for :func:`grid_search`, or a space for
        :func:`optuna_search` (with ``n_trials`` and ``seed``).
    train_bars
        In-sample length. Rolling windows keep it; anchored ones start at bar 0 and grow.
    test_bars
        Out-of-sample length; the test windows follow each other without overlap, the
        last one shorter if the bars run out.
    anchored
        Train from the first bar every time instead of a rolling window.
    objective, min_trades, fixed, config
        As in :func:`grid_search`. ``periods_per_year`` is fixed for every run (the
        config's, else inferred from all the data), so short windows annualise alike.
    map_windows
        Runs the windows: called once as ``map_windows(func, items, shared=data)`` and
        must return ``[func(data, item) for item in items]`` in order (see
        :class:`WindowMap`). Default: one after another in this process. Pass
        ``functools.partial(quantgrid.distributed.ray_map, batch=1)`` to run each window
        as a Ray task; ``func`` is a module-level function, so it pickles by reference.

    Returns
    -------
    WalkForwardResult

    Raises
    ------
    ValueError
        On bad window lengths (``train_bars + test_bars`` longer than the data), both or
        neither of ``grid`` and ``space``, or the errors of the searches.

    Notes
    -----
    Every window is computed from the bars, its bounds and the settings alone, so the
    result does not depend on ``map_windows``: the same windows, parameters, curve and
    statistics (``seconds`` and ``stats.engine_seconds`` aside).
    """
    started = time.perf_counter()
    check_objective(objective)
    if (grid is None) == (space is None):
        raise ValueError("give exactly one of grid (grid search) and space (Optuna search)")
    if not isinstance(data, BarSeries):
        raise ValueError("walk_forward takes one instrument's BarSeries")
    n = len(data)
    for name, value, least in (("train_bars", train_bars, 2), ("test_bars", test_bars, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            msg = f"{name} must be a whole number >= {least}, got {value!r}"
            raise ValueError(msg)
    if train_bars + test_bars > n:
        msg = (
            f"train_bars + test_bars ({train_bars:,} + {test_bars:,}) is longer than the "
            f"data ({n:,} bars)"
        )
        raise ValueError(msg)
    strategy_cls = load_strategy(strategy) if isinstance(strategy, str) else strategy
    base = config or BacktestConfig()
    periods = base.periods_per_year or infer_periods_per_year(data.ts)
    run_config = dataclasses.replace(base, periods_per_year=periods)
    settings = _Settings(
        # Mapped elsewhere, a name goes as it is (the worker loads it: a class from a file
        # would not unpickle there); here, the class loaded once.
        strategy=strategy if isinstance(strategy, str) and map_windows else strategy_cls,
        grid=dict(grid) if grid is not None else None,
        space=dict(space) if space is not None else None,
        objective=objective,
        min_trades=min_trades,
        fixed=dict(fixed or {}),
        config=run_config,
        n_trials=n_trials,
        seed=seed,
    )
    specs = [
        _WindowSpec(
            index=index,
            train_start=0 if anchored else test_start - train_bars,
            test_start=test_start,
            test_stop=min(test_start + test_bars, n),
        )
        for index, test_start in enumerate(range(train_bars, n, test_bars))
    ]
    runs = (map_windows or _map_in_order)(_run_window, [(s, settings) for s in specs], shared=data)

    windows = [run.window for run in runs]
    returns = [run.segment.returns for run in runs]
    # Row 0 of the stitched curve is the first anchor: its exposure, then the test bars'.
    exposure = [runs[0].segment.gross[:1], *(run.segment.gross[1:] for run in runs)]
    trades = [t for run in runs for t in run.segment.trades]
    commissions = sum((run.segment.commissions for run in runs), 0.0)
    first_anchor = train_bars - 1
    r = np.concatenate(returns)
    equity = base.initial_cash * np.concatenate([[1.0], np.cumprod(1.0 + r)])
    ts = data.ts[first_anchor:].copy()
    stats = compute_statistics(
        ts,
        equity,
        np.concatenate(exposure),
        trades,
        closes={data.instrument_id: data.close[first_anchor:]},
        commissions=commissions,
        engine_seconds=time.perf_counter() - started,
        periods_per_year=periods,
        risk_free_rate=base.risk_free_rate,
    )
    is_values = np.array([w.in_sample for w in windows])
    oos_values = np.array([w.out_of_sample for w in windows])
    is_mean = _mean_finite(is_values)
    oos_mean = _mean_finite(oos_values)
    usable = np.isfinite(is_values) & np.isfinite(oos_values) & (is_values > 0)
    efficiency = (
        float(np.mean(oos_values[usable] / is_values[usable])) if usable.any() else math.nan
    )
    return WalkForwardResult(
        strategy=strategy_cls.name,
        objective=objective,
        method="grid" if grid is not None else "optuna",
        anchored=anchored,
        train_bars=train_bars,
        test_bars=test_bars,
        windows=tuple(windows),
        ts=ts,
        equity=equity,
        stats=stats,
        trades=tuple(trades),
        in_sample_mean=is_mean,
        out_of_sample_mean=oos_mean,
        degradation=oos_mean - is_mean,
        efficiency=efficiency,
        data_ts=data.ts,
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True, slots=True)
class _Settings:
    """What every window shares besides the bars."""

    strategy: type[Strategy] | str
    grid: dict[str, Sequence[Any]] | None
    space: dict[str, SpaceValue] | None
    objective: str
    min_trades: int
    fixed: dict[str, Any]
    config: BacktestConfig  # with ``periods_per_year`` fixed
    n_trials: int
    seed: int


@dataclass(frozen=True, slots=True)
class _WindowSpec:
    """A window's bar indices, stops exclusive; it trains on ``train_start:test_start``."""

    index: int
    train_start: int
    test_start: int
    test_stop: int


@dataclass(frozen=True, slots=True)
class _WindowRun:
    window: WalkForwardWindow
    segment: _Segment


def _run_window(data: BarSeries, job: tuple[_WindowSpec, _Settings]) -> _WindowRun:
    """Search one window's in-sample bars and run the best parameters out of sample.

    A pure function of the bars, the window and the settings: one task of ``map_windows``.
    """
    spec, settings = job
    strategy = (
        load_strategy(settings.strategy)
        if isinstance(settings.strategy, str)
        else settings.strategy
    )
    train = data.slice(spec.train_start, spec.test_start)
    if settings.grid is not None:
        found = grid_search(
            strategy,
            train,
            settings.grid,
            settings.fixed,
            settings.config,
            settings.objective,
            settings.min_trades,
        )
    else:
        assert settings.space is not None
        found = optuna_search(
            strategy,
            train,
            settings.space,
            settings.n_trials,
            settings.seed,
            settings.objective,
            settings.min_trades,
            settings.fixed,
            settings.config,
        )
    params = found.best_params
    segment = _out_of_sample(
        strategy, data, params, settings.config, spec.train_start, spec.test_start, spec.test_stop
    )
    window = WalkForwardWindow(
        index=spec.index,
        train_start=spec.train_start,
        train_stop=spec.test_start,
        test_start=spec.test_start,
        test_stop=spec.test_stop,
        params=params,
        in_sample=found.best.value if found.best is not None else math.nan,
        out_of_sample=objective_value(segment.stats, settings.objective),
        stats=segment.stats,
    )
    return _WindowRun(window, segment)


@dataclass(frozen=True, slots=True)
class _Segment:
    returns: FloatArray
    gross: FloatArray
    trades: tuple[ClosedTrade, ...]
    commissions: float
    stats: Statistics


def _out_of_sample(
    strategy: type[Strategy],
    data: BarSeries,
    params: dict[str, Any] | None,
    config: BacktestConfig,
    train_start: int,
    test_start: int,
    test_stop: int,
) -> _Segment:
    """Run ``params`` over train + test bars and keep the test part (module notes)."""
    anchor = test_start - 1
    ts = data.ts[anchor:test_stop]
    closes = {data.instrument_id: data.close[anchor:test_stop]}
    if params is None:
        # No feasible parameters: stay in cash for the window.
        flat = np.full(len(ts), config.initial_cash)
        stats = _stats(ts, flat, np.zeros(len(ts)), (), closes, 0.0, config)
        return _Segment(np.zeros(len(ts) - 1), np.zeros(len(ts)), (), 0.0, stats)
    run = run_backtest(strategy, data.slice(train_start, test_stop), params, config)
    k = anchor - train_start  # the anchor's row: one row per bar for one instrument
    equity = run.equity[k:]
    gross = run.gross_exposure[k:]
    test_ts = int(data.ts[test_start])
    trades = tuple(t for t in run.trades if t.exit_ts >= test_ts)
    commissions = sum(f.commission for f in run.fills if f.ts_event >= test_ts)
    returns = equity[1:] / equity[:-1] - 1.0
    scaled = config.initial_cash * equity / equity[0]
    stats = _stats(ts, scaled, gross, trades, closes, commissions, config)
    return _Segment(returns, gross, trades, commissions, stats)


def _stats(
    ts: IntArray,
    equity: FloatArray,
    gross: FloatArray,
    trades: Sequence[ClosedTrade],
    closes: Mapping[str, FloatArray],
    commissions: float,
    config: BacktestConfig,
) -> Statistics:
    return compute_statistics(
        ts,
        equity,
        gross,
        trades,
        closes=closes,
        commissions=commissions,
        engine_seconds=0.0,
        periods_per_year=config.periods_per_year,
        risk_free_rate=config.risk_free_rate,
    )


def _mean_finite(values: FloatArray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else math.nan


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
