"""The ``quantgrid`` command line (typer + rich)."""

from quantgrid.cli._app import app, main

__all__ = ["app", "main"]
