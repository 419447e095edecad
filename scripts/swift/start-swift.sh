#!/usr/bin/env bash
# Start a single-node OpenStack Swift ("Swift all in one") on loopback from
# Debian's swift packages, with tempauth (v1.0) authentication. No systemd:
# memcached and the account, container, object and proxy servers are started
# as background processes whose pids are kept in $SWIFT_SAIO_DIR/run.
#
# Re-runnable: if this instance is already running and answering, the script
# only prints the connection details. Stop it with stop-swift.sh.
#
# Environment (all optional):
#   SWIFT_PORT               proxy port (default 8080)
#   SWIFT_BIND_IP            proxy bind address (default 127.0.0.1)
#   SWIFT_BACKEND_PORT_BASE  object=BASE, container=BASE+1, account=BASE+2
#                            (default 6200)
#   SWIFT_MEMCACHED_PORT     port of the private memcached (default 11311)
#   SWIFT_SAIO_DIR           configs, rings, pids, logs (default swift-saio in the temporary folder)
#   SWIFT_DATA_DIR           stored data; must support user xattrs
#                            (default $SWIFT_SAIO_DIR/data)
#   SWIFT_WORKERS            worker processes per server; 0 = serve from the
#                            started process itself (default 0)
#   SWIFT_EXTRA_USERS        extra tempauth users, space separated
#                            "account:user:key" entries, each gets .admin
#   SWIFT_START_TIMEOUT      seconds to wait for readiness (default 60)
#   SWIFT_RESET=1            wipe stored data (restarts a running instance)
#   SWIFT_NO_INSTALL=1       never run apt-get; fail if packages are missing
#
# Prints KEY=VALUE lines (also written to $SWIFT_SAIO_DIR/swift.env).
set -euo pipefail

PORT="${SWIFT_PORT:-8080}"
BIND_IP="${SWIFT_BIND_IP:-127.0.0.1}"
BASE="${SWIFT_BACKEND_PORT_BASE:-6200}"
MC_PORT="${SWIFT_MEMCACHED_PORT:-11311}"
SAIO="${SWIFT_SAIO_DIR:-$(dirname "$(mktemp -u)")/swift-saio}"
DATA="${SWIFT_DATA_DIR:-$SAIO/data}"
WORKERS="${SWIFT_WORKERS:-0}"
EXTRA_USERS="${SWIFT_EXTRA_USERS:-}"
TIMEOUT="${SWIFT_START_TIMEOUT:-60}"

for v in "$PORT" "$MC_PORT" "$BASE"; do
    if ! [[ "$v" =~ ^[0-9]{1,5}$ ]] || [ "$v" -lt 1 ] || [ "$v" -gt 65533 ]; then
        echo "start-swift: ERROR: bad port number: '$v'" >&2; exit 1
    fi
done
OBJ_PORT=$((BASE))
CONT_PORT=$((BASE + 1))
ACCT_PORT=$((BASE + 2))
ETC="$SAIO/etc"
RUN="$SAIO/run"
LOG="$SAIO/log"
SYSPY=/usr/bin/python3   # Debian's swift is installed for the system python
PYFLAGS=-Es              # ignore PYTHON* variables and user site-packages
PACKAGES="swift swift-proxy swift-account swift-container swift-object memcached"
NAMES="memcached account container object proxy"
RUN_USER="$(id -un)"
case "$BIND_IP" in
    0.0.0.0|::) AUTH_HOST=127.0.0.1 ;;
    *:*) AUTH_HOST="[$BIND_IP]" ;;
    *) AUTH_HOST="$BIND_IP" ;;
esac
AUTH_USER="test:tester"
AUTH_KEY="testing"

log() { echo "start-swift: $*" >&2; }
die() { echo "start-swift: ERROR: $*" >&2; exit 1; }

# --- packages ------------------------------------------------------------------
missing_packages() {
    local p st
    for p in $PACKAGES; do
        st="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
        [ "$st" = "install ok installed" ] || printf '%s ' "$p"
    done
}

install_packages() {
    local missing sudo="" created_policy=0 rc=0
    missing="$(missing_packages)"
    [ -z "$missing" ] && return 0
    [ "${SWIFT_NO_INSTALL:-0}" = 1 ] && die "missing packages: $missing"
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || die "missing packages ($missing); run as root"
        sudo="sudo -n"
    fi
    log "installing: $missing"
    # Keep maintainer scripts from starting the system-wide swift/memcached
    # services (they would take the default ports with /etc/swift configs).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
        || log "apt-get update failed; trying the install anyway"
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends $missing >&2 || rc=$?
    [ "$created_policy" = 1 ] && $sudo rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || die "apt-get failed (rc=$rc)"
    missing="$(missing_packages)"
    [ -z "$missing" ] || die "still missing after install: $missing"
}

# --- process tracking ------------------------------------------------------------
# A pid file counts only if that process is alive and its command line still
# names this instance (guards against stale files and pid reuse).
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

pid_alive() {   # name -> prints the pid
    local name="$1" pid cmd st
    pid="$(cat "$RUN/$name.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    st="$(stat_of "$pid")" || return 1
    [ "${st%% *}" != Z ] || return 1
    cmd="$( { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null || true)"
    case "$name" in
        memcached) [[ "$cmd" == *memcached*" -p $MC_PORT "* ]] || return 1 ;;
        *) [[ "$cmd" == *" $ETC/$name-server.conf "* ]] || return 1 ;;
    esac
    echo "$pid"
}

stop_all() {    # clean up a partially running instance (see stop-swift.sh)
    local name pid pgrp
    for name in proxy object container account memcached; do
        if pid="$(pid_alive "$name")"; then
            read -r _ _ pgrp _ <<<"$(stat_of "$pid")"
            kill -TERM "$pid" 2>/dev/null || true
            if [ "$pgrp" = "$pid" ]; then
                for _ in $(seq 1 50); do group_alive "$pid" || break; sleep 0.1; done
                kill -KILL -- "-$pid" 2>/dev/null || true
            else
                for _ in $(seq 1 50); do pid_alive "$name" >/dev/null || break; sleep 0.1; done
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
        rm -f "$RUN/$name.pid"
    done
}

write_probe() {
    # probe.py MODE TIMEOUT BIND PORT MC OBJ CONT ACCT USER KEY [PIDS...]
    #   MODE ports-free: fail if any address:port cannot be bound
    #   MODE ready: wait until memcached, backend /healthcheck, auth and an
    #               authenticated account HEAD all answer; print storage URL
    cat > "$RUN/probe.py" <<'EOF'
import http.client, os, socket, sys, time
mode, timeout = sys.argv[1], float(sys.argv[2])
bind_ip, port, mc, obj, cont, acct, user, key = sys.argv[3:11]
pids = [int(p) for p in sys.argv[11:]]
proxy_host = '127.0.0.1' if bind_ip in ('0.0.0.0', '::') else bind_ip

def bind_error(host, p):   # same socket options as the swift servers
    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(p)))
        return None
    except OSError as e:
        return '%s:%s (%s)' % (host, p, e.strerror)
    finally:
        s.close()

def req(p, method, path, headers=None, host='127.0.0.1'):
    c = http.client.HTTPConnection(host, int(p), timeout=5)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        r.read()
        return r
    finally:
        c.close()

if mode == 'ports-free':
    errs = [bind_error(h, p) for h, p in ((bind_ip, port), ('127.0.0.1', mc),
                                          ('127.0.0.1', obj), ('127.0.0.1', cont),
                                          ('127.0.0.1', acct))]
    errs = [e for e in errs if e]
    if errs:
        sys.exit('cannot bind: %s' % ', '.join(errs))
    sys.exit(0)

def gone(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True

deadline = time.time() + timeout
while True:
    dead = [p for p in pids if gone(p)]
    if dead:
        sys.exit('process %s exited during startup' % dead)
    try:
        s = socket.create_connection(('127.0.0.1', int(mc)), timeout=1)
        s.sendall(b'version\r\n')
        if not s.recv(64).startswith(b'VERSION'):
            raise OSError('memcached not answering')
        s.close()
        for p in (acct, cont, obj):
            r = req(p, 'GET', '/healthcheck')
            if r.status != 200:
                raise OSError('backend %s: %s' % (p, r.status))
        r = req(port, 'GET', '/auth/v1.0',
                {'X-Auth-User': user, 'X-Auth-Key': key}, host=proxy_host)
        if r.status != 200:
            raise OSError('auth: %s' % r.status)
        tok, url = r.getheader('X-Auth-Token'), r.getheader('X-Storage-Url')
        r = req(port, 'HEAD', '/' + url.split('/', 3)[3],
                {'X-Auth-Token': tok}, host=proxy_host)
        if r.status // 100 != 2:
            raise OSError('account HEAD: %s' % r.status)
        print(url)
        sys.exit(0)
    except (OSError, http.client.HTTPException) as e:
        last = str(e)
    if time.time() > deadline:
        sys.exit('not ready after %ss: %s' % (timeout, last))
    time.sleep(0.1)
EOF
}

probe() {   # probe MODE TIMEOUT [pids...]
    local mode="$1" t="$2"; shift 2
    "$SYSPY" $PYFLAGS "$RUN/probe.py" "$mode" "$t" "$BIND_IP" "$PORT" \
        "$MC_PORT" "$OBJ_PORT" "$CONT_PORT" "$ACCT_PORT" \
        "$AUTH_USER" "$AUTH_KEY" "$@"
}

print_info() {
    cat > "$SAIO/swift.env" <<EOF
SWIFT_AUTH_URL=http://$AUTH_HOST:$PORT/auth/v1.0
SWIFT_USER=$AUTH_USER
SWIFT_KEY=$AUTH_KEY
SWIFT_STORAGE_URL=$1
SWIFT_RESELLER_USER=admin:admin
SWIFT_RESELLER_KEY=admin
SWIFT_SAIO_DIR=$SAIO
EOF
    cat "$SAIO/swift.env"
}

# --- configuration ---------------------------------------------------------------
check_xattr() {   # dir -> 0 if user xattrs work there
    "$SYSPY" $PYFLAGS - "$1" <<'EOF'
import os, sys, tempfile
fd, p = tempfile.mkstemp(dir=sys.argv[1])
try:
    os.setxattr(p, 'user.swift.metadata', b'x' * 1024)
    ok = os.getxattr(p, 'user.swift.metadata') == b'x' * 1024
except OSError:
    ok = False
finally:
    os.close(fd)
    os.unlink(p)
sys.exit(0 if ok else 1)
EOF
}

check_swift_conf() {
    # The servers always read the hash prefix/suffix and the storage policies
    # from /etc/swift/swift.conf (a conffile of the swift package, shipped
    # with prefix/suffix "changeme" and only policy 0); only the rings are
    # read from swift_dir. Rings are built here for policy 0 only.
    local f=/etc/swift/swift.conf
    [ -r "$f" ] || die "$f missing or unreadable (reinstall the swift package)"
    grep -Eq '^[[:space:]]*swift_hash_path_(suffix|prefix)[[:space:]]*=[[:space:]]*[^[:space:]]' "$f" \
        || die "$f sets neither swift_hash_path_suffix nor swift_hash_path_prefix"
    if grep -E '^[[:space:]]*\[storage-policy:' "$f" | grep -Evq '^[[:space:]]*\[storage-policy:0\]'; then
        die "$f defines storage policies other than 0; this script builds rings for policy 0 only"
    fi
}

tempauth_users() {
    echo "user_admin_admin = admin .admin .reseller_admin"
    echo "user_test_tester = testing .admin"
    echo "user_test_tester2 = testing2 .admin"
    echo "user_test_tester3 = testing3"
    echo "user_test2_tester2 = testing2 .admin"
    local e a u k
    for e in $EXTRA_USERS; do
        IFS=: read -r a u k <<<"$e"
        [[ "$a" =~ ^[A-Za-z0-9-]+$ && "$u" =~ ^[A-Za-z0-9-]+$ && -n "$k" ]] \
            || die "SWIFT_EXTRA_USERS entry '$e' must be account:user:key (no '_' in account/user)"
        echo "user_${a}_${u} = $k .admin"
    done
}

write_configs() {
    local s port users
    users="$(tempauth_users)"    # fails the script on a bad SWIFT_EXTRA_USERS
    for s in account container object; do
        case "$s" in
            account) port=$ACCT_PORT ;;
            container) port=$CONT_PORT ;;
            object) port=$OBJ_PORT ;;
        esac
        cat > "$ETC/$s-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = $WORKERS
user = $RUN_USER
swift_dir = $ETC
devices = $DATA
mount_check = false
log_name = $s-server
log_level = INFO

[pipeline:main]
pipeline = healthcheck $s-server

[app:$s-server]
use = egg:swift#$s

[filter:healthcheck]
use = egg:swift#healthcheck

[$s-replicator]
[$s-auditor]
EOF
    done

    cat > "$ETC/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = $BIND_IP
bind_port = $PORT
workers = $WORKERS
user = $RUN_USER
swift_dir = $ETC
log_name = proxy-server
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl ratelimit tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
$users

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:ratelimit]
use = egg:swift#ratelimit

[filter:copy]
use = egg:swift#copy

[filter:container-quotas]
use = egg:swift#container_quotas

[filter:account-quotas]
use = egg:swift#account_quotas

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true

[filter:symlink]
use = egg:swift#symlink
EOF
}

build_rings() {   # 1 replica, 1 device "d1" on 127.0.0.1, part power 10
    local stamp="pp=10 replicas=1 obj=$OBJ_PORT cont=$CONT_PORT acct=$ACCT_PORT dev=d1"
    if [ "$(cat "$ETC/rings.stamp" 2>/dev/null || true)" = "$stamp" ] \
        && [ -f "$ETC/account.ring.gz" ] && [ -f "$ETC/container.ring.gz" ] \
        && [ -f "$ETC/object.ring.gz" ]; then
        return 0
    fi
    # One python process instead of nine swift-ring-builder runs (~0.6 s each).
    "$SYSPY" $PYFLAGS - "$ETC" "$OBJ_PORT" "$CONT_PORT" "$ACCT_PORT" <<'EOF'
import os, sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for kind, port in zip(('object', 'container', 'account'), sys.argv[2:5]):
    b = RingBuilder(10, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1',
               'port': int(port), 'device': 'd1', 'weight': 100.0, 'meta': ''})
    b.rebalance()
    b.save(os.path.join(etc, kind + '.builder'))
    b.get_ring().save(os.path.join(etc, kind + '.ring.gz'))
EOF
    echo "$stamp" > "$ETC/rings.stamp"
}

# --- main ------------------------------------------------------------------------
install_packages
mkdir -p "$ETC" "$RUN" "$LOG"
write_probe
PARAMS="port=$PORT bind=$BIND_IP base=$BASE mc=$MC_PORT data=$DATA workers=$WORKERS users=$EXTRA_USERS"

alive=0
for name in $NAMES; do
    if pid_alive "$name" >/dev/null; then alive=$((alive + 1)); fi
done
if [ "$alive" = 5 ]; then
    if [ "$(cat "$RUN/params" 2>/dev/null || true)" != "$PARAMS" ]; then
        die "already running with other settings ($(cat "$RUN/params" 2>/dev/null)); run stop-swift.sh first"
    fi
    if [ "${SWIFT_RESET:-0}" = 1 ]; then
        log "SWIFT_RESET=1: restarting with empty storage"
        stop_all
    elif url="$(probe ready 10)"; then
        log "already running"
        print_info "$url"
        exit 0
    else
        log "running but not answering; restarting"
        stop_all
    fi
elif [ "$alive" != 0 ]; then
    log "partially running ($alive of 5 processes); restarting"
    stop_all
fi
rm -f "$RUN"/*.pid

probe ports-free 0 || die "free those ports or choose others (SWIFT_PORT, SWIFT_BACKEND_PORT_BASE, SWIFT_MEMCACHED_PORT, SWIFT_BIND_IP)"

if [ "${SWIFT_RESET:-0}" = 1 ]; then
    log "SWIFT_RESET=1: wiping $DATA/d1"
    rm -rf "$DATA/d1"
fi
mkdir -p "$DATA/d1"
check_xattr "$DATA/d1" || die "$DATA does not support user xattrs; set SWIFT_DATA_DIR to a directory on ext4/xfs (or tmpfs on Linux >= 6.6)"
check_swift_conf
write_configs
build_rings
echo "$PARAMS" > "$RUN/params"

# Every process gets its own session and process group (pgid == pid): the
# swift servers call setsid() themselves (their forked workers join that
# group), memcached is started through setsid(1), which does not fork here
# because a background job of a non-interactive shell is no group leader.
# stdin/stdout/stderr are detached from the caller; with -v the servers log
# to stderr, i.e. to the log file.
for f in memcached account-server container-server object-server proxy-server; do
    [ -f "$LOG/$f.log" ] && mv -f "$LOG/$f.log" "$LOG/$f.log.1"
done
pids=()
mc_user=()
[ "$(id -u)" = 0 ] && mc_user=(-u root)
setsid /usr/bin/memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64 -c 1024 "${mc_user[@]}" \
    </dev/null >"$LOG/memcached.log" 2>&1 &
echo $! > "$RUN/memcached.pid"; pids+=($!)
for s in account container object proxy; do
    "$SYSPY" $PYFLAGS "/usr/bin/swift-$s-server" "$ETC/$s-server.conf" -v \
        </dev/null >"$LOG/$s-server.log" 2>&1 &
    echo $! > "$RUN/$s.pid"; pids+=($!)
done

if ! url="$(probe ready "$TIMEOUT" "${pids[@]}")"; then
    for f in memcached account-server container-server object-server proxy-server; do
        echo "--- last lines of $LOG/$f.log" >&2
        tail -n 15 "$LOG/$f.log" >&2 || true
    done
    stop_all
    die "swift did not become ready"
fi
log "ready"
print_info "$url"
