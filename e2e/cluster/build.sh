#!/usr/bin/env bash
# Builds the local cluster's binaries from the Go module proxy, once, into a cache
# outside the repository keyed by version. Prints progress; exits non-zero with the
# Go error when a build fails. Usage: build.sh  (prints the bin directory last)
set -euo pipefail

K8S_VERSION="${SLUICE_K8S_VERSION:-v1.35.4}"
KWOK_VERSION="${SLUICE_KWOK_VERSION:-v0.7.0}"
CACHE="${SLUICE_CACHE:-$HOME/.cache/sluice}"
BIN="$CACHE/cluster-$K8S_VERSION-kwok-$KWOK_VERSION/bin"
here="$(cd "$(dirname "$0")" && pwd)"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
mkdir -p "$BIN"
# One build at a time per cache (a second run waits, then finds the binaries).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.build.lock"
  flock 9
fi

say() { printf '[cluster-build] %s\n' "$*" >&2; }
need() { for b in "$@"; do [ -x "$BIN/$b" ] || return 0; done; return 1; }

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"; patch="${K8S_VERSION##*.}"
work="$CACHE/build-$K8S_VERSION"
mkdir -p "$work"

built=0
if need kube-apiserver kube-controller-manager kube-scheduler etcd; then
  built=1
  say "building Kubernetes $K8S_VERSION (first run only; about 7 minutes on 2 cores, longer on a busy machine)"
  proxy="$(go env GOPROXY | cut -d, -f1)"
  mod="$(curl -fsS "$proxy/k8s.io/kubernetes/@v/$K8S_VERSION.mod")"
  # Every staging module is required as v0.0.0 and replaced by a local path in the
  # release's go.mod; point each at its published v0.<minor>.<patch> instead.
  staging="$(printf '%s\n' "$mod" | awk '/=> .\/staging\/src\//{print $1}' | sort -u)"
  etcd_version="$(printf '%s\n' "$mod" | awk '$1=="go.etcd.io/etcd/client/v3"{print $2; exit}')"
  {
    echo "module sluice.dev/e2e-cluster"
    echo
    echo "go 1.25.0"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes $K8S_VERSION"
    echo "	go.etcd.io/etcd/server/v3 $etcd_version"
    echo ")"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m v0.0.0 => $m v0.$minor.$patch"; done
    echo ")"
  } > "$work/go.mod"
  cat > "$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  cd "$work"
  say "resolving modules (etcd $etcd_version)"
  go mod tidy -e >"$work/tidy.log" 2>&1 || { cat "$work/tidy.log" >&2; exit 1; }
  pkg=k8s.io/component-base/version
  ld="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    [ -x "$BIN/$c" ] && continue
    say "go build $c"
    go build -trimpath -ldflags "$ld" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c"
    mv "$BIN/$c.tmp" "$BIN/$c"
  done
  if [ ! -x "$BIN/etcd" ]; then
    say "go build etcd $etcd_version"
    go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
    mv "$BIN/etcd.tmp" "$BIN/etcd"
  fi
fi

if need kwok; then
  built=1
  say "go install kwok $KWOK_VERSION"
  GOBIN="$BIN" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
fi
if [ "$built" = 1 ]; then say "built in $((SECONDS / 60)) min $((SECONDS % 60)) s"; fi
say "binaries ready in $BIN"
echo "$BIN"
