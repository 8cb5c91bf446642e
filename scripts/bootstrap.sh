#!/usr/bin/env bash
# Set up everything relouphone needs on a fresh Debian / Raspberry Pi OS machine:
# system packages (as root, or through sudo), then a virtualenv in .venv with the
# package installed in editable mode. Safe to run again: it only does what is missing.
#   scripts/bootstrap.sh          # what the daemon and the demo need
#   scripts/bootstrap.sh --test   # plus the test tools (pytest, hypothesis, ruff, gammu-smsd)
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=false
[ "${1:-}" = "--test" ] && with_tests=true

# systemd-python compiles against libsystemd: it needs these to build.
packages=(pkg-config libsystemd-dev gcc python3-dev python3-venv)
$with_tests && packages+=(gammu-smsd)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "bootstrap: installing system packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: relouphone needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
  exit 1
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv

# Reinstall only when the declared dependencies changed.
extras=""
$with_tests && extras="[test]"
stamp=".venv/.relouphone-installed${extras}"
want=$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing relouphone${extras} into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}" >&2
  echo "$want" > "$stamp"
fi
