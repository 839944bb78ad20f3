"""Certificates for TLS tests, made with the openssl command in a temp dir of their own
(removed at exit like every gwtest temp dir): CAs and leaves signed by them (server or client,
optionally expired). Used by the TLS tests (test_tls*.py through gwtest.tls_listener,
test_tls_upstream.py, test_h2_upstream_tls.py, ...).

    certs = CertDir("tlsup")
    certs.make_ca()
    certs.make_leaf("local", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
    certs.path("local.pem"), certs.path("local.key"), certs.path("ca.pem")
"""

import os
import subprocess

from .procs import _mkdtemp


class CertDir:
    def __init__(self, what):
        self.dir = _mkdtemp(what)

    def path(self, name):
        return os.path.join(self.dir, name)

    @staticmethod
    def _sh(args):
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        assert p.returncode == 0, p.stdout.decode("utf-8", "replace")

    def make_ca(self, name="ca", cn="gantry upstream test CA"):
        """A self-signed CA: name.pem / name.key."""
        self._sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30", "-subj", "/CN=" + cn,
                  "-keyout", self.path(name + ".key"), "-out", self.path(name + ".pem"),
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def make_leaf(self, name, cn, sans, ca="ca", expired=False, client=False, org=None):
        """A leaf signed by ca: name.pem / name.key. expired: valid in January 2020 only;
        org: an O before the CN in the subject."""
        path = self.path
        subject = ("/O=%s" % org if org else "") + "/CN=" + cn
        self._sh(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-subj", subject, "-keyout", path(name + ".key"), "-out",
                  path(name + ".csr")])
        ext = path(name + ".ext")
        with open(ext, "w") as f:
            if sans:
                f.write("subjectAltName=" + ",".join(sans) + "\n")
            f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
        if expired:
            # "openssl ca" can backdate; "x509 -req" cannot: a minimal CA config.
            db = path(name + ".db")
            open(db, "w").close()
            conf = path(name + ".cnf")
            with open(conf, "w") as f:
                f.write("[ca]\ndefault_ca=c\n[c]\ndatabase=%s\nnew_certs_dir=%s\nserial=%s\n"
                        "default_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\n"
                        "commonName=supplied\n" % (db, self.dir, path(name + ".srl")))
            with open(path(name + ".srl"), "w") as f:
                f.write("01\n")
            self._sh(["openssl", "ca", "-batch", "-config", conf, "-cert", path(ca + ".pem"),
                      "-keyfile", path(ca + ".key"), "-in", path(name + ".csr"), "-out",
                      path(name + ".pem"), "-startdate", "20200101000000Z", "-enddate",
                      "20200201000000Z", "-extfile", ext, "-notext"])
        else:
            self._sh(["openssl", "x509", "-req", "-in", path(name + ".csr"), "-CA",
                      path(ca + ".pem"), "-CAkey", path(ca + ".key"), "-CAcreateserial", "-days",
                      "30", "-out", path(name + ".pem"), "-extfile", ext])
