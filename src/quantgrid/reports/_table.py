"""The statistics as a rich console table."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from quantgrid.analytics import Statistics
from quantgrid.reports._format import formatted_groups


def stats_table(stats: Statistics, title: str = "Backtest statistics") -> Table:
    """Build a console table of the statistics, one labelled row each.

    Parameters
    ----------
    stats
        The statistics to show.
    title
        The table's title.

    Returns
    -------
    rich.table.Table
        Two columns, label (with its unit, e.g. ``Return [%]``) and value. Values have
        thousands separators, returns and ratios an explicit sign, and undefined
        values show as ``—``.
    """
    table = Table(title=title, title_justify="left")
    table.add_column("Statistic", style="bold")
    table.add_column("Value", justify="right")
    groups = list(formatted_groups(stats))
    for i, group in enumerate(groups):
        more_groups = i < len(groups) - 1
        for j, (label, value) in enumerate(group):
            # Text, not markup: "[days]" and "[s]" would parse as style tags.
            table.add_row(Text(label), Text(value), end_section=more_groups and j == len(group) - 1)
    return table
