#!/usr/bin/env bash
# Stop the single-node localhost Slurm cluster started by local_slurm_up.sh.
#
# Stops only the daemons that the setup script started, each by the PID in its
# own pid file (the PID is checked against /proc/PID/comm first, so a stale
# pid file never kills an unrelated process). No pkill/killall.
#
# Order: cancel jobs -> slurmd -> slurmctld -> slurmdbd -> mariadbd -> munged.
#
# Usage: local_slurm_down.sh [--purge]
#   --purge   also delete Slurm state, spool and logs (the next setup starts
#             with job id 1 and an empty queue); packages stay installed.
# Idempotent: running it when nothing is up is a no-op (exit 0).
set -uo pipefail

PURGE=0
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

log() { echo "[local-slurm-teardown] $*"; }

# pid_of NAME PIDFILE -> prints PID if PIDFILE names a live process called NAME
pid_of() {
  local name=$1 pidfile=$2 pid
  [ -r "$pidfile" ] || return 1
  pid=$(tr -dc '0-9' < "$pidfile")
  [ -n "$pid" ] || return 1
  [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ] || return 1
  alive "$pid" || return 1
  echo "$pid"
}
# alive PID -> true if PID exists and is not a zombie (PID 1 here reaps orphans late)
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# stop NAME PIDFILE [TIMEOUT_S]
stop_daemon() {
  local name=$1 pidfile=$2 timeout=${3:-30} pid i
  if ! pid=$(pid_of "$name" "$pidfile"); then
    log "$name: not running"
    rm -f "$pidfile" 2>/dev/null
    return 0
  fi
  log "$name: SIGTERM to pid $pid"
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < timeout * 10; i++)); do
    alive "$pid" || { log "$name: stopped after $((i / 10)).$((i % 10))s"; rm -f "$pidfile" 2>/dev/null; return 0; }
    sleep 0.1
  done
  log "$name: still alive after ${timeout}s, SIGKILL to pid $pid"
  kill -KILL "$pid" 2>/dev/null
  sleep 0.5
  rm -f "$pidfile" 2>/dev/null
}

# 1. cancel every job still known to slurmctld, and wait for the queue to drain
if pid_of slurmctld /run/slurmctld.pid >/dev/null; then
  jobs=$(squeue -h -o '%A' 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    log "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for ((i = 0; i < 300; i++)); do
      [ -z "$(squeue -h -t PD,R,CG,CF,S -o '%A' 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
fi

# 1b. job processes still alive on this node (e.g. slurmctld already gone, or a step
#     stuck in COMPLETING): kill exactly the PIDs that slurmd reports for job steps
if pid_of slurmd /run/slurmd.pid >/dev/null; then
  pids=$(scontrol listpids 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1}' | tr '\n' ' ')
  if [ -n "${pids// /}" ]; then
    log "killing leftover job processes: $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 1
  fi
fi

# 2. daemons, reverse start order
stop_daemon slurmd    /run/slurmd.pid    30
stop_daemon slurmctld /run/slurmctld.pid 30
stop_daemon slurmdbd  /run/slurmdbd.pid  30
stop_daemon mariadbd  /run/mysqld/mysqld.pid 60
stop_daemon munged    /run/munge/munged.pid 15

if [ "$PURGE" = 1 ]; then
  log "purging Slurm state, spool and logs"
  rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/* /var/log/slurm/*.log /var/log/slurm/*.log.* 2>/dev/null
fi
log "done"
exit 0
