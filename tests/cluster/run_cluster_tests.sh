#!/usr/bin/env bash
# `make test-cluster`: the real-Slurm test (tests/cluster/test_slurm.py, `pytest -m cluster`).
#
# Unless a Slurm is already running, brings up a one-node Slurm on localhost with
# local_slurm_up.sh. That needs root and changes the system: on Debian 12 it apt-get installs
# munge, slurmctld, slurmd, slurm-client, slurmdbd and mariadb-server when they are missing,
# writes /etc/slurm/slurm.conf and starts the daemons. What this script started, it stops at
# the end (local_slurm_down.sh); a Slurm that was already up is left as it was.
#
# REQUIRE_SLURM=1 is set for the pytest run, so a cluster test that skips fails instead.
# Usage: run_cluster_tests.sh [PYTEST_ARGS...]   (PYTHON overrides .venv/bin/python)
set -uo pipefail
cd "$(dirname "$0")/../.."
HERE=tests/cluster
PY=${PYTHON:-.venv/bin/python}

slurm_running() {
  command -v scontrol >/dev/null 2>&1 && scontrol ping 2>/dev/null | grep -q UP
}

started=0
stop_ours() {
  if [ "$started" = 1 ]; then
    bash "$HERE/local_slurm_down.sh"
  fi
}
trap stop_ours EXIT

if slurm_running; then
  echo "[test-cluster] Slurm already running: using it and leaving it up"
else
  if [ "$(id -u)" != 0 ]; then
    echo "[test-cluster] no Slurm is running, and bringing one up needs root" \
      "(it installs Slurm with apt-get): run as root, or start Slurm yourself" >&2
    exit 1
  fi
  # the node's RealMemory must not exceed physical memory
  phys_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
  mem_mb=$((phys_mb * 8 / 10))
  [ "$mem_mb" -gt 4000 ] && mem_mb=4000
  started=1
  if ! LOCAL_SLURM_DBD=1 LOCAL_SLURM_MEM_MB="${LOCAL_SLURM_MEM_MB:-$mem_mb}" \
    timeout 900 bash "$HERE/local_slurm_up.sh"; then
    echo "[test-cluster] local_slurm_up.sh failed" >&2
    exit 1
  fi
fi

REQUIRE_SLURM=1 "$PY" -m pytest -m cluster "$@"
