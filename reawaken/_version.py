"""The package version, importable without loading the rest of reawaken."""

__version__ = "0.1.0"
