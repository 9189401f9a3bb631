# Sourced by every end-to-end test: the `testing` helper, a private temp dir, cleanup on every exit.
# Each case prints "PASS name", "FAIL name" or "SKIP name: reason" for test/run to count.
set -u
: "${FERRY:?FERRY must name the ferry binary}"
export FERRY
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d /tmp/ferry-e2e.XXXXXX)
chmod 0755 "$T"
_cleanups=()
# at_exit CMD: run CMD (with eval) when the script exits, last registered first.
at_exit() { _cleanups=("$1" "${_cleanups[@]}"); }
_run_cleanups() {
	local c
	for c in "${_cleanups[@]}"; do eval "$c" || true; done
	rm -rf "$T"
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

# testing NAME COMMAND EXPECTED: runs COMMAND with eval; its stdout must equal EXPECTED.
# To check an exit status, end COMMAND with `; echo $?`. Stderr goes to the log.
testing() {
	local name=$1 cmd=$2 want=$3 got
	got=$(eval "$cmd")
	if [ "$got" == "$want" ]; then
		echo "PASS $name"
	else
		echo "FAIL $name"
		{
			echo "--- FAIL: $name"
			echo "command: $cmd"
			diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -n 40
		} >&2
	fi
}

# check NAME COMMAND: passes when COMMAND (eval'd) exits 0.
check() {
	local name=$1 cmd=$2
	if (eval "$cmd") >&2; then
		echo "PASS $name"
	else
		echo "FAIL $name"
		echo "--- FAIL: $name: command failed: $cmd" >&2
	fi
}

skip() { echo "SKIP $1: $2"; }

# fails_with NAME COMMAND STATUS TEXT: COMMAND exits STATUS and its stderr contains TEXT.
fails_with() {
	local name=$1 cmd=$2 want_rc=$3 want_text=$4 err rc
	err=$(eval "$cmd" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" == "$want_rc" ] && [[ "$err" == *"$want_text"* ]]; then
		echo "PASS $name"
	else
		echo "FAIL $name"
		printf -- '--- FAIL: %s\ncommand: %s\nwanted status %s and "%s", got status %s and:\n%s\n' \
			"$name" "$cmd" "$want_rc" "$want_text" "$rc" "$err" >&2
	fi
}
