"""The features behind a regime: one step of the cross-asset state, shared by both forms.

`market_step` advances the recursive state of every instrument of a market by one
timestamp. The vectorised kernel calls it in a loop and the streaming detector calls
it once per timestamp, so the two forms run the same compiled float operations and
agree bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from quantgrid.model import FloatArray

# Columns of the per-instrument feature row that `market_step` writes.
F_NATR = 0  # ATR / close
F_ADX = 1
F_CHOP = 2
F_EFFICIENCY = 3  # |EWMA(r)| / EWMA(|r|): near 1 in a clean trend, near 0 in noise
F_AUTOCORR = 4  # EWMA(r[t] r[t-1]) / EWMA(r[t]²): lag-1 autocorrelation of returns
F_VOL_RATIO = 5  # short / long EWMA volatility of log returns
F_CORRELATION = 6  # mean EWMA correlation of returns with every other instrument
F_VOLATILITY = 7  # short EWMA volatility of log returns
N_FEATURES = 8

# Slots of the per-instrument state vector.
_S_PREV_CLOSE = 0
_S_PREV_RETURN = 1
_S_MEAN_RETURN = 2
_S_MEAN_ABS = 3
_S_VAR_SHORT = 4
_S_VAR_LONG = 5
_S_LAG_PRODUCT = 6
_S_LAG_SQUARE = 7
_N_STATE = 8
# Slots of the shared state: EWMA weight sums, for the bias correction of the variances.
_W_SHORT = 0
_W_LONG = 1
_W_COUNT = 2
_N_SHARED = 3


def new_state(instruments: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return zeroed state: per instrument, shared weights and the return covariance."""
    return (
        np.zeros((instruments, _N_STATE)),
        np.zeros(_N_SHARED),
        np.zeros((instruments, instruments)),
    )


@njit(cache=True)
def market_step(
    close: FloatArray,
    natr: FloatArray,
    adx: FloatArray,
    chop: FloatArray,
    state: FloatArray,
    shared: FloatArray,
    cov: FloatArray,
    alphas: FloatArray,
    out: FloatArray,
) -> None:  # pragma: no cover - numba
    """Advance every instrument by one bar and write its feature row into ``out``.

    ``alphas`` holds the EWMA weights (efficiency, autocorrelation, short volatility,
    long volatility, correlation). The first bar has no return: its recursive features
    are NaN.
    """
    k = close.shape[0]
    a_eff = alphas[0]
    a_ac = alphas[1]
    a_short = alphas[2]
    a_long = alphas[3]
    a_corr = alphas[4]
    count = shared[_W_COUNT]
    shared[_W_COUNT] = count + 1.0
    for i in range(k):
        out[i, F_NATR] = natr[i]
        out[i, F_ADX] = adx[i]
        out[i, F_CHOP] = chop[i]
    if count == 0.0:
        for i in range(k):
            state[i, _S_PREV_CLOSE] = close[i]
            for f in range(F_EFFICIENCY, N_FEATURES):
                out[i, f] = np.nan
        return
    w_short = (1.0 - a_short) * shared[_W_SHORT] + a_short
    w_long = (1.0 - a_long) * shared[_W_LONG] + a_long
    shared[_W_SHORT] = w_short
    shared[_W_LONG] = w_long
    returns = np.empty(k)
    for i in range(k):
        r = math.log(close[i] / state[i, _S_PREV_CLOSE])
        returns[i] = r
        state[i, _S_PREV_CLOSE] = close[i]
        square = r * r
        mean_r = (1.0 - a_eff) * state[i, _S_MEAN_RETURN] + a_eff * r
        mean_abs = (1.0 - a_eff) * state[i, _S_MEAN_ABS] + a_eff * abs(r)
        var_short = (1.0 - a_short) * state[i, _S_VAR_SHORT] + a_short * square
        var_long = (1.0 - a_long) * state[i, _S_VAR_LONG] + a_long * square
        lag = (1.0 - a_ac) * state[i, _S_LAG_PRODUCT] + a_ac * (r * state[i, _S_PREV_RETURN])
        lag_square = (1.0 - a_ac) * state[i, _S_LAG_SQUARE] + a_ac * square
        state[i, _S_MEAN_RETURN] = mean_r
        state[i, _S_MEAN_ABS] = mean_abs
        state[i, _S_VAR_SHORT] = var_short
        state[i, _S_VAR_LONG] = var_long
        state[i, _S_LAG_PRODUCT] = lag
        state[i, _S_LAG_SQUARE] = lag_square
        state[i, _S_PREV_RETURN] = r
        # A price that has not moved has no direction and no autocorrelation: 0, not 0/0.
        out[i, F_EFFICIENCY] = abs(mean_r) / mean_abs if mean_abs > 0.0 else 0.0
        out[i, F_AUTOCORR] = lag / lag_square if lag_square > 0.0 else 0.0
        short = math.sqrt(var_short / w_short)
        long = math.sqrt(var_long / w_long)
        out[i, F_VOLATILITY] = short
        out[i, F_VOL_RATIO] = short / long if long > 0.0 else 1.0
    for i in range(k):
        for j in range(i, k):
            c = (1.0 - a_corr) * cov[i, j] + a_corr * (returns[i] * returns[j])
            cov[i, j] = c
            cov[j, i] = c
    for i in range(k):
        if k < 2:
            out[i, F_CORRELATION] = np.nan
            continue
        total = 0.0
        for j in range(k):
            if j != i:
                scale = cov[i, i] * cov[j, j]
                total += cov[i, j] / math.sqrt(scale) if scale > 0.0 else 0.0
        out[i, F_CORRELATION] = total / (k - 1)


@njit(cache=True)
def market_features(
    close: FloatArray,
    natr: FloatArray,
    adx: FloatArray,
    chop: FloatArray,
    alphas: FloatArray,
) -> FloatArray:  # pragma: no cover - numba
    """Return the features of every bar: shape (bars, instruments, N_FEATURES)."""
    n, k = close.shape
    state = np.zeros((k, _N_STATE))
    shared = np.zeros(_N_SHARED)
    cov = np.zeros((k, k))
    out = np.empty((n, k, N_FEATURES))
    for t in range(n):
        market_step(close[t], natr[t], adx[t], chop[t], state, shared, cov, alphas, out[t])
    return out
