# Shared by the scripts (sourced from the repository root).

# Waits until a command succeeds, polling every half second: description, seconds, command...
# Returns 1 with a message naming what it waited for when the time is up.
wait_for() {
  local what=$1 seconds=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "error: timed out after ${seconds} s waiting for $what" >&2
      return 1
    fi
    sleep 0.5
  done
}
