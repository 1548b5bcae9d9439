#!/usr/bin/env bash
# System packages of `tox -e container` (tests/container), from Debian: podman to build and run the image,
# runc as its runtime (crun refuses the cgroup setup of these machines), and mmdebstrap to make the test
# base image from Debian's packages (no image registry can be reached). Called by .ci/run; about a minute.
set -euo pipefail
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
if ((${#missing[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
