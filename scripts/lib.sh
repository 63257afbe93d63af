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

# Deploy stack $2 (default: local, a stack of the local target) of the project in $1 (default:
# here), with `pulumi up` where the Pulumi
# CLI is installed (file backend, PULUMI_BACKEND_URL or .supastack/pulumi-state), otherwise with
# supastack's offline applier, which runs the same program through the same providers and says
# it is not `pulumi up`.
deploy_local_stack() {
  local project="${1:-$PWD}" stack="${2:-local}"
  export PATH="$HOME/.pulumi/bin:$PATH"
  if command -v pulumi >/dev/null; then
    # The local stack needs no passphrase: it holds no secret of its own beyond what
    # `supastack local up` generated on this machine.
    export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PWD/.supastack/pulumi-state}"
    export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
    mkdir -p "${PULUMI_BACKEND_URL#file://}"
    (cd "$project" && pulumi stack select --create "$stack" --non-interactive \
      && pulumi up --stack "$stack" --yes --non-interactive)
  else
    echo "The Pulumi CLI is not installed: deploying with supastack's offline applier."
    .venv/bin/supastack --cwd "$project" local deploy --stack "$stack"
  fi
}
