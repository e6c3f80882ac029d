"""The backtest service's settings, read from ``QUANTGRID_BACKTEST_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from quantgrid.services import ServiceSettings


class BacktestSettings(ServiceSettings):
    """What the backtest service reads from its environment, besides the common settings.

    Attributes
    ----------
    backtest_data_dir
        The only folder data files may be read from (``QUANTGRID_BACKTEST_DATA_DIR``);
        requests name files relative to it. ``None``: only the synthetic market.
    backtest_results_dir
        Where each job's results go, one folder per job id.
    backtest_workers
        Jobs run at once, each in a worker process of its own.
    backtest_max_pending
        Jobs queued or running at most; more get 503 with ``Retry-After``.
    backtest_max_bars
        Bars a synthetic market may have, over all its instruments.
    backtest_progress_interval_s
        Least time between two progress writes of a job to the store.
    backtest_chunk_bars
        Bars the engine runs between two progress reports (and cancellation checks).
    """

    backtest_data_dir: Path | None = None
    backtest_results_dir: Path = Path("results/backtests")
    backtest_workers: int = Field(default=1, ge=1, le=64)
    backtest_max_pending: int = Field(default=100, ge=1, le=100_000)
    backtest_max_bars: int = Field(default=2_000_000, ge=1_000, le=100_000_000)
    backtest_progress_interval_s: float = Field(default=0.5, ge=0, le=60)
    backtest_chunk_bars: int = Field(default=16_384, ge=256, le=1_048_576)
