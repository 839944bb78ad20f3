#!/usr/bin/env python3
"""Compatibility for scripts written before the gwtest package: the test origin is
gwtest/origin.py (gwtest.Origin() starts it; from gwtest.origin import OriginServer)."""

import gwtest  # noqa: F401  (puts this directory on sys.path when run from elsewhere)
from gwtest.origin import *  # noqa: F401,F403
from gwtest.origin import main

if __name__ == "__main__":
    main()
