# shellcheck shell=bash
# Shared by scripts/up, scripts/test and scripts/pr-deploy: the project's Python environment,
# from the lock file (rebuilt only when requirements.txt or pyproject.toml change), and the
# deploy of the local stack.

need_root_or_sudo() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: '$*' needs root; run as root or install sudo" >&2; return 1
  fi
}

ensure_system_python() {
  if python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then return; fi
  echo "installing python3-venv (Debian)"
  need_root_or_sudo apt-get update -qq
  need_root_or_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
}

ensure_venv() {
  ensure_system_python
  local stamp=.venv/.supastack-lock
  local want
  want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  echo "installing Python dependencies into .venv (locked, hash-checked)"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
}

# Deploy stack $2 (default: local) of the project in $1 (default: here) with the engine the
# stack's target decides on (supastack/targets: for a local stack, the one recorded at its first
# deploy: `pulumi up` where the Pulumi CLI was installed then, otherwise supastack's offline
# applier, which says it is not `pulumi up`).
deploy_local_stack() {
  local project="${1:-$PWD}" stack="${2:-local}"
  .venv/bin/supastack --cwd "$project" deploy --stack "$stack"
}
