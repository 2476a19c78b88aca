#!/usr/bin/env bash
# Make this machine ready to build, test and demo Dockyard.
#
#   1. a Docker Engine that answers;
#   2. the base image every example image is built FROM;
#   3. a Python virtual environment at .venv with Dockyard installed;
#   4. with --tests: the servers the test suites start for themselves
#      (a Docker registry, PostgreSQL, htpasswd for registry logins, zsh, age-keygen);
#   5. with --bench: those, and the peers the benchmarks measure against
#      (docker-compose).
#
# On a fresh Debian machine, as root, it installs and starts what is missing.
# Where Docker already runs (a laptop), it only checks. It prints nothing when
# everything is in place, and is safe to run again at any time.
#
# Settings (environment variables):
#   DOCKYARD_BASE_IMAGE     the base image to make sure of
#                           (default dockyard/base:bookworm). A name with a
#                           registry host in it is pulled first.
#   DOCKYARD_DEBIAN_IMAGE   registry image the base can be built from when it
#                           is missing (default debian:bookworm-slim)
#   DOCKYARD_DEBIAN_MIRROR  Debian mirror for building the base without any
#                           registry (default http://deb.debian.org/debian)
#   DOCKYARD_DEBIAN_SECURITY  security mirror written into the base's apt
#                           sources (default http://deb.debian.org/debian-security;
#                           empty for none)
#   DOCKYARD_PULL_TIMEOUT   seconds a registry pull may take (default 30)
#   PYTHON                  the Python (>= 3.11) to make the venv with
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_IMAGE=${DOCKYARD_BASE_IMAGE:-dockyard/base:bookworm}
DEBIAN_IMAGE=${DOCKYARD_DEBIAN_IMAGE:-debian:bookworm-slim}
DEBIAN_MIRROR=${DOCKYARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY=${DOCKYARD_DEBIAN_SECURITY-http://deb.debian.org/debian-security}
PULL_TIMEOUT=${DOCKYARD_PULL_TIMEOUT:-30}
SUITE=bookworm
VENV=$ROOT/.venv
STAMP=$VENV/.dockyard-installed
DOCKERD_LOG=/var/log/dockyard-dockerd.log
DOCKERD_WAIT=60

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() {
    printf 'bootstrap: error: %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do printf '  %s\n' "$line" >&2; done
    exit 1
}

is_root() { [[ $(id -u) == 0 ]]; }
is_debian() { [[ -r /etc/debian_version ]] && command -v apt-get >/dev/null; }
have() { command -v "$1" >/dev/null 2>&1; }

# Run a noisy command quietly; on failure show the end of its output.
quietly() {
    local what=$1 log
    shift
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        tail -n 25 "$log" >&2
        rm -f "$log"
        die "$what failed: $*"
    fi
    rm -f "$log"
}

APT_UPDATED=0
apt_install() {
    if ((APT_UPDATED == 0)); then
        say "updating the package lists (apt-get update)"
        quietly "apt-get update" apt-get update
        APT_UPDATED=1
    fi
    say "installing $* (apt-get)"
    quietly "apt-get install" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# ------------------------------------------------------------------- docker

docker_socket() {
    case ${DOCKER_HOST:-} in
        "") echo /var/run/docker.sock ;;
        unix://*) echo "${DOCKER_HOST#unix://}" ;;
        *) echo "" ;;
    esac
}

docker_answers() {
    if have docker; then
        timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
        return
    fi
    local socket
    socket=$(docker_socket)
    [[ -n $socket && -S $socket ]] || return 1
    if have curl; then
        curl -fsS --max-time 5 --unix-socket "$socket" http://localhost/_ping >/dev/null 2>&1
    else
        python3 - "$socket" >/dev/null 2>&1 <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
sys.exit(0 if s.recv(64).split()[1:2] == [b"200"] else 1)
PY
    fi
}

# A live dockerd process: zombies do not count (a container's PID 1 may not
# reap them).
dockerd_running() {
    local comm
    while read -r comm; do
        grep -qs '^State:[[:space:]]*[^Z[:space:]]' "${comm%/comm}/status" && return 0
    done < <(grep -lsx dockerd /proc/[0-9]*/comm)
    return 1
}

# dockerd refuses to start while its pid file names a process that exists.
remove_stale_pidfile() {
    local pidfile=/var/run/docker.pid pid
    [[ -f $pidfile ]] || return 0
    pid=$(<"$pidfile")
    if ! grep -qs '^State:[[:space:]]*[^Z[:space:]]' "/proc/$pid/status"; then
        rm -f "$pidfile"
    fi
}

dockerd_failed() {
    [[ -r $DOCKERD_LOG ]] && tail -n 20 "$DOCKERD_LOG" >&2
    die "$1" "its log: $DOCKERD_LOG (journalctl -u docker under systemd)"
}

wait_for_docker() {
    local deadline=$((SECONDS + DOCKERD_WAIT))
    until docker_answers; do
        if ((SECONDS >= deadline)); then
            dockerd_failed "the Docker Engine did not answer within ${DOCKERD_WAIT}s"
        fi
        if ! dockerd_running; then
            dockerd_failed "the Docker Engine stopped while starting"
        fi
        sleep 0.2
    done
}

ensure_docker() {
    docker_answers && return 0

    if [[ -n ${DOCKER_HOST:-} ]]; then
        die "DOCKER_HOST=$DOCKER_HOST does not answer" \
            "start that engine, or unset DOCKER_HOST to use the local one"
    fi
    if ! is_root; then
        local socket
        socket=$(docker_socket)
        if [[ -S $socket && ! -w $socket ]]; then
            die "no permission to use the Docker Engine at $socket" \
                "add yourself to its group (sudo usermod -aG docker \$USER), log in again"
        fi
        die "no Docker Engine answers, and only root can install or start one here" \
            "Debian/Ubuntu: sudo apt-get install docker.io && sudo systemctl start docker" \
            "macOS/Windows: install and start Docker Desktop (or Colima, Rancher Desktop)" \
            "or run this script as root: it installs and starts docker.io on Debian"
    fi

    if ! have dockerd; then
        is_debian || die "no Docker Engine here, and this is not Debian" \
            "install Docker Engine for this system, start it, and run this again"
        apt_install docker.io
        # The package may have started the engine itself.
        if docker_answers; then return 0; fi
    fi

    if [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]]; then
        say "starting the Docker Engine (systemctl start docker)"
        systemctl start docker
    elif dockerd_running; then
        say "waiting for the Docker Engine that is starting"
    else
        # Without systemd nothing may have mounted the cgroup hierarchies.
        if have cgroupfs-mount && have mountpoint && ! mountpoint -q /sys/fs/cgroup; then
            cgroupfs-mount
        fi
        remove_stale_pidfile
        say "starting the Docker Engine (log: $DOCKERD_LOG)"
        setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    wait_for_docker
}

# --------------------------------------------------------------- base image

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

# A name whose first part has a dot, a colon or is localhost names a registry.
from_registry() {
    local first=${1%%/*}
    [[ $1 == */* && ($first == *.* || $first == *:* || $first == localhost) ]]
}

base_from_registry() {
    if from_registry "$BASE_IMAGE"; then
        say "pulling $BASE_IMAGE"
        if timeout "$PULL_TIMEOUT" docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
            return 0
        fi
        say "could not pull $BASE_IMAGE"
    fi
    if ! image_present "$DEBIAN_IMAGE" &&
        ! timeout "$PULL_TIMEOUT" docker pull -q "$DEBIAN_IMAGE" >/dev/null 2>&1; then
        say "cannot pull $DEBIAN_IMAGE (no registry answers); using debootstrap instead"
        return 1
    fi
    say "building $BASE_IMAGE from $DEBIAN_IMAGE"
    quietly "building $BASE_IMAGE" docker build -q -t "$BASE_IMAGE" - <<EOF
FROM $DEBIAN_IMAGE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 ca-certificates \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
EOF
}

unmount_under() {
    local dir=$1 mnt
    # Deepest first; debootstrap mounts /proc and /sys inside the target.
    awk -v d="$dir" 'index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r |
        while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
}

base_from_debootstrap() {
    is_root || die "cannot make $BASE_IMAGE: no registry answers and debootstrap needs root" \
        "run this script as root, or load the image with: docker load < base.tar" \
        "or point DOCKYARD_BASE_IMAGE (and the environment's base_image) at a mirror"
    if ! have debootstrap; then
        is_debian || die "cannot make $BASE_IMAGE: no registry answers and debootstrap is missing"
        apt_install debootstrap
    fi
    local rootfs
    rootfs=$(mktemp -d /var/tmp/dockyard-base.XXXXXX)
    # shellcheck disable=SC2064 # expand now: the trap must clean this folder
    trap "unmount_under '$rootfs'; rm -rf --one-file-system '$rootfs'" EXIT
    say "building $BASE_IMAGE with debootstrap from $DEBIAN_MIRROR (about a minute)"
    quietly "debootstrap" debootstrap --variant=minbase --include=python3,ca-certificates \
        "$SUITE" "$rootfs" "$DEBIAN_MIRROR"
    unmount_under "$rootfs"
    {
        echo "deb $DEBIAN_MIRROR $SUITE main"
        echo "deb $DEBIAN_MIRROR $SUITE-updates main"
        if [[ -n $DEBIAN_SECURITY ]]; then
            echo "deb $DEBIAN_SECURITY $SUITE-security main"
        fi
    } >"$rootfs/etc/apt/sources.list"
    rm -rf "${rootfs:?}"/var/lib/apt/lists/* "${rootfs:?}"/var/cache/apt/archives/*.deb \
        "${rootfs:?}"/var/cache/apt/*.bin "${rootfs:?}"/var/log/* "${rootfs:?}"/tmp/*
    quietly "docker import" bash -c "set -o pipefail
        tar -C '$rootfs' -c . | docker import -c 'CMD [\"/bin/bash\"]' \
            -m 'debootstrap --variant=minbase $SUITE + python3' - '$BASE_IMAGE'"
    rm -rf --one-file-system "$rootfs"
    trap - EXIT
}

ensure_base_image() {
    have docker || die "the docker command is missing" \
        "install the Docker CLI (Debian: apt-get install docker.io)"
    image_present "$BASE_IMAGE" && return 0
    base_from_registry || base_from_debootstrap
    image_present "$BASE_IMAGE" || die "$BASE_IMAGE is still missing after building it"
    say "base image $BASE_IMAGE is ready"
}

# ------------------------------------------------------------------- python

python_ok() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if have "$candidate" && python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_venv() {
    if [[ ! -x $VENV/bin/python ]] || ! python_ok "$VENV/bin/python"; then
        local python
        if ! python=$(find_python); then
            if is_root && is_debian; then
                apt_install python3 python3-venv
                python=$(find_python) || die "Python 3.11 or newer is needed; found none"
            else
                die "Python 3.11 or newer is needed; found none" \
                    "install one (Debian 12: apt-get install python3 python3-venv)," \
                    "or name it: PYTHON=/path/to/python3 make bootstrap"
            fi
        fi
        if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
            if is_root && is_debian && [[ $python == /usr/bin/* ]]; then
                local version
                version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
                apt_install "python$version-venv"
            else
                die "$python cannot make virtual environments (no venv/ensurepip)" \
                    "Debian/Ubuntu: apt-get install python3-venv"
            fi
        fi
        say "creating the virtual environment .venv ($("$python" -V 2>&1))"
        rm -rf "$VENV"
        quietly "python -m venv" "$python" -m venv "$VENV"
    fi

    local want
    want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1) $("$VENV/bin/python" -V 2>&1)"
    if [[ -f $STAMP && $(<"$STAMP") == "$want" && -x $VENV/bin/dockyard ]]; then
        return 0
    fi
    say "installing Dockyard and its dev tools into .venv (pip install -e '.[dev]')"
    quietly "pip install" "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -e "${ROOT}[dev]"
    printf '%s\n' "$want" >"$STAMP"
}

# ------------------------------------------------------------ test servers

# command -> Debian package; the test suites start their own instances of these
# (and run the zsh completion script in zsh; make age identities with age-keygen).
TEST_TOOLS=(
    "docker-registry:docker-registry"
    "/usr/lib/postgresql/15/bin/initdb:postgresql"
    "htpasswd:apache2-utils"
    "zsh:zsh"
    "age-keygen:age"
    "etcd:etcd-server"
)

# and what the benchmarks measure Dockyard against.
BENCH_TOOLS=(
    "docker-compose:docker-compose"
)

ensure_tools() {  # ensure_tools WHAT ENTRY...
    local what=$1 entry tool package missing=()
    shift
    for entry in "$@"; do
        tool=${entry%%:*}
        package=${entry#*:}
        if ! have "$tool" && [[ ! -x $tool ]]; then
            missing+=("$package")
        fi
    done
    ((${#missing[@]} == 0)) && return 0
    if is_root && is_debian; then
        apt_install "${missing[@]}"
        # The packages' own services are not wanted: the tests start private instances.
        if have systemctl && [[ -d /run/systemd/system ]]; then
            systemctl disable --now docker-registry postgresql >/dev/null 2>&1 || true
        fi
    else
        die "the $what need these packages: ${missing[*]}" \
            "Debian/Ubuntu: apt-get install ${missing[*]}"
    fi
}

ensure_docker
ensure_base_image
ensure_venv
if [[ ${1:-} == --tests || ${1:-} == --bench ]]; then
    ensure_tools tests "${TEST_TOOLS[@]}"
fi
if [[ ${1:-} == --bench ]]; then
    ensure_tools benchmarks "${BENCH_TOOLS[@]}"
fi
