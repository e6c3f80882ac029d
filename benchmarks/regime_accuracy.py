"""How well `RegimeDetector` recovers the true regimes of held-out synthetic markets.

Fits a detector on the training seeds (the same ones the shipped model was fitted on),
checks the shipped `DEFAULT_MODEL` equals that fit, and scores it on held-out seeds no
fit has seen: per-class precision and recall and balanced accuracy (the mean recall of
the four regimes) per seed and overall. Bars of the warm-up are left out of the score;
any later bar left `UNKNOWN_REGIME` counts as a miss. The last line is one JSON object.

    .venv/bin/python benchmarks/regime_accuracy.py
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import numpy.typing as npt

from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.model import Regime
from quantgrid.regime import DEFAULT_MODEL, TRAINING_SEEDS, RegimeDetector

HELD_OUT_SEEDS = (1000, 1001, 1002, 1003, 1004)


def confusion(
    truth: npt.NDArray[np.int8], predicted: npt.NDArray[np.int8]
) -> npt.NDArray[np.int64]:
    """Return counts[true regime, predicted regime]; column 4 holds UNKNOWN predictions."""
    counts = np.zeros((len(Regime), len(Regime) + 1), dtype=np.int64)
    column = np.where(predicted < 0, len(Regime), predicted)
    np.add.at(counts, (truth, column), 1)
    return counts


def scores(counts: npt.NDArray[np.int64]) -> dict[str, dict[str, float] | float]:
    """Return per-regime precision and recall and the balanced accuracy of a confusion."""
    recall = {r.name: counts[r, r] / max(counts[r].sum(), 1) for r in Regime}
    precision = {r.name: counts[r, r] / max(counts[:, r].sum(), 1) for r in Regime}
    return {
        "precision": {k: float(v) for k, v in precision.items()},
        "recall": {k: float(v) for k, v in recall.items()},
        "balanced_accuracy": float(np.mean(list(recall.values()))),
    }


def show(label: str, result: dict[str, dict[str, float] | float]) -> None:
    precision = result["precision"]
    recall = result["recall"]
    assert isinstance(precision, dict) and isinstance(recall, dict)
    cells = "  ".join(f"{r.name} P {precision[r.name]:.3f} R {recall[r.name]:.3f}" for r in Regime)
    print(f"{label:>10}  {cells}  balanced accuracy {result['balanced_accuracy']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=SyntheticConfig().bars)
    args = parser.parse_args()
    config = SyntheticConfig(bars=args.bars)

    started = time.perf_counter()
    training = [generate_market(config, seed) for seed in TRAINING_SEEDS]
    fitted = RegimeDetector.fit(training)
    fit_seconds = time.perf_counter() - started
    same = all(
        np.allclose(getattr(fitted.model, name), getattr(DEFAULT_MODEL, name), rtol=1e-9)
        for name in ("means", "covariances", "priors")
    )
    print(f"training seeds {list(TRAINING_SEEDS)}, held-out seeds {list(HELD_OUT_SEEDS)}")
    print(f"fit on {len(training)} markets in {fit_seconds:.2f} s; shipped model equals it: {same}")

    detector = RegimeDetector(DEFAULT_MODEL)
    warmup = detector.settings.warmup_bars
    total = np.zeros((len(Regime), len(Regime) + 1), dtype=np.int64)
    detect_seconds = 0.0
    bars_scored = 0
    for seed in HELD_OUT_SEEDS:
        market = generate_market(config, seed)
        started = time.perf_counter()
        frames = detector.detect(market.bars)
        detect_seconds += time.perf_counter() - started
        counts = np.zeros_like(total)
        for iid, frame in frames.items():
            counts += confusion(market.regimes[iid][warmup:], frame.regime[warmup:])
        bars_scored += int(counts.sum())
        total += counts
        show(f"seed {seed}", scores(counts))
    overall = scores(total)
    show("overall", overall)
    print(f"detect: {bars_scored / detect_seconds:,.0f} instrument-bars/s (incl. first-call JIT)")
    recall = overall["recall"]
    precision = overall["precision"]
    assert isinstance(recall, dict) and isinstance(precision, dict)
    summary = {
        "balanced_accuracy": overall["balanced_accuracy"],
        **{f"recall_{k.lower()}": v for k, v in recall.items()},
        **{f"precision_{k.lower()}": v for k, v in precision.items()},
        "training_seeds": list(TRAINING_SEEDS),
        "held_out_seeds": list(HELD_OUT_SEEDS),
        "instrument_bars_scored": bars_scored,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
