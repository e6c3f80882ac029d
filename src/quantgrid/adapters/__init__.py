"""Adapters: the core's ports implemented with real technology (storage, bus, cache, venues)."""
