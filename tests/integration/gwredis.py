"""Compatibility for tests written before the gwtest package: see gwtest/redis_server.py
(from gwtest import RedisServer, require_redis)."""

from gwtest.redis_server import *  # noqa: F401,F403
