"""Reports of backtest results: files on disk, an offline HTML report, console tables.

Edge package: it may use plotly, rich and the file system; the core never imports it.
"""

from quantgrid.reports._sweep import write_sweep
from quantgrid.reports._table import stats_table
from quantgrid.reports._writers import write_results

__all__ = ["stats_table", "write_results", "write_sweep"]
