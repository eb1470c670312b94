#!/usr/bin/env bash
# Installs the Debian packages the e2e suite needs (Prometheus, Alertmanager, tmux).
# Idempotent and quick when they are already installed.
set -euo pipefail
say() { printf '[setup-deps] %s\n' "$*" >&2; }

missing=()
# prometheus ships promtool too (npm test checks and unit-tests deploy/alerts/rules.yaml with it)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
# tmux: the plugin scenario reads `kubectl sluice get rollout --watch` off a pseudo terminal
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
# sshd for the git-over-ssh tests of `npm test` (they skip, saying why, where it is missing)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
# Lua 5.1 (Argo CD's dialect) and 5.4 for npm test's check of the Argo CD health script (it skips, saying why, without them)
command -v lua5.1 >/dev/null 2>&1 || missing+=(lua5.1)
command -v lua5.4 >/dev/null 2>&1 || missing+=(lua5.4)
for tool in git kubectl openssl; do
  command -v "$tool" >/dev/null 2>&1 || { say "missing required tool: $tool"; exit 1; }
done
[ -x /usr/lib/git-core/git-http-backend ] || { say "missing /usr/lib/git-core/git-http-backend (package git)"; exit 1; }

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
say "installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
# --no-install-recommends keeps it small; the packages' services are not started
# (no systemd here) and the suite runs its own instances on free ports.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
say "installed: $(prometheus --version 2>&1 | head -1)"
