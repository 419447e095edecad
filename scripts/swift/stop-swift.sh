#!/usr/bin/env bash
# Stop the processes that start-swift.sh started for SWIFT_SAIO_DIR
# (default swift-saio in the temporary folder). Only pids recorded in $SWIFT_SAIO_DIR/run/*.pid
# whose command line still names this instance are signalled, plus the
# workers in their own process group (each started process leads one).
#
#   stop-swift.sh           stop; keep configs, rings and stored data
#   stop-swift.sh --purge   stop, then delete etc/ run/ log/ swift.env under
#                           SWIFT_SAIO_DIR and the device dir $SWIFT_DATA_DIR/d1
set -euo pipefail

SAIO="${SWIFT_SAIO_DIR:-$(dirname "$(mktemp -u)")/swift-saio}"
DATA="${SWIFT_DATA_DIR:-$SAIO/data}"
ETC="$SAIO/etc"
RUN="$SAIO/run"
PURGE=0
case "${1:-}" in
    "") ;;
    --purge) PURGE=1 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac

log() { echo "stop-swift: $*" >&2; }

MC_PORT="$(sed -n 's/.* mc=\([0-9]*\) .*/\1/p' "$RUN/params" 2>/dev/null || true)"

stat_of() {     # pid -> "state ppid pgrp ..." from /proc/PID/stat
    local line
    { read -r line < "/proc/$1/stat"; } 2>/dev/null || return 1
    echo "${line##*) }"
}

group_alive() { # pgid -> 0 while a non-zombie process is in that group
    local f line state pgrp
    for f in /proc/[0-9]*/stat; do
        { read -r line < "$f"; } 2>/dev/null || continue
        read -r state _ pgrp _ <<<"${line##*) }"
        [ "$pgrp" = "$1" ] && [ "$state" != Z ] && return 0
    done
    return 1
}

pid_running() { # pid -> 0 if alive and not a zombie
    local st
    st="$(stat_of "$1")" || return 1
    [ "${st%% *}" != Z ]
}

ours() {        # name pid -> 0 if pid is the process start-swift.sh started
    local cmd
    pid_running "$2" || return 1
    cmd="$( { tr '\0' ' ' < "/proc/$2/cmdline"; } 2>/dev/null || true)"
    case "$1" in
        memcached) [[ -n "$MC_PORT" && "$cmd" == *memcached*" -p $MC_PORT "* ]] ;;
        *) [[ "$cmd" == *" $ETC/$1-server.conf "* ]] ;;
    esac
}

stopped=0
for name in proxy object container account memcached; do
    pidf="$RUN/$name.pid"
    [ -f "$pidf" ] || continue
    pid="$(cat "$pidf" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && ours "$name" "$pid"; then
        read -r _ _ pgrp _ <<<"$(stat_of "$pid")"
        # On SIGTERM a swift server with workers also terminates its group.
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            if [ "$pgrp" = "$pid" ]; then
                group_alive "$pid" || break
            else
                pid_running "$pid" || break
            fi
            sleep 0.1
        done
        if pid_running "$pid" || { [ "$pgrp" = "$pid" ] && group_alive "$pid"; }; then
            log "$name ($pid) still running 10 s after SIGTERM; sending SIGKILL"
            if [ "$pgrp" = "$pid" ]; then
                kill -KILL -- "-$pid" 2>/dev/null || true
            else
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
        log "stopped $name ($pid)"
        stopped=$((stopped + 1))
    else
        log "$name: stale pid file (no matching process)"
    fi
    rm -f "$pidf"
done
[ "$stopped" = 0 ] && log "nothing was running"

if [ "$PURGE" = 1 ]; then
    rm -rf "$ETC" "$RUN" "$SAIO/log" "$SAIO/swift.env" "$DATA/d1"
    rmdir "$DATA" 2>/dev/null || true
    log "purged $ETC $RUN $SAIO/log $DATA/d1"
fi
exit 0
