"""IP2A: the union local's data platform (project package)."""

__version__ = "0.1.0"
