"""A prediction sink that keeps a strategy's predictions in the store."""

from __future__ import annotations

from quantgrid.adapters.storage._prediction_port import PredictionStore
from quantgrid.ml import Prediction


class StorePredictionSink:
    """Keep each prediction a strategy logs (``quantgrid.strategy.PredictionSink``).

    Parameters
    ----------
    store
        Where predictions are kept; idempotent by id, so the replay of bars already
        seen (a restart, a second backtest of the same model) stores nothing twice.
    batch
        Predictions held before they are written together; 1 writes each at once. Call
        ``flush`` at the end of a run for the rest.

    Notes
    -----
    ``record`` is called on the strategy's thread and writes synchronously: in a
    backtest the store's speed bounds the run's; give a larger ``batch`` there.
    """

    def __init__(self, store: PredictionStore, *, batch: int = 1) -> None:
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch}")
        self._store = store
        self._batch = batch
        self._pending: list[Prediction] = []
        self.stored = 0

    def record(self, prediction: Prediction) -> None:
        """Keep ``prediction`` (written once ``batch`` of them are waiting)."""
        self._pending.append(prediction)
        if len(self._pending) >= self._batch:
            self.flush()

    def flush(self) -> int:
        """Write the predictions waiting; return how many of them were new."""
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        new = self._store.save_predictions(pending)
        self.stored += new
        return new
