"""What the model server raises when a prediction cannot be made."""

from __future__ import annotations

from collections.abc import Sequence

# Names listed in a message; the error's attributes hold them all.
_LISTED = 20


class ModelNotServedError(LookupError):
    """No version of the model is being served: unknown, not in production, or not loaded.

    Attributes
    ----------
    model
        The model asked for.
    reason
        Why it is not served, in words.
    """

    def __init__(self, model: str, reason: str) -> None:
        self.model = model
        self.reason = reason
        super().__init__(f"model {model!r} is not served: {reason}")


class InvalidFeaturesError(ValueError):
    """Features that do not fit the served model: missing, unexpected or not finite.

    Attributes
    ----------
    model, version
        The model version the features were checked against.
    missing
        Features the model needs that were not given, in the model's column order.
    unexpected
        Names given that the model has no column for, sorted.
    non_finite
        Features whose value is not a finite number (NaN, infinite, not a number).
    row
        The position of the first bad row of a batch; None for a single prediction.
    bad_rows
        How many rows of a batch are bad (1 for a single prediction).
    """

    def __init__(
        self,
        model: str,
        version: int,
        *,
        missing: Sequence[str] = (),
        unexpected: Sequence[str] = (),
        non_finite: Sequence[str] = (),
        row: int | None = None,
        bad_rows: int = 1,
    ) -> None:
        self.model = model
        self.version = version
        self.missing = tuple(missing)
        self.unexpected = tuple(unexpected)
        self.non_finite = tuple(non_finite)
        self.row = row
        self.bad_rows = bad_rows
        super().__init__(self._message())

    @property
    def reasons(self) -> str:
        """What is wrong with the (first bad) row, without the model and row position."""
        parts = []
        for label, names in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("not a finite number", self.non_finite),
        ):
            if names:
                shown = ", ".join(names[:_LISTED])
                more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
                parts.append(f"{label}: {shown}{more}")
        return "; ".join(parts) or "the features do not fit"

    def _message(self) -> str:
        where = "" if self.row is None else f" in rows[{self.row}]"
        others = self.bad_rows - 1
        tail = f" (and {others} more bad rows)" if self.row is not None and others > 0 else ""
        return (
            f"features of model {self.model!r} version {self.version}{where} do not fit it: "
            f"{self.reasons}{tail}"
        )
