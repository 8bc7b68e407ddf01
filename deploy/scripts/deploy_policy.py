#!/usr/bin/env python3
"""Offline checks of Lyceum's rendered Kubernetes manifests and compose file.

Every object is validated against the Kubernetes JSON schemas bundled in the
`kubernetes-validate` package (strict: unknown fields are errors), then against the
deployment policy:

  schema            the object does not match its Kubernetes schema (or its kind is unknown)
  image-tag         a container image without a tag, or tagged `latest` (a digest is fine)
  resources         a container without cpu and memory requests and limits
  probes            a long-running container without a liveness or a readiness probe
  pdb               a Deployment or StatefulSet that no PodDisruptionBudget selects
  security-context  a container that is not restricted: runAsNonRoot, no privilege escalation,
                    read-only root filesystem, all capabilities dropped, RuntimeDefault seccomp
  hpa-target        a HorizontalPodAutoscaler whose target is not in the same render
  service-selector  a Service whose selector matches no pod template of the render
  secret            a Secret in a render that must carry none (base, production)

The compose file is checked for pinned images (image-tag) and consistent dependencies
(compose): no unknown service, no wait for health on a service without a healthcheck.
The Dockerfile is parsed with Docker's own parser and checked for pinned base images
(image-tag) and a final stage that runs as a non-root user with an ENTRYPOINT (dockerfile).

`--selftest DIR` proves the checks work: every fixture DIR/*.yaml (and DIR/*.Dockerfile) names the problems it must be
rejected for in `# expect: code ...` lines (`# expect: none` for fixtures that must pass), and
may ask for `# options: forbid-secrets` (or `compose`: the fixture is a compose file). The test
fails unless each fixture yields exactly its expected codes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import yaml

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
# Workloads whose containers run until stopped and so need liveness and readiness probes.
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"}
NEEDS_PDB = {"Deployment", "StatefulSet"}


class Problem:
    """One failed check: a code from the module docstring and a readable message."""

    def __init__(self, code: str, where: str, message: str):
        self.code, self.where, self.message = code, where, message

    def __str__(self) -> str:
        return f"[{self.code}] {self.where}: {self.message}"


# ---------------------------------------------------------------------------------------------
# Schemas


class SchemaValidator:
    """Validates objects against one Kubernetes version's bundled strict JSON schemas.

    Loads the shared definitions once and keeps one validator per kind (the package's own
    `validate()` re-reads the 1 MB definitions file for every object).
    """

    def __init__(self, k8s_version: str):
        import importlib_resources
        import jsonschema
        from referencing import Registry, Resource

        self._jsonschema = jsonschema
        root = importlib_resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
        wanted = _major_minor(k8s_version)
        versions = sorted(
            (
                p.name
                for p in root.iterdir()
                if re.fullmatch(r"v[\d.]+-local-strict", p.name)
            ),
            key=lambda n: tuple(int(x) for x in n[1:].split("-")[0].split(".")),
        )
        chosen = [v for v in versions if _major_minor(v[1:].split("-")[0]) == wanted]
        if not chosen:
            raise SystemExit(
                f"deploy-check: no bundled schemas for Kubernetes {k8s_version}; "
                f"available: {', '.join(v[1:].split('-')[0] for v in versions)}"
            )
        self.version = chosen[-1][1:].split("-")[0]
        self._dir = root.joinpath(chosen[-1])
        with self._dir.joinpath("_definitions.json").open() as f:
            definitions = json.load(f)
        self._registry = Resource.from_contents(definitions) @ Registry()
        self._Resource = Resource
        self._validators: dict[tuple[str, str], object] = {}

    def _validator(self, kind: str, api_version: str):
        key = (kind, api_version)
        if key not in self._validators:
            # rbac.authorization.k8s.io/v1 -> rbac-v1, apps/v1 -> apps-v1, v1 -> v1
            api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
            path = self._dir.joinpath(f"{kind.lower()}-{api}.json")
            try:
                with path.open() as f:
                    schema = json.load(f)
            except FileNotFoundError:
                self._validators[key] = None
            else:
                registry = self._Resource.from_contents(schema) @ self._registry
                self._validators[key] = self._jsonschema.Draft202012Validator(
                    schema, registry=registry
                )
        return self._validators[key]

    def problems(self, obj: dict, where: str) -> list[Problem]:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api_version, str):
            return [Problem("schema", where, "object without apiVersion and kind")]
        validator = self._validator(kind, api_version)
        if validator is None:
            return [
                Problem(
                    "schema",
                    where,
                    f"no schema for {api_version} {kind} in Kubernetes {self.version} "
                    "(misspelt kind or removed API version?)",
                )
            ]
        out = []
        for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in err.absolute_path) or "(object)"
            out.append(Problem("schema", where, f"{path}: {_short(err.message)}"))
        return out


def _major_minor(version: str) -> str:
    return ".".join(version.lstrip("v").split(".")[:2])


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# Policy


def _where(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{obj.get('kind', '?')}/{ns + '/' if ns else ''}{name}"


def _pod_template(obj: dict) -> dict | None:
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return obj
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    if kind in WORKLOAD_KINDS:
        return spec.get("template")
    return None


def _selector_matches(selector: dict | None, labels: dict) -> bool:
    """A metav1.LabelSelector against a label set; an empty or missing selector matches none."""
    if not selector:
        return False
    match_labels = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    if not match_labels and not exprs:
        return False
    for k, v in match_labels.items():
        if labels.get(k) != v:
            return False
    for e in exprs:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _image_problem(image: str) -> str | None:
    if not image:
        return "no image"
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag: pin a release tag (or a digest)"
    tag = last.rsplit(":", 1)[1]
    if tag == "latest":
        return f"image {image!r} uses the tag latest: pin a release tag (or a digest)"
    return None


def _container_problems(obj: dict, pod_spec: dict) -> list[Problem]:
    out = []
    where = _where(obj)
    pod_sc = pod_spec.get("securityContext") or {}
    groups = [("container", c) for c in pod_spec.get("containers") or []]
    groups += [("init container", c) for c in pod_spec.get("initContainers") or []]
    for what, c in groups:
        cwhere = f"{where} {what} {c.get('name', '?')}"
        msg = _image_problem(c.get("image", ""))
        if msg:
            out.append(Problem("image-tag", cwhere, msg))

        res = c.get("resources") or {}
        missing = [
            f"{part}.{r}"
            for part in ("requests", "limits")
            for r in ("cpu", "memory")
            if r not in (res.get(part) or {})
        ]
        if missing:
            out.append(Problem("resources", cwhere, "no resources " + ", ".join(missing)))

        # Init containers run to completion; so do Jobs. Sidecars (restartPolicy Always) don't.
        long_running = obj.get("kind") in LONG_RUNNING and (
            what == "container" or c.get("restartPolicy") == "Always"
        )
        if long_running:
            absent = [p for p in ("livenessProbe", "readinessProbe") if not c.get(p)]
            if absent:
                out.append(Problem("probes", cwhere, "no " + " and no ".join(absent)))

        sc = c.get("securityContext") or {}
        bad = []
        if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
            bad.append("runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            bad.append("runAsUser is 0")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append("allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            bad.append("privileged")
        if sc.get("readOnlyRootFilesystem") is not True:
            bad.append("readOnlyRootFilesystem is not true")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            bad.append("capabilities do not drop ALL")
        if (sc.get("capabilities") or {}).get("add"):
            bad.append("capabilities are added")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            bad.append("seccompProfile is not RuntimeDefault")
        if bad:
            out.append(Problem("security-context", cwhere, "; ".join(bad)))
    return out


def policy_problems(objs: list[dict], forbid_secrets: bool) -> list[Problem]:
    out: list[Problem] = []
    by_ns_kind: dict[tuple[str | None, str], list[dict]] = {}
    for o in objs:
        ns = (o.get("metadata") or {}).get("namespace")
        by_ns_kind.setdefault((ns, o.get("kind")), []).append(o)

    for o in objs:
        kind = o.get("kind")
        meta = o.get("metadata") or {}
        ns = meta.get("namespace")
        where = _where(o)

        if kind == "Secret" and forbid_secrets:
            out.append(
                Problem(
                    "secret",
                    where,
                    "secret values must not be committed here: document the Secret for the "
                    "operator to create (the dev overlay may generate throwaway ones)",
                )
            )

        template = _pod_template(o)
        if template is not None:
            out += _container_problems(o, template.get("spec") or {})

        if kind in NEEDS_PDB:
            labels = ((template or {}).get("metadata") or {}).get("labels") or {}
            pdbs = by_ns_kind.get((ns, "PodDisruptionBudget"), [])
            if not any(_selector_matches((p.get("spec") or {}).get("selector"), labels) for p in pdbs):
                out.append(
                    Problem("pdb", where, "no PodDisruptionBudget selects its pods " f"{labels}")
                )

        if kind == "HorizontalPodAutoscaler":
            ref = (o.get("spec") or {}).get("scaleTargetRef") or {}
            targets = by_ns_kind.get((ns, ref.get("kind")), [])
            if not any((t.get("metadata") or {}).get("name") == ref.get("name") for t in targets):
                out.append(
                    Problem(
                        "hpa-target",
                        where,
                        f"scale target {ref.get('kind')}/{ref.get('name')} is not in this render",
                    )
                )

        if kind == "Service":
            selector = (o.get("spec") or {}).get("selector")
            if selector:
                found = False
                for (tns, tkind), items in by_ns_kind.items():
                    if tns != ns or tkind not in WORKLOAD_KINDS:
                        continue
                    for w in items:
                        labels = ((_pod_template(w) or {}).get("metadata") or {}).get("labels") or {}
                        if _selector_matches({"matchLabels": selector}, labels):
                            found = True
                if not found:
                    out.append(
                        Problem(
                            "service-selector", where, f"selector {selector} matches no pod template"
                        )
                    )
    return out


def check_documents(
    text: str, source: str, schemas: SchemaValidator, forbid_secrets: bool
) -> list[Problem]:
    try:
        objs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        return [Problem("schema", source, f"not YAML: {e}")]
    out = []
    for o in objs:
        if not isinstance(o, dict):
            out.append(Problem("schema", source, "a document that is not an object"))
            continue
        out += schemas.problems(o, _where(o))
    out += policy_problems([o for o in objs if isinstance(o, dict)], forbid_secrets)
    return out


# ---------------------------------------------------------------------------------------------
# Compose


def _expand_default(value: str) -> str:
    """`${VAR:-default}` as compose would expand it with VAR unset."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)


def compose_problems(path: Path) -> list[Problem]:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        return [Problem("compose", str(path), f"unreadable: {e}")]
    services = (doc or {}).get("services") or {}
    out = []
    if not services:
        out.append(Problem("compose", str(path), "no services"))
    for name, svc in services.items():
        where = f"{path.name} service {name}"
        image = _expand_default(str(svc.get("image", "")))
        if not image and "build" not in svc:
            out.append(Problem("compose", where, "neither image nor build"))
        elif image:
            msg = _image_problem(image)
            if msg:
                out.append(Problem("image-tag", where, msg))
        deps = svc.get("depends_on") or {}
        for dep, how in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            if dep not in services:
                out.append(Problem("compose", where, f"depends on unknown service {dep}"))
                continue
            if (how or {}).get("condition") == "service_healthy" and not services[dep].get(
                "healthcheck"
            ):
                out.append(
                    Problem("compose", where, f"waits for {dep} to be healthy; it has no healthcheck")
                )
    return out


# ---------------------------------------------------------------------------------------------
# Dockerfile


def dockerfile_problems(path: Path) -> list[Problem]:
    import dockerfile

    try:
        commands = dockerfile.parse_file(str(path))
    except (OSError, dockerfile.GoIOError, dockerfile.GoParseError) as e:
        return [Problem("dockerfile", str(path), f"does not parse: {e}")]
    out = []
    args: dict[str, str] = {}
    stages: set[str] = set()
    user = entrypoint = None
    for c in commands:
        where = f"{path.name}:{c.start_line}"
        if c.cmd == "ARG":
            for v in c.value:
                name, _, default = v.partition("=")
                args[name] = default
        elif c.cmd == "FROM":
            image = re.sub(
                r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), ""), c.value[0]
            )
            if len(c.value) >= 3 and c.value[1].upper() == "AS":
                stages.add(c.value[2])
            if image not in stages and image != "scratch":
                msg = _image_problem(image)
                if msg:
                    out.append(Problem("image-tag", where, "base " + msg))
            user = entrypoint = None  # a new stage starts
        elif c.cmd == "USER":
            user = c.value[0]
        elif c.cmd == "ENTRYPOINT":
            entrypoint = c.value
    where = f"{path.name} (final stage)"
    if user is None or user.split(":")[0] in ("0", "root"):
        out.append(Problem("dockerfile", where, "runs as root: add USER with a non-root uid"))
    if not entrypoint:
        out.append(Problem("dockerfile", where, "no ENTRYPOINT"))
    return out


# ---------------------------------------------------------------------------------------------
# Self-test


def selftest(directory: Path, schemas: SchemaValidator) -> list[str]:
    failures = []
    fixtures = sorted([*directory.glob("*.yaml"), *directory.glob("*.Dockerfile")])
    if not fixtures:
        return [f"no fixtures in {directory}"]
    for f in fixtures:
        text = f.read_text()
        expect: set[str] = set()
        for m in re.finditer(r"^# expect:(.*)$", text, re.M):
            expect.update(m.group(1).split())
        options = set()
        for m in re.finditer(r"^# options:(.*)$", text, re.M):
            options.update(m.group(1).split())
        if not expect:
            failures.append(f"{f.name}: no '# expect:' line")
            continue
        expect.discard("none")
        if f.suffix == ".Dockerfile":
            got = {p.code for p in dockerfile_problems(f)}
        elif "compose" in options:
            got = {p.code for p in compose_problems(f)}
        else:
            got = {
                p.code for p in check_documents(text, f.name, schemas, "forbid-secrets" in options)
            }
        if got != expect:
            failures.append(
                f"{f.name}: expected {sorted(expect) or 'no problem'}, got {sorted(got) or 'no problem'}"
            )
    return failures


# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubernetes-version", default="1.30", help="schemas to validate against")
    ap.add_argument(
        "--render",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="a rendered kustomization to check",
    )
    ap.add_argument(
        "--forbid-secrets",
        action="append",
        default=[],
        metavar="NAME",
        help="a render that must contain no Secret",
    )
    ap.add_argument("--compose", type=Path, action="append", default=[])
    ap.add_argument("--dockerfile", type=Path, action="append", default=[])
    ap.add_argument("--selftest", type=Path, metavar="DIR")
    args = ap.parse_args()

    started = time.monotonic()
    schemas = SchemaValidator(args.kubernetes_version)
    failed = False

    if args.selftest:
        failures = selftest(args.selftest, schemas)
        n = len([*args.selftest.glob("*.yaml"), *args.selftest.glob("*.Dockerfile")])
        if failures:
            failed = True
            print(f"deploy-check: self-test FAILED: the policy checks do not behave as the fixtures in {args.selftest} expect:")
            for line in failures:
                print(f"  {line}")
        else:
            print(f"deploy-check: self-test: {n} fixtures, each rejected (or accepted) exactly as expected")

    for spec in args.render:
        name, _, file = spec.partition("=")
        problems = check_documents(
            Path(file).read_text(), name, schemas, name in args.forbid_secrets
        )
        count = len([d for d in yaml.safe_load_all(Path(file).read_text()) if d])
        if problems:
            failed = True
            print(f"deploy-check: {name}: {len(problems)} problem(s) in {count} objects:")
            for p in problems:
                print(f"  {p}")
        else:
            print(
                f"deploy-check: {name}: {count} objects valid against Kubernetes "
                f"{schemas.version} schemas and the deployment policy"
            )

    for path in args.compose:
        problems = compose_problems(path)
        if problems:
            failed = True
            print(f"deploy-check: {path}: {len(problems)} problem(s):")
            for p in problems:
                print(f"  {p}")
        else:
            print(f"deploy-check: {path}: images pinned, dependencies and health checks consistent")

    for path in args.dockerfile:
        problems = dockerfile_problems(path)
        if problems:
            failed = True
            print(f"deploy-check: {path}: {len(problems)} problem(s):")
            for p in problems:
                print(f"  {p}")
        else:
            print(f"deploy-check: {path}: parses; base images pinned; runs as non-root with an ENTRYPOINT")

    if os.environ.get("DEPLOY_CHECK_VERBOSE"):
        print(f"deploy-check: checks took {time.monotonic() - started:.2f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
