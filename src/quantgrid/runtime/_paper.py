"""Paper trading in ``quantgrid up``: strategies on a replay of the market, resumable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, cast

import numpy as np
from pydantic import Field

from quantgrid.adapters.market_data import InMemorySource
from quantgrid.adapters.registry import (
    ModelNotFoundError,
    ModelRegistry,
    RegistryError,
    log_dataset_training,
)
from quantgrid.adapters.storage import Checkpoint, ConflictError, PredictionStore, Store
from quantgrid.core import Clock
from quantgrid.ml import ApprovalPolicy, Prediction
from quantgrid.model import Bar, BarSeries, OrderSide
from quantgrid.node import TradingNode
from quantgrid.paper import ReplayFeed, StrategyHost, latest_stored_moment
from quantgrid.services import ServiceSettings
from quantgrid.services.strategy import (
    ReplayProgress,
    ReplayState,
    StrategyConfig,
    StrategyConfigRepository,
    StrategySignal,
    StrategyStartError,
)
from quantgrid.strategy import MLStrategy, ModelPredictor, Strategy, StrategyError, load_strategy
from quantgrid.venues import VenueConfig

_log = logging.getLogger("quantgrid.runtime.paper")

#: The store checkpoint that says how far the replay got and what was running.
CHECKPOINT = "paper.replay"
#: The demo strategies' configuration ids (their orders' strategy ids).
DEMO_REGIME = "demo-regime"
DEMO_ML = "demo-ml"
#: The model the demo ML strategy trades, trained on the bars before the replay.
DEMO_MODEL = "demo-direction"
#: Who approves the demo model, in the registry's approval record.
DEMO_APPROVER = "quantgrid-demo"


class PaperSettings(ServiceSettings):
    """How ``quantgrid up`` paper-trades, besides the common settings.

    Attributes
    ----------
    paper_mode
        ``replay`` plays the synthetic market's bars into the strategies and the node
        (``QUANTGRID_PAPER_MODE``); ``off`` runs no strategy and feeds the node quotes
        (``MarketFeed``). Unset, the command decides: ``quantgrid up`` replays.
    paper_speed
        Times the data's own pace (``QUANTGRID_PAPER_SPEED``): 60 plays a minute bar
        a second.
    paper_start_bar
        The first bar traded (``QUANTGRID_PAPER_START_BAR``); the bars before it are
        the demo model's training data and the strategies' warm-up.
    paper_warmup_bars
        Bars before the first traded one (or the resume point) that warm a strategy's
        indicators up, nothing sent (``QUANTGRID_PAPER_WARMUP_BARS``).
    paper_demo
        On the first start, configure and run the demo strategies (``regime_switch``
        on every instrument, and ``ml`` on a model trained then) (``QUANTGRID_PAPER_DEMO``).
    """

    paper_mode: Literal["replay", "off"] | None = None
    paper_speed: float = Field(default=60.0, gt=0, le=1_000_000, allow_inf_nan=False)
    paper_start_bar: int = Field(default=5_000, ge=0)
    paper_warmup_bars: int = Field(default=500, ge=0, le=100_000)
    paper_demo: bool = True


class AsOfClock(InMemorySource):
    """The bars of ``source`` up to ``clock``: the market as the services see it.

    While a replay plays, the market-data and regime services and the evaluator read
    the market through this view: no price, bar, ticker or regime from a bar the
    replay has not played yet (the node's clock). ``bars()`` stays whole: the replay
    itself walks it.
    """

    def __init__(self, source: InMemorySource, clock: Clock) -> None:
        whole = {symbol: source.bars(symbol) for symbol in source.held}
        super().__init__(whole, name=source.name, half_spread=source.half_spread)
        self._clock = clock

    async def _series(self, symbol: str) -> BarSeries:
        series = await super()._series(symbol)
        played = int(series.ts.searchsorted(self._clock.timestamp_ns(), side="right"))
        # Before the first bar there is none to show; the first stands in for it.
        return series.slice(0, max(played, 1))


@dataclass(frozen=True, slots=True)
class Resume:
    """Where a replay starts.

    Attributes
    ----------
    after_ns
        Play the bars after this time (``None``: from the first).
    running
        A restart's running configurations; ``None`` on a first start.
    clock_ns
        The node clock's first time.
    """

    after_ns: int | None
    running: list[str] | None
    clock_ns: int


class PaperTrading:
    """Run strategies on the trading node against a replay of the market, at N times speed.

    Parameters
    ----------
    node
        The trading node, not started, on a ``TestClock`` at ``resume.clock_ns``:
        the replay moves it.
    source
        The market's bars (the synthetic market by default).
    settings
        Speed, start, warm-up, demo.
    configs
        The strategy service's configurations: what runs is one of them.
    registry
        Returns the model registry (the demo model, an ``ml`` configuration's model).
    resume
        Where it starts (``PaperTrading.plan``, read before the node was built).
    approval
        The deployment's approval floor, which the demo model must pass.

    Notes
    -----
    The node's venue becomes the backtest's bar venue (``StrategyHost``), so orders,
    from a strategy or from the API, fill at the next bar's open as in a backtest.
    After each moment's writes are durable the store's checkpoint ``paper.replay``
    records its time and the running configurations. A restart on the same store
    resumes there: the node recovers cash, positions and working orders; each running
    strategy is added again, warmed up on the bars before the checkpoint, with its
    stored order ids and recovered orders (``StrategyHost.add``); the replay goes on
    after the checkpoint. A process that died after a moment's orders were written
    but before its checkpoint resumes after that moment (the latest order its
    strategies stored): those orders may have reached the venue, so what was decided
    there is warmed over, not decided again under new ids. (Of a moment whose orders
    were split across two commits by the crash, the unwritten ones are lost, never
    sent: nothing reaches the venue before its record.)

    Strategies start and stop between two moments: ``start_strategy`` and
    ``stop_strategy`` (the strategy service's host port) wait for the replay's turn.
    """

    def __init__(
        self,
        node: TradingNode,
        source: InMemorySource,
        settings: PaperSettings,
        configs: StrategyConfigRepository,
        registry: Callable[[], ModelRegistry],
        *,
        resume: Resume,
        approval: ApprovalPolicy,
    ) -> None:
        self.node = node
        self.settings = settings
        self.configs = configs
        self._registry = registry
        self._approval = approval
        self._resume = resume
        self.data = [source.bars(i) for i in node.instruments]
        self.host = StrategyHost(node, VenueConfig())
        self.predictions = _PredictionWrites(node, self.host)
        self._running: dict[str, StrategyConfig] = {}
        self._turns: deque[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = deque()
        self._task: asyncio.Task[None] | None = None
        # Set when a turn is queued or a stop asked for: the replay's wait ends early.
        self._wake = asyncio.Event()
        self._stopping = False
        # Running configurations not in the host yet (the demo ML waiting for its model).
        self._pending: set[str] = set()
        self._demo: asyncio.Task[None] | None = None
        self._state: ReplayState = "starting"
        self._error: str | None = None
        self._played = 0
        self.last_ts: int | None = None
        self._total = int(np.unique(np.concatenate([s.ts for s in self.data])).size)

    # -- where to start ----------------------------------------------------------------
    @staticmethod
    def plan(store: Store, source: InMemorySource, ids: Sequence[str], start_bar: int) -> Resume:
        """Return where the replay starts: a restart's resume point, else ``start_bar``.

        Read once, before the node is built on ``Resume.clock_ns``.
        """
        checkpoint = store.get_checkpoint(CHECKPOINT)
        if checkpoint is None:
            first = source.bars(ids[0])
            after = _bar_before(first, start_bar)
            return Resume(after, None, int(first.ts[0]) if after is None else after)
        after, running = _resume_point(store, checkpoint)
        return Resume(after, running, after)

    def status(self) -> ReplayProgress:
        """Return where the replay is."""
        return ReplayProgress(
            self._state,
            self.last_ts,
            self._played,
            self._total,
            self.settings.paper_speed,
            self._error,
        )

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Add the running strategies (warmed up) and start the replay; the node runs."""
        settings, restart = self.settings, self._resume.running is not None
        resume_ts = self._resume.after_ns
        running = self._resume.running
        if running is None:
            running = await asyncio.to_thread(self._demo_configs) if settings.paper_demo else []
        self.last_ts = resume_ts
        self.host.open()
        warm = self._warm_up(resume_ts)
        for config_id in running:
            config = await asyncio.to_thread(self.configs.get, config_id)
            if config is None:
                _log.warning("strategy configuration %s is gone: not resumed", config_id)
                continue
            if config_id == DEMO_ML and not await asyncio.to_thread(self._demo_model_ready):
                # Trained first, in the background: the platform serves meanwhile, and
                # the strategy joins the replay at the moment its model is approved.
                self._pending.add(config_id)
                self._demo = asyncio.create_task(self._start_demo_ml(config), name="demo-ml")
                continue
            try:
                await self._add(config, warm, restore_state=restart)
            except Exception as error:  # one bad configuration must not stop the rest
                _log.error("strategy %s not resumed: %s", config_id, error)
        _log.info(
            "paper trading from %s at %gx: %s",
            "the checkpoint" if restart else "the start",
            settings.paper_speed,
            ", ".join(self._running) or "no strategy",
        )
        self._state = "playing"
        self._task = asyncio.create_task(self._play(resume_ts), name="quantgrid-paper-replay")

    async def stop(self) -> None:
        """Stop the replay after its current moment; the strategies stay configured.

        The moment being played is finished (its orders sent, its writes and its
        checkpoint made), then the replay ends; turns still waiting are refused.
        """
        demo, self._demo = self._demo, None
        if demo is not None:
            demo.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await demo
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            await task
        self._refuse_turns("the platform is stopping")
        await self.host.flush()

    # -- the strategy service's host port --------------------------------------------
    async def start_strategy(self, config: StrategyConfig) -> bool:
        """Run ``config``'s strategy from the next moment; ``False`` if it already runs.

        Raises
        ------
        StrategyStartError
            If it cannot run (an ``ml`` model not in production, a failing warm-up).
        """

        async def add() -> bool:
            if config.config_id in self._running:
                return False
            if self._state != "playing":
                why = self._error or "no bar is left to play"
                msg = (
                    f"strategy {config.config_id} not started: the market replay has "
                    f"{self._state} ({why}); restart the platform on new data"
                )
                raise StrategyStartError(msg)
            try:
                await self._add(config)
            except (ValueError, LookupError, StrategyError, RegistryError) as error:
                msg = f"strategy {config.config_id} ({config.strategy}) not started: {error}"
                raise StrategyStartError(msg) from error
            # Before the next moment: its orders must find the strategy named at a restart.
            await self._save_checkpoint()
            return True

        started: bool = await self._in_turn(add)
        return started

    async def stop_strategy(self, config_id: str) -> bool:
        """Stop ``config_id``'s strategy and cancel its working orders; ``False`` if idle."""

        async def remove() -> bool:
            if config_id not in self._running:
                return False
            await self.host.remove(config_id)
            del self._running[config_id]
            await self._save_checkpoint()
            return True

        stopped: bool = await self._in_turn(remove)
        return stopped

    async def running_strategies(self) -> frozenset[str]:
        """Return the ids of the configurations whose strategies run."""
        return frozenset(self._running)

    async def recent_signals(self, config_id: str, limit: int) -> list[StrategySignal]:
        """Return the latest ``limit`` orders ``config_id``'s strategy decided, newest first.

        Those the node holds: since this process started, and the ones it recovered
        still working (earlier ones are in the execution service's order listing).
        """
        mine = [o for o in self.node.execution.orders if o.strategy_id == config_id]
        return [
            StrategySignal(
                config_id=config_id,
                instrument_id=o.instrument_id,
                side="BUY" if o.side is OrderSide.BUY else "SELL",
                order_type=o.order_type.value,
                quantity=o.quantity,
                price=o.price if o.price is not None else o.trigger_price,
                ts_event=o.ts_init,
                reason=o.tag or "",
            )
            for o in reversed(mine[-limit:])
        ]

    # -- inside ------------------------------------------------------------------------

    def _warm_up(self, until_ts: int | None) -> list[tuple[Bar, ...]]:
        """Return the ``paper_warmup_bars`` moments up to ``until_ts``, oldest first."""
        keep = self.settings.paper_warmup_bars
        if until_ts is None or keep == 0:
            return []
        cut: list[BarSeries] = []
        for series in self.data:
            end = int(series.ts.searchsorted(until_ts, side="right"))
            if end > 0:
                cut.append(series.slice(max(0, end - keep), end))
        if not cut:
            return []
        return list(ReplayFeed(cut).moments())[-keep:]

    async def _add(
        self,
        config: StrategyConfig,
        warm: list[tuple[Bar, ...]] | None = None,
        *,
        restore_state: bool = False,
    ) -> None:
        """Build and add ``config``'s strategy, warmed up to the last moment played.

        ``restore_state``: a restart, which hands it the state it stored back.
        """
        strategy = await asyncio.to_thread(self._build, config)
        if warm is None:
            warm = self._warm_up(self.last_ts)
        await self.host.add(
            strategy, instruments=config.instruments, warm_up=warm, restore_state=restore_state
        )
        self._running[config.config_id] = config
        _log.info("strategy %s (%s) runs", config.config_id, config.strategy)

    def _build(self, config: StrategyConfig) -> Strategy:
        if config.strategy != MLStrategy.name:
            cls = load_strategy(config.strategy)
            return cls(config.params, strategy_id=config.config_id)
        # An ML strategy needs its model: the registry's production version.
        name = str(config.params.get("model_name", ""))
        registry = self._registry()
        version = registry.production_version(name)
        if version is None:
            msg = f"model {name!r} has no version in production: approve one first"
            raise ValueError(msg)
        _, model = registry.load_version(name, version)
        predictor = ModelPredictor(model, name, version)
        return MLStrategy(
            config.params,
            strategy_id=config.config_id,
            predictor=predictor,
            sink=self.predictions,
        )

    async def _in_turn(self, action: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``action`` between two moments (at once if the replay does not play).

        Raises
        ------
        StrategyStartError
            If the platform is stopping.
        """
        if self._stopping:
            raise StrategyStartError("not done: the platform is stopping")
        if self._task is None or self._task.done():
            return await action()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._turns.append((action, future))
        self._wake.set()
        return await future

    async def _take_turns(self) -> None:
        while self._turns:
            action, future = self._turns.popleft()
            if future.done():  # its caller gave up waiting
                continue
            try:
                result = await action()
            except Exception as error:
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(result)

    def _refuse_turns(self, why: str) -> None:
        while self._turns:
            _, future = self._turns.popleft()
            if not future.done():
                future.set_exception(StrategyStartError(f"not done: {why}"))

    async def _pace(self, due: float) -> bool:
        """Wait until ``due`` (monotonic), taking turns as they come; ``False`` to stop."""
        while not self._stopping:
            await self._take_turns()
            wait_s = due - time.monotonic()
            if wait_s <= 0:
                return True
            self._wake.clear()
            if self._turns or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait_s)
        return False

    async def _play(self, after_ts: int | None) -> None:
        feed = ReplayFeed(self.data, start_after_ns=after_ts)
        host, speed = self.host, self.settings.paper_speed
        first: int | None = None
        started = time.monotonic()
        try:
            for bars in feed.moments():
                ts = bars[0].ts_event
                if first is None:
                    first = ts
                # Paced on the monotonic clock from the first moment: a slow moment is
                # caught up, not added to every wait after it.
                due = started + (ts - first) / 1e9 / speed
                if not await self._pace(due):
                    return  # stopped between two moments
                host.on_bars(bars)
                await host.flush()
                self.last_ts = ts
                self._played += 1
                await self._save_checkpoint()
            self._state = "finished"
            _log.info("the replay reached its last bar after %d moments", self._played)
            await self._take_turns()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._state = "failed"
            self._error = f"{type(error).__name__}: {error}"
            _log.exception("paper trading stopped")
            # The host may be mid-moment: strategies waiting to start or stop cannot.
            self._refuse_turns(f"the market replay stopped: {self._error}")
            risk = self.node.risk
            with contextlib.suppress(Exception):
                risk.halt(f"paper trading stopped: {self._error}")

    async def _save_checkpoint(self) -> None:
        if self.last_ts is None:
            return
        value = {"last_ts": self.last_ts, "running": sorted(self._running.keys() | self._pending)}
        ts = self.last_ts
        await self.node.writer.submit(partial(_save_checkpoint, value, ts))

    def _demo_configs(self) -> list[str]:
        """Configure the demo strategies (once per store); return their ids."""
        ids = tuple(self.node.instruments)
        now = time.time_ns()
        demo = [
            (DEMO_REGIME, "regime_switch", {}, "Demo: trade by regime"),
            (DEMO_ML, "ml", {"model_name": DEMO_MODEL}, "Demo: direction model"),
        ]
        made = []
        for config_id, name, params, label in demo:
            if self.configs.get(config_id) is None:
                cls = MLStrategy if name == MLStrategy.name else load_strategy(name)
                full = cls.parse_params(params).model_dump(mode="json")
                config = StrategyConfig(config_id, name, full, ids, label, now, DEMO_APPROVER)
                self.configs.add(config)
            made.append(config_id)
        return made

    async def _start_demo_ml(self, config: StrategyConfig) -> None:
        async def add() -> None:
            self._pending.discard(config.config_id)
            await self._add(config)
            await self._save_checkpoint()

        try:
            await asyncio.to_thread(self._demo_model)
            await self._in_turn(add)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._pending.discard(config.config_id)
            _log.warning("the demo ML strategy does not run: %s", error)

    def _demo_model_ready(self) -> bool:
        try:
            return self._registry().production_version(DEMO_MODEL) is not None
        except ModelNotFoundError:
            return False

    def _demo_model(self) -> None:
        """Train the demo model on the bars before the replay; approve it to production."""
        if self._demo_model_ready():
            return
        registry = self._registry()
        from quantgrid.ml import ModelSpec, PurgedKFold  # noqa: PLC0415
        from quantgrid.ml._pipeline import train_on_bars  # noqa: PLC0415
        from quantgrid.ml._validation import HOLDOUT_EMBARGO  # noqa: PLC0415

        start = max(self.settings.paper_start_bar, 1)
        past = {s.instrument_id: s.slice(0, start) for s in self.data}
        result, dataset = train_on_bars(
            past,
            spec=ModelSpec("lightgbm", seed=0),
            cv=PurgedKFold(n_splits=5, embargo=HOLDOUT_EMBARGO),
            drop_flat=True,
        )
        info = log_dataset_training(
            registry,
            DEMO_MODEL,
            result,
            dataset,
            params={"data.source": f"the replay's bars before bar {start}"},
            tags={"quantgrid.source": "paper demo"},
        )
        for stage in ("staging", "production"):
            registry.approve(
                DEMO_MODEL,
                info.version,
                to_stage=stage,
                approver=DEMO_APPROVER,
                policy=self._approval,
            )
        _log.info("demo model %s version %d trained and approved", DEMO_MODEL, info.version)


def _bar_before(series: BarSeries, start_bar: int) -> int | None:
    """Return the time of the bar before ``start_bar`` (``None`` from the first bar)."""
    if start_bar <= 0:
        return None
    return int(series.ts[min(start_bar, len(series)) - 1])


def _resume_point(store: Store, checkpoint: Checkpoint) -> tuple[int, list[str]]:
    """Return where a restart resumes (a moment's time) and the strategies running there.

    The checkpoint's moment, or a later one whose orders or state the strategies
    stored before the process stopped (it died between those writes and the moment's
    checkpoint): what was decided there may have reached the venue, so that moment is
    taken as played and warmed over, not decided again under new ids.
    """
    resume_ts = int(checkpoint.value["last_ts"])
    running = [str(c) for c in checkpoint.value.get("running", [])]
    stored = latest_stored_moment(store, running)
    return (resume_ts if stored is None else max(resume_ts, stored)), running


class _PredictionWrites:
    """Keep the predictions made on played bars, through the node's store writer.

    Not those of a warm-up: a first start warms up on the demo model's own training
    bars, where calls are in-sample and would flatter its scores. Each prediction is
    queued on the writer (off the event loop, committed with the moment's other
    writes, so durable before the moment's checkpoint). A prediction whose id is
    stored already, with other figures, is one made again on a moment replayed after
    a restart: its features, warmed up on fewer bars, differ in the last digits. The
    first one stays the prediction of record; that is logged, not raised, so it
    cannot stop the replay.
    """

    def __init__(self, node: TradingNode, host: StrategyHost) -> None:
        self._node = node
        self._host = host
        self.kept = 0

    def record(self, prediction: Prediction) -> None:
        if self._host.warming:
            return
        self._node.writer.post(partial(_save_prediction, prediction), self._written)

    def _written(self, ok: bool, value: Any) -> None:
        if ok:
            self.kept += int(value)
        else:
            _log.error("a prediction was not stored: %s: %s", type(value).__name__, value)


def _save_prediction(prediction: Prediction, store: Store) -> int:
    # The node's store: a SQL or in-memory store, which keeps predictions too.
    try:
        return cast("PredictionStore", store).save_predictions([prediction])
    except ConflictError:
        _log.info("prediction %s was stored before: the first is kept", prediction.prediction_id)
        return 0


def _save_checkpoint(value: dict[str, Any], ts: int, store: Store) -> None:
    store.save_checkpoint(CHECKPOINT, value, ts)
