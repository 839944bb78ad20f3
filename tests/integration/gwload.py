"""Compatibility for tests written before the gwtest package: see gwtest/load.py
(from gwtest import Load)."""

from gwtest.load import *  # noqa: F401,F403
