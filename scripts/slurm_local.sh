#!/usr/bin/env bash
# Starts a throwaway one-node Slurm cluster on this machine, runs a sharded sweep on it with
# examples/slurm/sweep.sbatch (an array of SHARDS tasks) and the dependent examples/slurm/merge.sbatch,
# and checks that the merged sweep.csv is byte-identical to the one of an unsharded sweep.
#
#   scripts/slurm_local.sh [BINARY [SCENARIO]]
#       BINARY    default target/release/meanfield
#       SCENARIO  default tests/scenarios/sweep/tiny.toml
#
# Environment: SWEEP_ARGS (more sweep options for every sweep, e.g. "--widths 16,64 --seeds 2"),
# SHARDS (default 2), TIMEOUT (seconds to wait for the jobs, default 1800), KEEP=1 (keep the work
# directory), SLURM_LOCAL_DIR (work directory, default ${TMPDIR:-/tmp}/meanfield-slurm-local),
# SLURM_LOCAL_PORT (slurmctld port, slurmd uses the next one; default 16817), SKIP_UNAVAILABLE=1
# (exit 0 with a message when the packages cannot be installed: used by .ci/run).
#
# Needs root: it installs slurmctld, slurmd, slurm-client and munge with apt-get when they are
# missing (Debian bookworm: Slurm 22.05) and runs the daemons as root. Everything else lives in
# the work directory: its own munge key and socket, slurm.conf, state, spool and logs. The daemons
# are stopped on exit, failure included; the work directory is removed after a success (kept after
# a failure, for its logs) and at the start of the next run. See docs/cluster.md.
set -euo pipefail

die() {
    echo "slurm_local: error: $*" >&2
    exit 1
}
log() { echo "slurm_local: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(abspath "${1:-$repo/target/release/meanfield}")
scenario=$(abspath "${2:-$repo/tests/scenarios/sweep/tiny.toml}")
shards=${SHARDS:-2}
timeout=${TIMEOUT:-1800}
base=${SLURM_LOCAL_DIR:-${TMPDIR:-/tmp}/meanfield-slurm-local}
port=${SLURM_LOCAL_PORT:-16817}
sweep_args=${SWEEP_ARGS:-}

[ "$(id -u)" = 0 ] || die "run me as root (apt-get install, Slurm daemons with SlurmUser=root)"
[ -x "$bin" ] || die "binary $bin is not an executable (build it: cargo build --release)"
[ -f "$scenario" ] || die "scenario $scenario is not a file"
[[ $shards =~ ^[1-9][0-9]*$ ]] || die "SHARDS=$shards is not a positive integer"
for f in sweep.sbatch merge.sbatch; do
    [ -f "$repo/examples/slurm/$f" ] || die "missing $repo/examples/slurm/$f"
done

# Variables of an enclosing Slurm job would leak into the jobs submitted here: drop them.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^SLURM_' || true)

# One run at a time: the lock is held until this script exits.
mkdir -p "$(dirname "$base")"
exec 9>"$base.lock"
flock -n 9 || die "another slurm_local.sh holds $base.lock"

# --- stopping the cluster, also what an earlier run left behind (if it was killed with SIGKILL):
# only processes of our own cluster. The daemons are known by their pid file and a command line that
# names the work directory, the jobs' processes by SLURM_CONF=<work directory>/etc/slurm.conf in
# their environment (the daemons were started with it).
stop_pid() { # pid: SIGTERM, up to 10 s, then SIGKILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}
daemon_pid() { # name: its pid if it runs, else nothing
    local pid
    [ -f "$base/run/$1.pid" ] || return 0
    pid=$(cat "$base/run/$1.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"$base/"* ]]; then
        echo "$pid"
    fi
}
stop_cluster() {
    local name pid p e i ids c=$base/etc/slurm.conf
    # 1. the jobs, through our slurmctld while it runs
    if [ -n "$(daemon_pid slurmctld)" ]; then
        ids=$(SLURM_CONF=$c squeue -h -o %i 2>/dev/null | xargs)
        if [ -n "$ids" ]; then
            log "cancelling jobs $ids"
            SLURM_CONF=$c scancel --partition=local 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do
                [ -z "$(SLURM_CONF=$c squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.1
            done
        fi
    fi
    # 2. the daemons, slurmd first
    for name in slurmd slurmctld munged; do
        pid=$(daemon_pid "$name")
        [ -z "$pid" ] || stop_pid "$pid"
        rm -f "$base/run/$name.pid"
    done
    # 3. stragglers: a slurmstepd, or a job's process (it has SLURM_JOB_ID), with our SLURM_CONF
    # in its environment, left behind when slurmd was killed. Not a shell that merely exported
    # SLURM_CONF to look at this cluster. Read with builtins only.
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" != $$ ] || continue
        ours=0 job=0
        while IFS= read -r -d '' e; do
            case $e in
                "SLURM_CONF=$c") ours=1 ;;
                SLURM_JOB_ID=*) job=1 ;;
            esac
        done 2>/dev/null <"$p/environ" || true
        [ "$ours" = 1 ] || continue
        read -r name 2>/dev/null <"$p/comm" || continue
        if [ "$job" = 1 ] || [ "$name" = slurmstepd ]; then
            log "stopping leftover process $pid ($name)"
            stop_pid "$pid"
        fi
    done
}
# rm -rf only a directory that this script made (it holds the marker file), never another one.
if [ -e "$base" ] && [ ! -e "$base/.slurm_local" ]; then
    [ -z "$(ls -A "$base" 2>/dev/null)" ] || die "$base exists and was not made by me: remove it or set SLURM_LOCAL_DIR"
fi
stop_cluster
rm -rf "$base"
mkdir -p "$base"/{etc,run,log,state,spool,munge,jobs}
touch "$base/.slurm_local"
# munged wants its socket directory open to all (the key itself is 0400).
chmod 755 "$base" "$base/munge"

ok=0
cleanup() {
    local rc=$?
    set +e
    trap - ERR
    stop_cluster
    if [ "$ok" = 1 ] && [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$base"
    else
        log "work directory kept: $base (logs in $base/log, job logs in $base/jobs)"
    fi
    [ "$rc" = 0 ] || echo "slurm_local: FAILED (exit code $rc)" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "slurm_local: error: command failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

show_logs() { # the tails of the daemons' logs and of the job logs, after a failure
    local f
    for f in "$base"/log/*.log "$base"/jobs/*.out; do
        [ -f "$f" ] || continue
        echo "----- $f (last 20 lines)" >&2
        tail -n 20 "$f" >&2
    done
}

# --- packages
t0=$(now)
missing=()
for p in slurmctld slurmd slurm-client munge; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get"
    log "installing ${missing[*]} with apt-get"
    # No service may start during the installation (no init system here, and we start our own
    # daemons): a policy-rc.d that denies every start, unless one is already in place.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$base/log/apt.log" 2>&1; then
        apt-get update -q >>"$base/log/apt.log" 2>&1 || true
        apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$base/log/apt.log" 2>&1 ||
            { [ -z "$policy" ] || rm -f "$policy"; tail -n 20 "$base/log/apt.log" >&2
              if [ "${SKIP_UNAVAILABLE:-0}" = 1 ]; then
                  log "SKIPPED: the Slurm packages cannot be installed here (SKIP_UNAVAILABLE=1)"
                  exit 0
              fi
              die "apt-get install failed"; }
    fi
    [ -z "$policy" ] || rm -f "$policy"
    t_apt="$(since "$t0") s"
else
    t_apt="0 s (already installed)"
fi
log "packages: $t_apt; $(slurmctld -V)"

# --- munge: a key and a socket of our own, so that no system munged is needed nor disturbed
t0=$(now)
dd if=/dev/urandom of="$base/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$base/munge/munge.key"
sock=$base/munge/munge.socket
munged --foreground --force --key-file="$base/munge/munge.key" --socket="$sock" \
    --pid-file="$base/munge/munged.pid" --seed-file="$base/munge/munged.seed" \
    --log-file="$base/log/munged.log" </dev/null >>"$base/log/munged.log" 2>&1 9>&- &
echo $! >"$base/run/munged.pid"
for ((i = 0; i < 100; i++)); do
    [ -S "$sock" ] && break
    sleep 0.1
done
munge -n -S "$sock" </dev/null | unmunge -S "$sock" >/dev/null 2>&1 ||
    { show_logs; die "munged does not answer on $sock"; }

# --- slurm.conf: one node, this machine, all of its CPUs; no cgroups, no accounting database
node=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
conf=$base/etc/slurm.conf
cat >"$conf" <<EOF
ClusterName=mflocal
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool
SlurmctldPidFile=$base/run/slurmctld.daemon.pid
SlurmdPidFile=$base/run/slurmd.daemon.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ReturnToService=2
MinJobAge=3600
KillWait=5
InactiveLimit=0
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf

# The daemons must not inherit fd 9, or the lock would outlive this script with them.
slurmctld -D -i -f "$conf" </dev/null >>"$base/log/slurmctld.stdout" 2>&1 9>&- &
echo $! >"$base/run/slurmctld.pid"
slurmd -D -N "$node" -f "$conf" </dev/null >>"$base/log/slurmd.stdout" 2>&1 9>&- &
echo $! >"$base/run/slurmd.pid"

check_daemons() {
    local name
    for name in munged slurmctld slurmd; do
        kill -0 "$(cat "$base/run/$name.pid")" 2>/dev/null || { show_logs; die "$name exited ($1)"; }
    done
}
state=""
for ((i = 0; i < 600; i++)); do
    check_daemons "at start"
    state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.1
done
[ "$state" = idle ] || { show_logs; die "node $node is not idle after 60 s (state '${state:-none}')"; }
t_start=$(since "$t0")
log "cluster up in $t_start s: node $node, $cpus CPUs, ${mem_mb} MB, slurm.conf $conf"

# --- the sharded sweep and its merge, submitted exactly as docs/cluster.md shows
per_task=$((cpus / shards))
[ "$per_task" -ge 1 ] || per_task=1
export MEANFIELD=$bin SCENARIO=$scenario OUT=$base/sharded SWEEP_ARGS=$sweep_args
unset SHARDS PER_SHARD MERGE_DIRS JOBS RAYON_NUM_THREADS
cd "$base/jobs"
t0=$(now)
# The example asks for 8 CPUs and 2 GB per CPU: scaled down to this machine.
jid=$(sbatch --parsable --array=0-$((shards - 1)) --cpus-per-task="$per_task" \
    --mem-per-cpu=$((mem_mb / cpus))M "$repo/examples/slurm/sweep.sbatch") ||
    { show_logs; die "sbatch of the array failed"; }
jid=${jid%%;*}
mid=$(sbatch --parsable --dependency=afterok:"$jid" "$repo/examples/slurm/merge.sbatch") ||
    { show_logs; die "sbatch of the merge failed"; }
mid=${mid%%;*}
log "submitted array job $jid ($shards shards, $per_task CPUs each) and merge job $mid (afterok:$jid)"

t_array=""
while :; do
    check_daemons "while the jobs ran"
    if [ -z "$t_array" ] && [ -z "$(squeue -h -o %i -j "$jid")" ]; then
        t_array=$(since "$t0")
        log "array done after $t_array s"
    fi
    if [ -n "$t_array" ]; then
        q=$(squeue -h -o '%T %r' -j "$mid")
        [ -z "$q" ] && break
        case $q in *DependencyNeverSatisfied*) break ;; esac
    fi
    awk -v e="$(since "$t0")" -v t="$timeout" 'BEGIN { exit !(e > t) }' &&
        { show_logs; die "jobs not finished after $timeout s (TIMEOUT)"; }
    sleep 0.2
done
t_total=$(since "$t0")
t_merge=$(awk -v a="$t_array" -v b="$t_total" 'BEGIN { printf "%.1f", b - a }')

# Job states stay in slurmctld's memory for MinJobAge (no slurmdbd, so no sacct).
states=$(scontrol -o show job "$jid" | grep -o 'JobState=[A-Z_]*' | sort | uniq -c | xargs)
mstate=$(scontrol -o show job "$mid" | grep -o 'JobState=[A-Z_]*')
runtimes=$({ scontrol -o show job "$jid"; scontrol -o show job "$mid"; } 2>/dev/null | grep -o 'RunTime=[0-9:-]*' | cut -d= -f2 | xargs)
log "array tasks: $states; merge: $mstate; run times (array tasks, merge): $runtimes"
if [ "$states" != "$shards JobState=COMPLETED" ] || [ "$mstate" != JobState=COMPLETED ]; then
    show_logs
    die "the jobs did not all complete (array: $states; merge: $mstate)"
fi
[ -f "$base/sharded/sweep.csv" ] || { show_logs; die "the merge wrote no $base/sharded/sweep.csv"; }
for f in "$base"/jobs/*.out; do
    echo "----- ${f##*/}"
    cat "$f"
done

# --- the same sweep unsharded, outside Slurm, and the comparison
t0=$(now)
read -r -a extra <<<"$sweep_args"
rc=0
"$bin" sweep "$scenario" --out "$base/unsharded" --quiet ${extra[@]+"${extra[@]}"} || rc=$?
# 3 (a run diverged) counts as done, as in sweep.sbatch
[ "$rc" = 0 ] || [ "$rc" = 3 ] || die "the unsharded sweep failed (exit code $rc)"
t_plain=$(since "$t0")
[ -f "$base/unsharded/sweep.csv" ] || die "the unsharded sweep wrote no sweep.csv"
cmp "$base/sharded/sweep.csv" "$base/unsharded/sweep.csv" ||
    die "merged sweep.csv of $shards shards differs from the unsharded one"
log "merged sweep.csv ($(($(wc -l <"$base/sharded/sweep.csv") - 1)) rows) == unsharded sweep.csv"

echo "slurm_local: timings"
printf '  %-38s %s\n' "apt install" "$t_apt" \
    "cluster start (munged, daemons, idle)" "$t_start s" \
    "array of $shards shards (submit to done)" "$t_array s" \
    "merge (array done to merge done)" "$t_merge s" \
    "round trip (submit to merged)" "$t_total s" \
    "unsharded sweep, without Slurm" "$t_plain s"
ok=1
log "OK"
