#!/usr/bin/env python3
"""Compatibility for tests written before the gwtest package: the authorization server is
gwtest/authsvc.py (gwtest.AuthService() starts it) and the token minting gwtest/jose.py."""

from gwtest.authsvc import main
from gwtest.jose import *  # noqa: F401,F403
from gwtest.servers import AuthService  # noqa: F401

if __name__ == "__main__":
    main()
