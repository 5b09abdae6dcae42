#!/usr/bin/env bash
# neurodepth test cluster: bring up a real single-node Slurm cluster on localhost
# (Debian 12 / bookworm, root, no systemd needed), for tests/cluster/test_slurm.py and CI.
# Vendored from the team's local-slurm tool so the project needs nothing outside itself. Idempotent: run it again and it only starts what is not
# running; if the generated config changed, the Slurm daemons are restarted.
#
#   munged  -> [mariadbd -> slurmdbd] -> slurmctld -> slurmd -> smoke test
#
# Environment knobs (all optional):
#   LOCAL_SLURM_DBD=1          1: accounting via slurmdbd + local MariaDB, so `sacct`
#                              works (the snakemake slurm plugin's default status
#                              command). 0: no accounting (lighter); then the
#                              snakemake profile MUST set `slurm-status-command: squeue`.
#   LOCAL_SLURM_PARTITION=debug
#   LOCAL_SLURM_CPUS=$(nproc)
#   LOCAL_SLURM_MEM_MB=4000    RealMemory of the node (must be <= physical RAM)
#   LOCAL_SLURM_CLUSTER=localci
#   LOCAL_SLURM_SMOKE=1        run `srun` (and `sacct` when DBD=1) at the end
#   LOCAL_SLURM_KEEP_STATE=0   0: a (re)started slurmctld begins with a clean queue
#                              (`slurmctld -c`), so jobs/node states left by daemons
#                              that were SIGKILLed (e.g. at session end) cannot linger.
#                              1: recover the saved state instead.
#   LOCAL_SLURM_APT_ARCHIVES=  alternative apt archive cache dir (only for measuring a
#                              cold download; normally leave unset)
# Stop with tests/cluster/local_slurm_down.sh (stops the daemons by PID).
set -euo pipefail

DBD=${LOCAL_SLURM_DBD:-1}
PARTITION=${LOCAL_SLURM_PARTITION:-debug}
CPUS=${LOCAL_SLURM_CPUS:-$(nproc)}
MEM_MB=${LOCAL_SLURM_MEM_MB:-4000}
CLUSTER=${LOCAL_SLURM_CLUSTER:-localci}
SMOKE=${LOCAL_SLURM_SMOKE:-1}
KEEP_STATE=${LOCAL_SLURM_KEEP_STATE:-0}
HOST=$(hostname -s)
DB_PASS=slurmlocalpw   # local socket-only DB, test use only

T0=$SECONDS
log() { echo "[local-slurm-setup +$((SECONDS - T0))s] $*"; }
die() { echo "[local-slurm-setup] ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

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
stop_by_pid() {   # NAME PIDFILE
  local pid i
  pid=$(pid_of "$1" "$2") || return 0
  log "restarting $1: SIGTERM pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$2"
}
# wait_for SECONDS DESCRIPTION COMMAND...
wait_for() {
  local secs=$1 what=$2 i; shift 2
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "timed out after ${secs}s waiting for $what"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- packages
PKGS=(munge slurmctld slurmd slurm-client)
[ "$DBD" = 1 ] && PKGS+=(slurmdbd mariadb-server)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  APT_OPTS=(-y -q --no-install-recommends)
  if [ -n "${LOCAL_SLURM_APT_ARCHIVES:-}" ]; then
    mkdir -p "$LOCAL_SLURM_APT_ARCHIVES/partial"
    APT_OPTS+=(-o "Dir::Cache::archives=$LOCAL_SLURM_APT_ARCHIVES")
  fi
  apt-get update -q >/dev/null
  apt-get install "${APT_OPTS[@]}" "${missing[@]}" >/dev/null \
    || { log "apt-get install failed once, retrying"; sleep 5; apt-get update -q >/dev/null; apt-get install "${APT_OPTS[@]}" "${missing[@]}" >/dev/null; }
  log "packages installed"
else
  log "packages already installed"
fi
log "slurm $(slurmctld -V | awk '{print $2}'), munge $(dpkg-query -W -f='${Version}' munge)"

# ---------------------------------------------------------------- munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating munge key"
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if pid_of munged /run/munge/munged.pid >/dev/null; then
  log "munged already running"
else
  runuser -u munge -- /usr/sbin/munged
  wait_for 20 "munged" bash -c 'munge -n | unmunge'
  log "munged started (pid $(cat /run/munge/munged.pid))"
fi

# ---------------------------------------------------------------- slurm.conf
install -d -o slurm -g slurm -m 0755 /etc/slurm /var/lib/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
if [ "$DBD" = 1 ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30"
else
  ACCT="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi
NEWCONF=$(cat <<EOF
# Generated by local_slurm_up.sh: single-node Slurm on localhost, for tests only.
ClusterName=${CLUSTER}
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# no cgroups: plain /proc based process tracking, no task containment
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
# reject impossible requests at sbatch time instead of leaving them PENDING forever
EnforcePartLimits=ALL
ReturnToService=2
# keep finished jobs visible to squeue for 5 min (snakemake's squeue status mode needs >= 120 s)
MinJobAge=300
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
${ACCT}
JobCompType=jobcomp/none
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=${PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)
CONF_CHANGED=0
if [ ! -f /etc/slurm/slurm.conf ] || [ "$(cat /etc/slurm/slurm.conf)" != "$NEWCONF" ]; then
  printf '%s\n' "$NEWCONF" > /etc/slurm/slurm.conf
  chmod 0644 /etc/slurm/slurm.conf
  CONF_CHANGED=1
  log "wrote /etc/slurm/slurm.conf"
fi
if [ "$CONF_CHANGED" = 1 ]; then
  # a running cluster with a different config is restarted (jobs are lost)
  stop_by_pid slurmd /run/slurmd.pid
  stop_by_pid slurmctld /run/slurmctld.pid
fi

# ---------------------------------------------------------------- accounting (optional)
if [ "$DBD" = 1 ]; then
  install -d -o mysql -g mysql -m 0755 /run/mysqld
  if [ ! -d /var/lib/mysql/mysql ]; then
    log "initialising MariaDB datadir"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  if mariadb-admin --socket=/run/mysqld/mysqld.sock ping >/dev/null 2>&1; then
    log "MariaDB already running"
  else
    # socket only (no TCP listener); setsid + redirects: fully detached
    setsid /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql \
      --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid \
      --skip-networking --log-error=/var/log/slurm/mariadb.err \
      </dev/null >/dev/null 2>&1 &
    wait_for 60 "MariaDB" mariadb-admin --socket=/run/mysqld/mysqld.sock ping
    log "MariaDB started (pid $(cat /run/mysqld/mysqld.pid))"
  fi
  mariadb --socket=/run/mysqld/mysqld.sock -e "
    CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '${DB_PASS}';
    ALTER USER 'slurm'@'localhost' IDENTIFIED BY '${DB_PASS}';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    FLUSH PRIVILEGES;"
  NEWDBD=$(cat <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
DebugLevel=info
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=${DB_PASS}
StorageLoc=slurm_acct_db
EOF
)
  if [ ! -f /etc/slurm/slurmdbd.conf ] || [ "$(cat /etc/slurm/slurmdbd.conf)" != "$NEWDBD" ]; then
    printf '%s\n' "$NEWDBD" > /etc/slurm/slurmdbd.conf
    stop_by_pid slurmdbd /run/slurmdbd.pid
  fi
  chown slurm:slurm /etc/slurm/slurmdbd.conf
  chmod 0600 /etc/slurm/slurmdbd.conf
  if pid_of slurmdbd /run/slurmdbd.pid >/dev/null; then
    # alive but not serving (e.g. it could not reach the DB): restart it
    for ((i = 0; i < 40; i++)); do port_open 6819 && break; sleep 0.25; done
    if port_open 6819; then log "slurmdbd already running"; else stop_by_pid slurmdbd /run/slurmdbd.pid; fi
  fi
  if ! pid_of slurmdbd /run/slurmdbd.pid >/dev/null; then
    /usr/sbin/slurmdbd
    wait_for 60 "slurmdbd on port 6819 (see /var/log/slurm/slurmdbd.log)" port_open 6819
    log "slurmdbd started (pid $(cat /run/slurmdbd.pid))"
  fi
fi

# ---------------------------------------------------------------- slurmctld + slurmd
if pid_of slurmctld /run/slurmctld.pid >/dev/null; then
  log "slurmctld already running"
else
  if [ "$KEEP_STATE" = 1 ]; then /usr/sbin/slurmctld; else /usr/sbin/slurmctld -c; fi
  wait_for 60 "slurmctld (see /var/log/slurm/slurmctld.log)" bash -c 'scontrol ping | grep -q UP'
  log "slurmctld started (pid $(cat /run/slurmctld.pid))"
fi
if pid_of slurmd /run/slurmd.pid >/dev/null; then
  log "slurmd already running"
else
  /usr/sbin/slurmd
  wait_for 30 "slurmd pid file" pid_of slurmd /run/slurmd.pid
  log "slurmd started (pid $(cat /run/slurmd.pid))"
fi
node_ready() {
  local st
  st=$(sinfo -h -n "$HOST" -o '%T' 2>/dev/null | head -n1)
  case "$st" in
    idle|mixed|allocated|completing) return 0 ;;
    down*|drain*|fail*)
      scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  return 1
}
wait_for 60 "node $HOST to become idle" node_ready
if [ "$DBD" = 1 ]; then
  wait_for 30 "cluster $CLUSTER registered in slurmdbd" \
    bash -c "sacctmgr -n -P list cluster format=cluster | grep -qx '$CLUSTER'"
fi
log "cluster up: $(sinfo -h -o '%P %a %D %T %N' | tr '\n' ' ')"

# ---------------------------------------------------------------- smoke test
if [ "$SMOKE" = 1 ]; then
  SMOKE_NAME="local-slurm-smoke-$(date +%s)-$$"
  out=$(timeout 60 srun -N1 -n1 -t 1 --mem=50 -J "$SMOKE_NAME" hostname) || die "srun smoke test failed"
  log "srun smoke test ran on: $out"
  if [ "$DBD" = 1 ]; then
    # job records reach slurmdbd asynchronously; give them a few seconds
    wait_for 30 "sacct to report the smoke job" \
      bash -c "sacct -X -n -P --name '$SMOKE_NAME' -o State --starttime now-1hour | grep -q COMPLETED"
    log "sacct sees the smoke job"
  fi
fi
log "done in $((SECONDS - T0))s (accounting: $([ "$DBD" = 1 ] && echo slurmdbd || echo none))"
