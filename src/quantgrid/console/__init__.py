"""The web console: a single-page app the gateway serves, with no build step.

``console_router()`` returns the routes: ``GET /`` and ``GET /console`` redirect to
``/console/``, which serves the app's ``index.html``; ``GET /console/static/<file>``
serves the hand-written HTML, CSS and JavaScript modules shipped in this package, and
Plotly's JavaScript from the installed ``plotly`` package. Nothing is fetched from
the network. See ``docs/console.md``.
"""

from quantgrid.console._router import console_router

__all__ = ["console_router"]
