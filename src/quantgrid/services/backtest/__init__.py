"""The backtest service: submit backtest jobs, follow their progress, read their results.

``create_app`` serves ``/backtests``. Jobs are kept in the ``Store`` and run by a
``JobRunner``: ``ProcessPoolJobRunner`` (a bounded pool of ``spawn`` worker processes)
or ``InProcessJobRunner`` (worker threads, for tests). Results are the files
``quantgrid.reports.write_results`` writes, one folder per job. See
``docs/backtest-service.md``.
"""

from quantgrid.services.backtest._app import create_app
from quantgrid.services.backtest._datafiles import DataPathError, check_data_name, resolve_data_file
from quantgrid.services.backtest._jobs import (
    BacktestJobs,
    JobEndedError,
    JobNotDoneError,
    JobNotFoundError,
    QueueFullError,
    ResultsGoneError,
)
from quantgrid.services.backtest._models import (
    BacktestJobPage,
    BacktestJobView,
    BacktestRequest,
    BacktestResults,
    DataFile,
    EquityPage,
    EquityPoint,
    FileData,
    RiskLimits,
    SyntheticData,
)
from quantgrid.services.backtest._runner import (
    INTERRUPTED,
    WORKER_DIED,
    InProcessJobRunner,
    JobRunner,
    ProcessPoolJobRunner,
    QueueJobRunner,
    RecoveryReport,
)
from quantgrid.services.backtest._settings import BacktestSettings
from quantgrid.services.backtest._worker import JobSpec, Outcome, execute_job

__all__ = [
    "INTERRUPTED",
    "WORKER_DIED",
    "BacktestJobPage",
    "BacktestJobView",
    "BacktestJobs",
    "BacktestRequest",
    "BacktestResults",
    "BacktestSettings",
    "DataFile",
    "DataPathError",
    "EquityPage",
    "EquityPoint",
    "FileData",
    "InProcessJobRunner",
    "JobEndedError",
    "JobNotDoneError",
    "JobNotFoundError",
    "JobRunner",
    "JobSpec",
    "Outcome",
    "ProcessPoolJobRunner",
    "QueueFullError",
    "QueueJobRunner",
    "RecoveryReport",
    "ResultsGoneError",
    "RiskLimits",
    "SyntheticData",
    "check_data_name",
    "create_app",
    "execute_job",
    "resolve_data_file",
]
