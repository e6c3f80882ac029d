"""The in-process model server: production versions from a registry, hot reloaded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from quantgrid.adapters.registry import ModelNotFoundError, ModelRegistry
from quantgrid.services.ml._errors import ModelNotServedError
from quantgrid.services.ml._served import (
    MODEL_NAME_PATTERN,
    LoadedModel,
    ServedBatch,
    ServedModelStatus,
    ServedPrediction,
)

_NAME = re.compile(MODEL_NAME_PATTERN)
_ERROR_CHARS = 500


@dataclass(slots=True)
class _Slot:
    """What the server knows of one model; changed only on the event loop."""

    name: str
    loaded: LoadedModel | None = None
    production_version: int | None = None
    reloads: int = 0
    reload_failures: int = 0
    error: str | None = None
    error_at_ns: int | None = None
    failed_version: int | None = None
    logged: tuple[int | None, str] | None = None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:_ERROR_CHARS]


class ModelServer:
    """Serve the production version of registered models in process, reloading on promotion.

    Parameters
    ----------
    registry
        Where the models and their stages are (`MlflowRegistry`, `InMemoryModelRegistry`).
    models
        The models to serve; ``None`` serves every registered model that has a version
        in production, found anew at each poll.
    reload_interval_s
        Seconds between two polls of the registry for new production versions; ``None``
        never polls (only `reload_now` and `refresh` reload).
    clock
        Returns the time in UTC ns: prediction and load times.
    logger
        Where loads and failures are logged.

    Raises
    ------
    ValueError
        If a model name is invalid or repeated, ``models`` is a bare string, or the
        interval is not a positive number of seconds.

    Notes
    -----
    Registry calls are synchronous, so they run in worker threads. A new version is
    loaded and checked completely before one reference assignment swaps it in: a
    prediction already running finishes on the version it started with, and none sees
    a half-loaded model. A load that fails keeps the version being served; it is
    logged once (per version and error), counted, and shown by `status`, and tried
    again at the next poll. `predict` and `predict_batch` may be called from any
    thread; `start`, `stop`, `refresh` and `reload_now` from the event loop.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        models: Sequence[str] | None = None,
        reload_interval_s: float | None = 5.0,
        clock: Callable[[], int] = time.time_ns,
        logger: logging.Logger | None = None,
    ) -> None:
        if models is not None:
            if isinstance(models, str):
                msg = f"models must be a sequence of model names, got the string {models!r}"
                raise ValueError(msg)
            models = tuple(models)
            for name in models:
                if not isinstance(name, str) or not _NAME.fullmatch(name):
                    msg = (
                        f"models: {name!r} is not a model name (1-100 letters, digits, "
                        "'_', '.' or '-', starting with a letter or digit)"
                    )
                    raise ValueError(msg)
            if len(set(models)) != len(models):
                msg = f"models must not repeat a name, got {list(models)}"
                raise ValueError(msg)
        if reload_interval_s is not None and not (
            isinstance(reload_interval_s, int | float)
            and not isinstance(reload_interval_s, bool)
            and math.isfinite(reload_interval_s)
            and reload_interval_s > 0
        ):
            msg = (
                "reload_interval_s must be a positive number of seconds or None, "
                f"got {reload_interval_s!r}"
            )
            raise ValueError(msg)
        self._registry = registry
        self._models = models
        self._interval_s = reload_interval_s
        self._clock = clock
        self._log = logger or logging.getLogger("quantgrid.services.ml")
        self._slots: dict[str, _Slot] = {name: _Slot(name) for name in models or ()}
        # Read by every prediction, replaced whole (never changed) when a version swaps.
        self._loaded: dict[str, LoadedModel] = {}
        self._counts: Counter[tuple[str, int]] = Counter()
        self._count_lock = threading.Lock()
        self._reload_lock = asyncio.Lock()
        self._registry_error: str | None = None
        self._registry_logged: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = False

    # -- serving ------------------------------------------------------------------------
    @property
    def registry(self) -> ModelRegistry:
        """The registry the models are loaded from."""
        return self._registry

    @property
    def models(self) -> tuple[str, ...] | None:
        """The models served by name; None: every model with a production version."""
        return self._models

    @property
    def reload_interval_s(self) -> float | None:
        """Seconds between polls of the registry; None: no polling."""
        return self._interval_s

    @property
    def running(self) -> bool:
        """Whether `start` ran and `stop` did not since."""
        return self._started

    def watches(self, name: str) -> bool:
        """Return whether this server serves ``name`` once it has a production version."""
        return self._models is None or name in self._slots

    def predict(self, name: str, features: Mapping[str, float]) -> ServedPrediction:
        """Return the served version's prediction for one row of features.

        Parameters
        ----------
        name
            The registered model.
        features
            One number per feature of the model, by name; no other names.

        Raises
        ------
        ModelNotServedError
            If no version of ``name`` is loaded.
        InvalidFeaturesError
            Naming the features missing, unexpected or not finite.
        """
        loaded = self._loaded.get(name)
        if loaded is None:
            raise ModelNotServedError(name, self._why_not_served(name))
        prediction = loaded.predict(features, self._clock())
        with self._count_lock:
            self._counts[loaded.key] += 1
        return prediction

    def predict_batch(self, name: str, rows: Sequence[Mapping[str, float]]) -> ServedBatch:
        """Return the served version's predictions for many rows, with one model call.

        Every row of a batch is predicted by the same version, even across a swap.

        Raises
        ------
        ModelNotServedError
            If no version of ``name`` is loaded.
        InvalidFeaturesError
            Naming the first bad row and its faults, and counting the bad rows.
        ValueError
            If ``rows`` is empty.
        """
        loaded = self._loaded.get(name)
        if loaded is None:
            raise ModelNotServedError(name, self._why_not_served(name))
        batch = loaded.predict_batch(rows, self._clock())
        with self._count_lock:
            self._counts[loaded.key] += len(batch)
        return batch

    def status(self, name: str) -> ServedModelStatus:
        """Return how ``name`` is served.

        Raises
        ------
        ModelNotServedError
            If this server has never seen ``name`` in production nor was asked to serve it.
        """
        slot = self._slots.get(name)
        if slot is None:
            raise ModelNotServedError(name, self._why_not_served(name))
        return self._status(slot)

    def serving(self, name: str) -> ServedModelStatus:
        """Return the status of ``name``, which has a version loaded.

        Raises
        ------
        ModelNotServedError
            If no version of ``name`` is loaded, saying why.
        """
        loaded = self._loaded.get(name)
        if loaded is None:
            raise ModelNotServedError(name, self._why_not_served(name))
        return self._status(self._slots[name])

    def statuses(self) -> list[ServedModelStatus]:
        """Return how every model this server serves or was asked to serve is, by name."""
        return [self._status(self._slots[name]) for name in sorted(self._slots)]

    @property
    def registry_error(self) -> str | None:
        """The last failure to list the registry's models (``models=None``), if unresolved."""
        return self._registry_error

    def prediction_counts(self) -> dict[tuple[str, int], int]:
        """Return the predictions made so far by (model, version), batch rows included."""
        with self._count_lock:
            return dict(self._counts)

    # -- reloading ------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the production versions, then poll for new ones in the background.

        Failures are recorded, not raised: the server starts with what it could load.

        Raises
        ------
        RuntimeError
            If the server is already started.
        """
        if self._started:
            msg = "the model server is already started"
            raise RuntimeError(msg)
        self._started = True
        await self.refresh()
        if self._interval_s is not None:
            self._task = asyncio.create_task(self._poll(self._interval_s), name="ml-model-poll")

    async def stop(self) -> None:
        """Stop polling; the loaded versions keep serving. Idempotent."""
        task, self._task = self._task, None
        self._started = False
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def refresh(self) -> None:
        """Ask the registry for every served model's production version; load new ones.

        Never raises: failures are recorded in `status` and `registry_error`.
        """
        async with self._reload_lock:
            wanted = await self._production_versions()
            for name, version in wanted.items():
                await self._ensure(self._slots.setdefault(name, _Slot(name)), version)

    async def reload_now(self, name: str) -> ServedModelStatus:
        """Load ``name``'s production version now if it is not the one served.

        For a promotion to take effect without waiting for the next poll.

        Returns
        -------
        ServedModelStatus
            After the attempt: a failure is in ``last_error``, the old version serving.

        Raises
        ------
        ModelNotServedError
            If this server serves a list of models without ``name``.
        """
        if not self.watches(name):
            raise ModelNotServedError(name, self._why_not_served(name))
        async with self._reload_lock:
            # With models=None a name is kept only once it has a production version.
            known = name in self._slots
            slot = self._slots[name] if known else _Slot(name)
            try:
                version = await asyncio.to_thread(self._registry.production_version, name)
            except Exception as error:  # recorded; the old version serves on
                message = f"reading its production version failed: {_describe(error)}"
                if known:
                    self._failed(slot, None, message)
                else:
                    slot.error, slot.error_at_ns = message, self._clock()
                return self._status(slot)
            if known or version is not None:
                self._slots[name] = slot
                await self._ensure(slot, version)
            slot.production_version = version
            return self._status(slot)

    async def _poll(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.refresh()
            except Exception:  # pragma: no cover - refresh records its failures
                self._log.exception("polling the model registry failed")

    async def _production_versions(self) -> dict[str, int | None]:
        """Return the production version of each model to serve (None: it has none)."""
        registry = self._registry
        if self._models is None:
            try:
                summaries = await asyncio.to_thread(registry.list_models)
            except Exception as error:  # recorded; the loaded versions serve on
                message = f"listing the registered models failed: {_describe(error)}"
                self._registry_error = message
                if self._registry_logged != message:
                    self._registry_logged = message
                    self._log.error("model registry: %s", message)
                return {}
            self._registry_error = self._registry_logged = None
            wanted: dict[str, int | None] = dict.fromkeys(self._slots)
            wanted.update(
                (s.name, s.production_version)
                for s in summaries
                if s.production_version is not None
            )
            return wanted
        found: dict[str, int | None] = {}
        for name in self._models:
            try:
                found[name] = await asyncio.to_thread(registry.production_version, name)
            except ModelNotFoundError as error:
                self._failed(self._slots[name], None, str(error))
            except Exception as error:  # recorded; the old version serves on
                message = f"reading its production version failed: {_describe(error)}"
                self._failed(self._slots[name], None, message)
        return found

    async def _ensure(self, slot: _Slot, version: int | None) -> None:
        """Serve ``version`` of the slot's model, loading it if it is not served yet."""
        slot.production_version = version
        served = slot.loaded.version if slot.loaded is not None else None
        if version is None or version == served:
            self._clear(slot)  # the registry answered, and there is nothing to load
            return
        name = slot.name
        try:
            info, model = await asyncio.to_thread(self._registry.load_version, name, version)
            loaded = LoadedModel(info, model, self._clock())
        except Exception as error:  # recorded; the old version serves on
            slot.reload_failures += 1
            self._failed(slot, version, f"loading version {version} failed: {_describe(error)}")
            return
        # The swap: one assignment of a new dict, which predictions read once each.
        self._loaded = {**self._loaded, name: loaded}
        slot.loaded = loaded
        slot.reloads += 1
        self._clear(slot)
        was = f"version {served}" if served is not None else "nothing"
        self._log.info("model %s: serving version %d (was %s)", name, version, was)

    def _failed(self, slot: _Slot, version: int | None, message: str) -> None:
        slot.error = message
        slot.error_at_ns = self._clock()
        slot.failed_version = version
        if slot.logged != (version, message):
            slot.logged = (version, message)
            serving = slot.loaded.version if slot.loaded is not None else None
            still = f"still serving version {serving}" if serving is not None else "nothing served"
            self._log.error("model %s: %s; %s", slot.name, message, still)

    @staticmethod
    def _clear(slot: _Slot) -> None:
        slot.error = slot.error_at_ns = slot.failed_version = slot.logged = None

    def _status(self, slot: _Slot) -> ServedModelStatus:
        loaded = slot.loaded
        return ServedModelStatus(
            name=slot.name,
            version=loaded.version if loaded else None,
            production_version=slot.production_version,
            loaded_at_ns=loaded.loaded_at_ns if loaded else None,
            feature_set_name=loaded.feature_set_name if loaded else "",
            feature_names=loaded.feature_names if loaded else (),
            classes=loaded.classes if loaded else (),
            reloads=slot.reloads,
            reload_failures=slot.reload_failures,
            last_error=slot.error,
            last_error_at_ns=slot.error_at_ns,
            failed_version=slot.failed_version,
        )

    def _why_not_served(self, name: str) -> str:
        if not self.watches(name):
            return f"this server serves only {', '.join(self._models or ())}"
        slot = self._slots.get(name)
        if slot is None:
            return "no registered model of this name has a version in production"
        if slot.error is not None:
            return slot.error
        if slot.production_version is None:
            return "it has no version in production"
        return "its production version is not loaded yet"
