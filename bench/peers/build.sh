#!/usr/bin/env bash
# Builds the peer controllers the benchmark compares Sluice with, from their published Go
# modules (Go module proxy), once, into a cache outside the repository keyed by version, and
# extracts their CRDs from the module zips. Nothing built or fetched here is committed.
#   Argo Rollouts (cmd/rollouts-controller): its go.mod pins the k8s.io modules with a replace
#     block, which `go install mod@version` refuses; so it is built through a generated wrapper
#     module that requires it and copies that block (as e2e/cluster/build.sh does for Kubernetes).
#   Flagger (cmd/flagger): plain `go install`.
# Usage: build.sh   (prints "argo-rollouts <dir>" and "flagger <dir>" last; each dir holds bin/ and crds/)
# Versions: SLUICE_ARGO_ROLLOUTS_VERSION (v1.10.1), SLUICE_FLAGGER_VERSION (v1.41.0). Known:
# Argo Rollouts v1.10.2 and v1.9.3 declare a newer Go than 1.26.8; Flagger v1.42.0 is not on the proxy.
set -euo pipefail

ARGO_VERSION="${SLUICE_ARGO_ROLLOUTS_VERSION:-v1.10.1}"
FLAGGER_VERSION="${SLUICE_FLAGGER_VERSION:-v1.41.0}"
CACHE="${SLUICE_CACHE:-$HOME/.cache/sluice}"
ARGO_DIR="$CACHE/peers/argo-rollouts-$ARGO_VERSION"
FLAGGER_DIR="$CACHE/peers/flagger-$FLAGGER_VERSION"
ARGO_MOD=github.com/argoproj/argo-rollouts
FLAGGER_MOD=github.com/fluxcd/flagger
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
mkdir -p "$CACHE/peers"
# One build at a time per cache (a second run waits, then finds the binaries).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.peers-build.lock"
  flock 9
fi

say() { printf '[peers-build] %s\n' "$*" >&2; }
# Directory of a module version in the module cache (downloads its zip when missing).
moddir() { go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p'; }

if [ ! -x "$ARGO_DIR/bin/rollouts-controller" ]; then
  say "building Argo Rollouts $ARGO_VERSION (first run only; several minutes on 2 cores)"
  work="$ARGO_DIR/build"
  mkdir -p "$work" "$ARGO_DIR/bin"
  proxy="$(go env GOPROXY | cut -d, -f1)"
  mod="$(curl -fsS "$proxy/$ARGO_MOD/@v/$ARGO_VERSION.mod")"
  go_line="$(printf '%s\n' "$mod" | awk '$1=="go"{print; exit}')"
  {
    echo "module sluice.dev/bench-argo-rollouts"
    echo
    echo "$go_line"
    echo
    echo "require $ARGO_MOD $ARGO_VERSION"
    echo
    # the replace block of the release's go.mod, as is (a module's replaces only apply in
    # the main module, so the wrapper must restate them)
    printf '%s\n' "$mod" | awk '/^replace \(/{on=1} on{print} on&&/^\)/{on=0}'
    printf '%s\n' "$mod" | awk '/^replace [^(]/{print}'
  } > "$work/go.mod"
  cat > "$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
GO
  cd "$work"
  say "resolving modules ($go_line)"
  go mod tidy -e >"$work/tidy.log" 2>&1 || { cat "$work/tidy.log" >&2; exit 1; }
  say "go build rollouts-controller"
  ld="-s -w -X $ARGO_MOD/utils/version.version=${ARGO_VERSION#v} -X $ARGO_MOD/utils/version.gitTreeState=clean"
  go build -trimpath -ldflags "$ld" -o "$ARGO_DIR/bin/rollouts-controller.tmp" "$ARGO_MOD/cmd/rollouts-controller"
  mv "$ARGO_DIR/bin/rollouts-controller.tmp" "$ARGO_DIR/bin/rollouts-controller"
fi
if [ ! -f "$ARGO_DIR/crds/rollout-crd.yaml" ]; then
  say "extracting Argo Rollouts $ARGO_VERSION CRDs"
  src="$(moddir "$ARGO_MOD" "$ARGO_VERSION")"
  mkdir -p "$ARGO_DIR/crds"
  cp "$src"/manifests/crds/*-crd.yaml "$ARGO_DIR/crds/"
  chmod u+w "$ARGO_DIR"/crds/*
fi

if [ ! -x "$FLAGGER_DIR/bin/flagger" ]; then
  say "go install Flagger $FLAGGER_VERSION"
  mkdir -p "$FLAGGER_DIR/bin"
  GOBIN="$FLAGGER_DIR/bin" go install -trimpath -ldflags "-s -w" "$FLAGGER_MOD/cmd/flagger@$FLAGGER_VERSION"
fi
if [ ! -f "$FLAGGER_DIR/crds/crd.yaml" ]; then
  say "extracting Flagger $FLAGGER_VERSION CRDs"
  src="$(moddir "$FLAGGER_MOD" "$FLAGGER_VERSION")"
  mkdir -p "$FLAGGER_DIR/crds"
  cp "$src/artifacts/flagger/crd.yaml" "$FLAGGER_DIR/crds/crd.yaml"
  chmod u+w "$FLAGGER_DIR"/crds/*
fi

say "peers ready in $CACHE/peers"
echo "argo-rollouts $ARGO_DIR"
echo "flagger $FLAGGER_DIR"
