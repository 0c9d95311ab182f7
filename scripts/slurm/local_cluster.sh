#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for tests of the SLURM profile and of
# scripts/submit_run.py. Debian 12, root, no systemd needed.
#
#   scripts/slurm/local_cluster.sh up       # install if missing, configure, start, wait for idle node
#   scripts/slurm/local_cluster.sh status   # daemons, node state, queue; exit 0 only when usable
#   scripts/slurm/local_cluster.sh down     # cancel jobs, stop daemons, remove state
#
# Environment:
#   FACTGAP_SLURM_STATE   state directory (default /tmp/factgap-slurm); also --state-dir DIR
#   FACTGAP_SLURM_GPUS    number of fake A100 GPUs (default 2)
#   FACTGAP_SLURM_CPUS    CPUs the node advertises (default $(nproc)); more than nproc oversubscribes
#                         the machine (SlurmdParameters=config_overrides), e.g. for tests that run
#                         controller jobs and their rule jobs side by side on 2 cores
#   FACTGAP_SLURM_NO_INSTALL=1  never run apt-get (fail with exit code 3 when packages are missing)
#
# The node is `hostname -s` with CPUs=$(nproc), RealMemory at 85% of MemTotal, partition `debug`
# (default), and fake GPUs: character devices (major 195, like /dev/nvidiaN) that SLURM schedules
# as gres gpu:a100, so jobs asking for a GPU get CUDA_VISIBLE_DEVICES. No accounting database:
# `sacct` does not work, use `squeue` as the status command (profiles/slurm-test does).
# /etc/slurm/slurm.conf and /etc/slurm/gres.conf become symlinks into the state directory so that
# every client (sbatch, squeue, submitit, the Snakemake plugin) finds the cluster without SLURM_CONF.
#
# Exit codes: 0 ok, 1 usage/runtime error, 2 daemons failed to come up, 3 cannot install packages,
#             4 another SLURM configuration is in the way.
set -euo pipefail

STATE="${FACTGAP_SLURM_STATE:-/tmp/factgap-slurm}"
NGPUS="${FACTGAP_SLURM_GPUS:-2}"
PARTITION=debug
ETC=/etc/slurm
MARKER="# factgap local cluster"

log() { printf '[local_cluster] %s\n' "$*" >&2; }
die() { local code="$1"; shift; printf '[local_cluster] ERROR: %s\n' "$*" >&2; exit "$code"; }

usage() {
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
    exit 1
}

CMD=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        up|down|status) CMD="$1" ;;
        --state-dir) shift; STATE="${1:?--state-dir needs a value}" ;;
        --state-dir=*) STATE="${1#*=}" ;;
        -h|--help) usage ;;
        *) log "unknown argument: $1"; usage ;;
    esac
    shift
done
[[ -n "$CMD" ]] || usage
STATE="$(realpath -m "$STATE")"
HOST="$(hostname -s)"

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

need_root() { [[ "$(id -u)" == 0 ]] || die 1 "must run as root (installs packages, starts munged/slurmd)"; }

install_packages() {
    local missing=()
    for b in slurmctld slurmd sbatch squeue sinfo scontrol munged munge; do
        command -v "$b" >/dev/null 2>&1 || missing+=("$b")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ "${FACTGAP_SLURM_NO_INSTALL:-0}" == 1 ]] && die 3 "missing ${missing[*]} and FACTGAP_SLURM_NO_INSTALL=1"
    command -v apt-get >/dev/null 2>&1 || die 3 "missing ${missing[*]} and no apt-get to install them"
    log "installing slurm-wlm slurmctld slurmd slurm-client munge (missing: ${missing[*]})"
    local pkgs=(slurm-wlm slurmctld slurmd slurm-client munge)
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${pkgs[@]}" >"$STATE/apt.log" 2>&1; then
        log "apt-get install failed; running apt-get update once and retrying"
        apt-get update >>"$STATE/apt.log" 2>&1 || true
        apt-get install -y --no-install-recommends "${pkgs[@]}" >>"$STATE/apt.log" 2>&1 \
            || die 3 "apt-get install failed, see $STATE/apt.log: $(tail -3 "$STATE/apt.log" | tr '\n' ' ')"
    fi
}

# munged: reuse a running one (the socket answers), else start it as user munge.
start_munge() {
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        log "munged already running"
        return 0
    fi
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        install -d -o munge -g munge -m 0700 /etc/munge
        if command -v mungekey >/dev/null 2>&1; then
            runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
        chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
    fi
    rm -f /run/munge/munged.pid
    runuser -u munge -- munged --force >"$STATE/log/munged.out" 2>&1 \
        || die 2 "munged failed to start: $(cat "$STATE/log/munged.out")"
    touch "$STATE/munged.started-by-us"
    for _ in $(seq 50); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die 2 "munged started but does not answer (see /var/log/munge/munged.log)"
}

write_config() {
    local ncpu mem_total_mb real_mem
    ncpu="${FACTGAP_SLURM_CPUS:-$(nproc)}"
    mem_total_mb="$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)"
    real_mem=$(( mem_total_mb * 85 / 100 ))
    mkdir -p "$STATE"/{ctld,spool,log,dev}
    local i
    for ((i = 0; i < NGPUS; i++)); do
        if [[ ! -c "$STATE/dev/nvidia$i" ]]; then
            rm -f "$STATE/dev/nvidia$i"
            mknod "$STATE/dev/nvidia$i" c 195 "$i" \
                || die 1 "mknod $STATE/dev/nvidia$i failed (needs CAP_MKNOD); SLURM rejects plain files as GPUs"
        fi
    done
    local gres_line="" gres_files=""
    if (( NGPUS > 0 )); then
        gres_line=" Gres=gpu:a100:$NGPUS"
        if (( NGPUS == 1 )); then gres_files="$STATE/dev/nvidia0"; else gres_files="$STATE/dev/nvidia[0-$((NGPUS - 1))]"; fi
    fi
    cat >"$STATE/slurm.conf" <<EOF
$MARKER (written by scripts/slurm/local_cluster.sh; state in $STATE)
ClusterName=factgap
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
# container-friendly: no cgroups, no accounting
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# trust the CPUs/RealMemory below even when they exceed the hardware (FACTGAP_SLURM_CPUS)
SlurmdParameters=config_overrides
# keep finished jobs visible to squeue (the status command without sacct) for an hour
MinJobAge=3600
DefMemPerCPU=512
KillWait=5
InactiveLimit=0
JobRequeue=1
SchedulerParameters=sched_interval=1,bf_interval=1
GresTypes=gpu
NodeName=$HOST CPUs=$ncpu RealMemory=$real_mem${gres_line} State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    {
        echo "$MARKER"
        echo "AutoDetect=off"
        [[ -n "$gres_files" ]] && echo "NodeName=$HOST Name=gpu Type=a100 File=$gres_files"
    } >"$STATE/gres.conf"
}

# /etc/slurm/{slurm,gres}.conf -> state dir, refusing to replace a configuration that is not ours.
link_config() {
    mkdir -p "$ETC"
    local f
    for f in slurm.conf gres.conf; do
        if [[ -e "$ETC/$f" || -L "$ETC/$f" ]]; then
            if [[ -L "$ETC/$f" ]] && head -1 "$ETC/$f" 2>/dev/null | grep -q "^$MARKER" \
                || [[ -L "$ETC/$f" && ! -e "$ETC/$f" ]]; then
                rm -f "$ETC/$f"
            elif [[ "$(readlink -f "$ETC/$f")" == "$STATE/$f" ]]; then
                continue
            else
                die 4 "$ETC/$f exists and is not a factgap local cluster config; move it away first"
            fi
        fi
        ln -s "$STATE/$f" "$ETC/$f"
    done
}

node_state() { sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | head -1 || true; }

is_up() {
    pid_alive "$STATE/slurmctld.pid" && pid_alive "$STATE/slurmd.pid" || return 1
    case "$(node_state)" in idle*|mixed*|allocated*|completing*) return 0 ;; *) return 1 ;; esac
}

start_daemons() {
    local t0
    t0=$(date +%s.%N)
    if ! pid_alive "$STATE/slurmctld.pid"; then
        # -i: ignore state files from an earlier run of this directory
        setsid slurmctld -D -i -f "$STATE/slurm.conf" >"$STATE/log/slurmctld.out" 2>&1 </dev/null &
        echo $! >"$STATE/slurmctld.pid"
    fi
    if ! pid_alive "$STATE/slurmd.pid"; then
        setsid slurmd -D -f "$STATE/slurm.conf" >"$STATE/log/slurmd.out" 2>&1 </dev/null &
        echo $! >"$STATE/slurmd.pid"
    fi
    local st="" i
    for i in $(seq 300); do
        pid_alive "$STATE/slurmctld.pid" || die 2 "slurmctld exited: $(tail -5 "$STATE/log/slurmctld.out" "$STATE/log/slurmctld.log" 2>/dev/null)"
        pid_alive "$STATE/slurmd.pid" || die 2 "slurmd exited: $(tail -5 "$STATE/log/slurmd.out" "$STATE/log/slurmd.log" 2>/dev/null)"
        st="$(node_state)"
        case "$st" in
            idle*) break ;;
            down*|drain*|drained*)
                scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
        esac
        sleep 0.2
    done
    [[ "$st" == idle* ]] || die 2 "node $HOST is '$st' after 60 s; see $STATE/log/"
    log "cluster up: node $HOST idle after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
}

cmd_up() {
    need_root
    mkdir -p "$STATE/log"
    install_packages
    if is_up; then
        log "already up (state $STATE)"
        cmd_status
        return 0
    fi
    write_config
    link_config
    start_munge
    start_daemons
    sinfo -N -o '%N %P %T %c %m %G' >&2
}

cmd_status() {
    local ok=0
    for d in slurmctld slurmd; do
        if pid_alive "$STATE/$d.pid"; then log "$d running (pid $(cat "$STATE/$d.pid"))"
        else log "$d not running"; ok=1; fi
    done
    if command -v sinfo >/dev/null 2>&1 && [[ $ok == 0 ]]; then
        sinfo -N -o '%N %P %T %c %m %G' 2>&1 || ok=1
        squeue -o '%i %P %j %T %M %b' 2>&1 || ok=1
        is_up || { log "node is not usable: '$(node_state)'"; ok=1; }
    fi
    [[ $ok == 0 ]] && log "status: up (state $STATE)" || log "status: down (state $STATE)"
    return $ok
}

stop_pid() {
    local pidfile="$1" name="$2" pid i
    pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "$name did not stop, killing"; kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$pidfile"
}

cmd_down() {
    need_root
    if [[ ! -d "$STATE" ]]; then
        log "nothing to stop (no $STATE)"
    else
        if pid_alive "$STATE/slurmctld.pid"; then
            # every job of this private cluster: cancel, and give the steps a moment to end
            scancel --full --quiet $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
            local i
            for i in $(seq 50); do
                [[ -z "$(squeue -h -t R,CG,PD -o %i 2>/dev/null)" ]] && break
                sleep 0.2
            done
        fi
        stop_pid "$STATE/slurmd.pid" slurmd
        stop_pid "$STATE/slurmctld.pid" slurmctld
        if [[ -f "$STATE/munged.started-by-us" && -f /run/munge/munged.pid ]]; then
            stop_pid /run/munge/munged.pid munged
        fi
    fi
    local f
    for f in slurm.conf gres.conf; do
        if [[ -L "$ETC/$f" && "$(readlink "$ETC/$f")" == "$STATE/$f" ]]; then rm -f "$ETC/$f"; fi
    done
    # only remove a directory this script made (it holds our slurm.conf marker)
    if [[ -d "$STATE" ]]; then
        if [[ -f "$STATE/slurm.conf" ]] && head -1 "$STATE/slurm.conf" | grep -q "^$MARKER" \
            || [[ -z "$(ls -A "$STATE" | grep -v -E '^(log|apt.log|ctld|spool|dev)$' || true)" ]]; then
            rm -rf "$STATE"
            log "down; removed $STATE"
        else
            log "down; left $STATE in place (not made by this script)"
        fi
    fi
}

case "$CMD" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
esac
