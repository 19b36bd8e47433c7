#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, to test the cluster path of
# `ntkharness sweep emit slurm` against a real scheduler (make test-cluster).
#
#   scripts/slurm-local.sh up      install slurm-wlm and munge if missing, start the cluster
#   scripts/slurm-local.sh down    stop it and remove its folder
#   scripts/slurm-local.sh status  print whether it is up (exit 0) or not (exit 1)
#   scripts/slurm-local.sh env     print the export line the Slurm commands need
#
# Everything lives under $NTKHARNESS_SLURM_DIR (default /tmp/ntkharness-slurm):
# the configuration, a munge key and socket, state, spool, logs and pid files.
# Nothing under /etc is written, so an existing Slurm or munge set-up is left
# alone; the daemons use their own ports ($NTKHARNESS_SLURM_PORT and the next
# one, default 16817 and 16818). The commands (sinfo, sbatch, squeue, ...)
# find the cluster through SLURM_CONF=$NTKHARNESS_SLURM_DIR/slurm.conf.
#
# Both subcommands are idempotent: `up` on a running cluster does nothing,
# `down` on a stopped one does nothing. Daemons are stopped by the process
# ids in their pid files, never by name. Must run as root (the daemons run
# as root, SlurmUser=root).
set -euo pipefail

ROOT=${NTKHARNESS_SLURM_DIR:-/tmp/ntkharness-slurm}
PORT=${NTKHARNESS_SLURM_PORT:-16817}
CONF=$ROOT/slurm.conf
MUNGE_SOCKET=$ROOT/munge/munge.socket
export SLURM_CONF=$CONF

log() { echo "slurm-local: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# pid_alive FILE NAME: the process in pid file FILE is alive and is NAME.
pid_alive() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(tr -dc 0-9 <"$1")
	[ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

node_state() { sinfo -h -N -o '%T' 2>/dev/null | head -n1; }

is_up() {
	pid_alive "$ROOT/run/munged.pid" munged &&
		pid_alive "$ROOT/run/slurmctld.pid" slurmctld &&
		pid_alive "$ROOT/run/slurmd.pid" slurmd &&
		[ -n "$(node_state)" ]
}

install_packages() {
	if command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
		command -v sbatch >/dev/null && command -v munged >/dev/null; then
		return
	fi
	command -v apt-get >/dev/null || die "slurm-wlm and munge are missing and there is no apt-get to install them"
	log "installing slurm-wlm and munge with apt-get"
	# Keep the packages' init scripts from starting the system-wide daemons.
	local policy=/usr/sbin/policy-rc.d added=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		added=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	local rc=0
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; } || rc=$?
	[ -n "$added" ] && rm -f "$policy"
	[ "$rc" -eq 0 ] || die "apt-get failed (status $rc)"
}

write_conf() {
	local host cpus mem
	host=$(hostname -s)
	cpus=$(nproc --all)
	# Leave 10% and at least 512 MiB of the memory to the machine.
	mem=$(awk '/^MemTotal:/ { m = int($2 / 1024); r = m - (m > 5120 ? int(m / 10) : 512); print (r > 256 ? r : 256) }' /proc/meminfo)
	cat >"$CONF" <<EOF
# One-node cluster written by scripts/slurm-local.sh; removed by its "down".
ClusterName=ntkharness
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$ROOT/state
SlurmdSpoolDir=$ROOT/spool
SlurmctldPidFile=$ROOT/run/slurmctld.pid
SlurmdPidFile=$ROOT/run/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: they are often unavailable in containers. Jobs are tracked by
# process group, so that when a batch shell is killed (scancel --batch
# --signal=KILL) the rest of its group is killed with it; proctrack/linuxproc
# lets the orphaned children run on.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
# Finished jobs stay visible to scontrol for ten minutes (exit codes).
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munged() {
	mkdir -p "$ROOT/munge"
	chmod 700 "$ROOT/munge"
	if [ ! -s "$ROOT/munge/munge.key" ]; then
		head -c 1024 /dev/urandom >"$ROOT/munge/munge.key"
		chmod 400 "$ROOT/munge/munge.key"
	fi
	munged --force --key-file="$ROOT/munge/munge.key" --socket="$MUNGE_SOCKET" \
		--pid-file="$ROOT/run/munged.pid" --log-file="$ROOT/log/munged.log" \
		--seed-file="$ROOT/munge/munged.seed" ||
		die "munged did not start: $(tail -n 5 "$ROOT/log/munged.log" 2>/dev/null)"
}

# wait_for SECONDS CMD...: run CMD every half second until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.5
	done
}

node_idle() { [ "$(node_state)" = idle ]; }

up() {
	if is_up; then
		log "already up ($CONF, node $(node_state))"
		return
	fi
	[ "$(id -u)" -eq 0 ] || die "run as root (the daemons run as SlurmUser=root)"
	install_packages
	# A half-started cluster from an earlier run is stopped first.
	[ -d "$ROOT" ] && down
	mkdir -p "$ROOT/state" "$ROOT/spool" "$ROOT/run" "$ROOT/log"
	write_conf
	start_munged
	slurmctld -f "$CONF" || die "slurmctld did not start: $(tail -n 20 "$ROOT/log/slurmctld.log" 2>/dev/null)"
	slurmd -f "$CONF" || die "slurmd did not start: $(tail -n 20 "$ROOT/log/slurmd.log" 2>/dev/null)"
	if ! wait_for 60 node_idle; then
		log "the node is not idle after 60 s (state: '$(node_state)'); last log lines:"
		tail -n 20 "$ROOT/log/slurmctld.log" "$ROOT/log/slurmd.log" >&2 || true
		exit 1
	fi
	log "up: node $(hostname -s) idle; export SLURM_CONF=$CONF"
}

# stop FILE NAME: stop the process of pid file FILE if it is still NAME.
stop() {
	local pid
	pid_alive "$1" "$2" || return 0
	pid=$(tr -dc 0-9 <"$1")
	kill -TERM "$pid" 2>/dev/null || return 0
	if ! wait_for 20 eval "! kill -0 $pid 2>/dev/null"; then
		log "$2 ($pid) ignored SIGTERM; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

no_jobs() { [ -z "$(squeue -h -o %i 2>/dev/null)" ]; }

down() {
	if [ ! -d "$ROOT" ]; then
		log "already down"
		return
	fi
	# Jobs first, through the scheduler, so that no job step outlives it.
	if pid_alive "$ROOT/run/slurmctld.pid" slurmctld && pid_alive "$ROOT/run/slurmd.pid" slurmd && ! no_jobs; then
		log "cancelling the remaining jobs"
		squeue -h -o %A | sort -u | xargs -r scancel || true
		wait_for 30 no_jobs || log "warning: jobs still listed after 30 s"
	fi
	stop "$ROOT/run/slurmd.pid" slurmd
	stop "$ROOT/run/slurmctld.pid" slurmctld
	stop "$ROOT/run/munged.pid" munged
	rm -rf "$ROOT"
	log "down"
}

case "${1:-}" in
up) up ;;
down) down ;;
status)
	if is_up; then
		echo "up: node $(node_state); export SLURM_CONF=$CONF"
	else
		echo "down"
		exit 1
	fi
	;;
env) echo "export SLURM_CONF=$CONF" ;;
*)
	echo "usage: $0 up|down|status|env" >&2
	exit 2
	;;
esac
