#!/usr/bin/env bash
# Sourced by the .ci set-up scripts: apt_install SCRIPT ARGS... installs Debian packages as root or
# through sudo, refreshing the package lists only when the first try fails.
apt_install() {
  local script=$1
  shift
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "$script: need root or sudo to apt-get install $*" >&2; return 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
  fi
}
