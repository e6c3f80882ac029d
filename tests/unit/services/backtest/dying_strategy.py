"""A strategy whose process dies on its first bar: a worker killed mid-job.

Importing this module registers it (as a worker process does, by the strategy's
module); tests import it through the ``dying`` fixture, which unregisters it after.
"""

from __future__ import annotations

import os
from typing import ClassVar

from quantgrid.model import Bar
from quantgrid.strategy import Strategy, register_strategy


@register_strategy
class DyingStrategy(Strategy):
    """Exits the process without cleanup, as the OOM killer would."""

    name: ClassVar[str] = "test_dying"

    def on_bar(self, bar: Bar) -> None:
        os._exit(3)
