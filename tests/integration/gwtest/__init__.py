"""gwtest: the harness of gantry's integration tests (Python 3 stdlib only).

A test file is a script of functions named test_*; its last lines are

    if __name__ == "__main__":
        gwtest.main(globals())

Pieces (see ../README.md), each importable from gwtest itself:
  Origin()                 gwtest/origin.py as a subprocess on a free port        (servers)
  ExampleService("users")  build/<...>/example_users on a free port                (servers)
  AuthService()            gwtest/authsvc.py: introspection and JWKS               (servers)
  OtlpReceiver()           gwtest/otlp_receiver.py: an OTLP trace collector that checks
                           every export against the OTLP JSON encoding            (servers)
  RawServer, RecordingServer, HangingListener: raw-socket upstreams that misbehave on
                           purpose; shared_origin()                                (servers)
  RedisServer()            a real redis-server on a free port; require_redis() (redis_server)
  PostgresServer()         a real PostgreSQL (initdb in a temp dir) on a free port;
                           require_postgres()                              (postgres_server)
  PrometheusServer(cfg)    a real Prometheus on a free port, its HTTP API;
                           require_prometheus()                               (prometheus)
  Gantry(config_dict)      the real gantry binary ($GANTRY_BIN) on a config in a temp dir;
                           run_gantry(args) runs a subcommand                       (gantry)
  simple_config(...)       a one-service config on a free port                      (config)
  HttpConn(port)           one client connection: send bytes, read parsed responses (client)
  request(port, ...)       one request on a fresh connection                         (client)
  raw_exchange(port, b)    bytes in, every byte out until close or timeout           (client)
  read_until_eof, parse_head, from_origin, assert_json_error: small helpers          (client)
  Load(port, plan, check)  steady keep-alive and new-connection client load           (load)
  Everything()             one gantry with every optional subsystem that has metric families
                           on, and traffic() for each kind of request          (everything)
  free_port(), wait_until(predicate), Backend (a "READY <port>" subprocess)          (procs)
  reserve_port(port)       the machine-wide reservation free_port takes              (procs)
  main(globals())          runs the tests: "ok NAME" / "FAIL NAME" + traceback, then
                           "N passed, M failed"; exit status 1 when any failed      (runner)
  gwtest.jose              JWT minting for the auth tests (hs_token, Keys, claims)
  gwtest.certs             CertDir: a CA and leaves signed by it, made with openssl
  gwtest.tls_listener      gantry's HTTPS listener for test_tls*.py: certificates, tls_config,
                           curl, s_client
  gwtest.admin_api         admin API requests for test_admin_api*.py (svc, admin, expect_json)
  gwtest.h2frames          HTTP/2 by hand for test_http2*.py: raw frames written and read

Every process started here is stopped when the test that started it ends (or, when started
outside a test, when the script exits), whatever happened.
"""

from .client import (
    CHUNK,
    ConnectionClosed,
    HttpConn,
    Response,
    _header_list,
    assert_json_error,
    build_request,
    chunked,
    from_origin,
    parse_head,
    pattern,
    pattern_sha256,
    raw_exchange,
    read_until_eof,
    request,
    sha256,
)
from .config import _admin_port, _listen_port, simple_config, with_ports, write_config_file
from .everything import Everything
from .gantry import _SANITIZER_MARKS, Gantry, run_gantry
from .load import Load
from .procs import (
    HERE,
    PKG,
    PORT_LOCK_FILE,
    REPO,
    Backend,
    HarnessError,
    _die_with_parent,
    _everything,
    _libc,
    _lock,
    _mkdtemp,
    _on_sigterm,
    _ports_given,
    _read_text,
    _sigterm_then_kill,
    _spawn,
    _stop_everything,
    _tail,
    _tmpdirs,
    _track,
    _untrack,
    build_dir,
    example_bin,
    free_port,
    gantry_bin,
    wait_until,
    peer_has_read,
    reserve_port,
    wait_peer_read,
)
from .postgres_server import PostgresServer, require_postgres
from .prometheus import PrometheusServer, require_prometheus
from .redis_server import Redis, RedisError, RedisServer, require_redis
from .runner import (
    DEFAULT_TIMEOUT,
    Skip,
    TestTimeout,
    _failure_logs,
    _on_alarm,
    _run_one,
    main,
    skip,
    timeout,
)
from .servers import (
    AuthService,
    ExampleService,
    HangingListener,
    Origin,
    OtlpReceiver,
    RawServer,
    RecordingServer,
    shared_origin,
)
