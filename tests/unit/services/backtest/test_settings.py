"""The backtest service's settings come from QUANTGRID_BACKTEST_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantgrid.services import SettingsError
from quantgrid.services.backtest import BacktestSettings


def test_settings_are_read_from_the_environment():
    settings = BacktestSettings.from_env(
        {
            "QUANTGRID_BACKTEST_DATA_DIR": "/srv/bars",
            "QUANTGRID_BACKTEST_RESULTS_DIR": "/srv/results",
            "QUANTGRID_BACKTEST_WORKERS": "2",
            "QUANTGRID_BACKTEST_MAX_PENDING": "10",
        }
    )
    assert settings.backtest_data_dir == Path("/srv/bars")
    assert settings.backtest_results_dir == Path("/srv/results")
    assert (settings.backtest_workers, settings.backtest_max_pending) == (2, 10)
    assert BacktestSettings.from_env({}).backtest_data_dir is None


def test_a_bad_value_names_its_variable():
    with pytest.raises(SettingsError, match="QUANTGRID_BACKTEST_WORKERS: Input should be greater"):
        BacktestSettings.from_env({"QUANTGRID_BACKTEST_WORKERS": "0"})
