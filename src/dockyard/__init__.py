"""Dockyard: a container deployment platform."""

__version__ = "0.1.0"
