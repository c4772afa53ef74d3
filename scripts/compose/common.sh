# Shared by scripts/compose-up.sh and scripts/compose-down.sh (sourced, from the repository root).
#
# Settings (environment variables; compose-up.sh records them in $state/compose.env, which
# compose-down.sh reads, so stop with the same ORCH_COMPOSE_DIR you started with):
#   ORCH_COMPOSE_DIR      state and logs of one cluster (default run/compose)
#   ORCH_COMPOSE_PROJECT  docker-compose project name (default orchestrator)
#   ORCH_COMPOSE_CACHE    where the locally built base image's root file system is kept between
#                         runs (default /var/cache/orchestrator/compose)
#   ORCH_COMPOSE_IMAGES   "local" (default): build the base, Redis and PostgreSQL images here,
#                         no registry needed; "registry": pull the public images
#   ORCH_COMPOSE_OWN_DOCKERD  1: always start a dockerd (and containerd) of our own under the
#                         state directory, even if a Docker daemon runs (the tests do this)
#   ORCH_COMPOSE_PRIVATE_NETWORK  1 (default): the cluster network routes nothing off the machine
#                         (no masquerading, no forwarding from its bridge); 0 lets nodes reach
#                         out, e.g. to pull images from a registry
#   ORCH_API_PORT_1..3    the silos' API ports on 127.0.0.1 (default 8081..8083)

repo=$PWD
state=$(realpath -m "${ORCH_COMPOSE_DIR:-$repo/run/compose}")
compose_env=$state/compose.env

# Debian's docker.io client: it speaks dockerd 20.10's API, and another docker earlier on the PATH
# may not.
docker_cli=${ORCH_DOCKER_CLI:-$(command -v /usr/bin/docker || command -v docker || echo docker)}

fail() {
  echo "error: $*" >&2
  exit 1
}

# The Debian package that provides a command, for "missing" messages.
package_of() {
  case $1 in
    docker | dockerd) echo docker.io ;;
    docker-compose) echo docker-compose ;;
    containerd | ctr) echo containerd ;;
    debootstrap) echo debootstrap ;;
    busybox) echo busybox-static ;;
    iptables-save | ip6tables-save | iptables) echo iptables ;;
    ip) echo iproute2 ;;
    findmnt | setsid | flock) echo util-linux ;;
    curl) echo curl ;;
    python3) echo python3 ;;
    dotnet) echo "the .NET 10 SDK (https://dotnet.microsoft.com/download)" ;;
    *) echo "$1" ;;
  esac
}

# Fails naming every missing command and the package to install for it.
require() {
  local missing=() c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c ($(package_of "$c"))")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    fail "missing: ${missing[*]}"
  fi
}

docker() { "$docker_cli" "$@"; }

# docker-compose with this cluster's project, files (COMPOSE_FILE, recorded by compose-up.sh)
# and variables.
compose() {
  COMPOSE_FILE=${COMPOSE_FILE:-$repo/docker-compose.yml} docker-compose --project-directory "$repo" "$@"
}

# The capabilities (Docker's names, without CAP_) that this kernel knows and this process's
# bounding set lacks, space-separated; privileged containers get all that the kernel knows.
host_missing_capabilities() {
  local names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
    LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
    SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
    SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
    WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE)
  local last bounding bit missing=()
  last=$(cat /proc/sys/kernel/cap_last_cap)
  bounding=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
  for ((bit = 0; bit <= last && bit < ${#names[@]}; bit++)); do
    if (((bounding >> bit & 1) == 0)); then
      missing+=("${names[bit]}")
    fi
  done
  echo "${missing[*]}"
}

load_state() {
  if [ -f "$compose_env" ]; then
    set -a
    # shellcheck disable=SC1090
    . "$compose_env"
    set +a
  fi
}

. scripts/lib/wait.sh

docker_answers() { # DOCKER_HOST
  DOCKER_HOST=$1 timeout 10 "$docker_cli" version >/dev/null 2>&1
}

# Everything mounted at or under a directory, deepest first.
mounts_under() {
  findmnt -rn -o TARGET | awk -v root="$1" '$0 == root || index($0, root "/") == 1' | sort -r
}

unmount_under() {
  local target
  mounts_under "$1" | while read -r target; do
    umount --lazy "$target" 2>/dev/null || true
  done
}

# Ends a process we started, by its PID: SIGTERM, then SIGKILL after a grace period.
stop_pid() { # pid, seconds
  local pid=$1 seconds=${2:-20} deadline
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + seconds))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  # It may be our child (compose-up.sh started it in this shell): reap it.
  wait "$pid" 2>/dev/null || true
}

# The iptables rules and chains that name Docker, one "TABLE RULE" line each (iptables -S form).
docker_iptables_rules() { # iptables | ip6tables
  local table
  for table in filter nat mangle raw; do
    "$1" -t "$table" -S 2>/dev/null | grep -iE '^-[AN] .*docker' | sed "s/^/$table /" || true
  done
}

# Removes Docker rules and chains that are not in the snapshot FILE (what existed before our
# dockerd started): rules first, then the chains they jumped to. Other programs' rules stay.
remove_added_docker_rules() { # iptables | ip6tables, snapshot file
  local tool=$1 before=$2 added table rule
  [ -f "$before" ] || return 0
  added=$(docker_iptables_rules "$tool" | grep -vxF -f "$before" || true)
  [ -n "$added" ] || return 0
  echo "removing what dockerd added to $tool:"
  echo "$added" | sed 's/^/  /'
  while read -r table rule; do
    [[ $rule == -A* ]] || continue
    eval "$tool -t $table -D ${rule#-A }" || true
  done <<<"$added"
  while read -r table rule; do
    [[ $rule == -N* ]] || continue
    "$tool" -t "$table" -F "${rule#-N }" || true
    "$tool" -t "$table" -X "${rule#-N }" || true
  done <<<"$added"
}

# The filter table's FORWARD policy (ACCEPT or DROP), or nothing where the tool does not work.
forward_policy() { # iptables | ip6tables
  "$1" -t filter -S FORWARD 2>/dev/null | awk '$1 == "-P" { print $3 }'
}

# Puts the FORWARD policy back to what FILE recorded, if it changed.
restore_forward_policy() { # iptables | ip6tables, file
  local tool=$1 before now
  [ -s "$2" ] || return 0
  before=$(cat "$2")
  now=$(forward_policy "$tool")
  if [ -n "$now" ] && [ "$now" != "$before" ]; then
    "$tool" -t filter -P FORWARD "$before" && echo "restored the $tool FORWARD policy to $before (was $now)"
  fi
}
