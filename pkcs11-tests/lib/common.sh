# shellcheck shell=bash
# shellcheck disable=SC2034 # variables here are used by the scripts that source this file
# Shared helpers for the black-box tests in pkcs11-tests/tests/. Sourced by every test script.
#
# Environment (set by pkcs11-tests/run; defaults let a test script run on its own too):
#   SCHSM_SIM_BIN      the schsm-sim binary under test
#   SCHSM_TEST_WORK    a directory this test may fill (logs, device dirs, files)
#   SCHSM_VPCD_PORT    the vpcd TCP port the simulator serves on (35963 = "Virtual PCD 00 00")
#   OPENSC_CONF        the OpenSC configuration made by the runner (only our reader visible)
#   OPENSC_PKCS11      path of opensc-pkcs11.so
#
# Output: one line per check, "ok - NAME" or "not ok - NAME", followed on failure by '#' lines
# telling what went wrong. Every external command runs under `timeout`, so nothing can hang.

set -euo pipefail

T_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(git -C "$T_DIR" rev-parse --show-toplevel 2>/dev/null || (cd "$T_DIR/.." && pwd))
VECTORS="$REPO_ROOT/../shared/vectors"

# The credentials every test uses (test values, not secrets).
SO_PIN=3537363231383830
PIN=648219
WRONG_PIN=000000
VECTOR_SHARE="$VECTORS/nitrokey-hsm2-dkek-share.pbe"
VECTOR_SHARE_PASSWORD=passwordpassword
VECTOR_SHARE_KCV=97E303855DC1C54D

SIM=${SCHSM_SIM_BIN:-$REPO_ROOT/target/release/schsm-sim}
VPCD_PORT=${SCHSM_VPCD_PORT:-35963}
P11=${OPENSC_PKCS11:-/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so}
export OPENSC_CONF=${OPENSC_CONF:-$T_DIR/opensc.conf}

TEST_NAME=$(basename "$0" .sh)
WORK=${SCHSM_TEST_WORK:-$(mktemp -d "/tmp/schsm-$TEST_NAME.XXXXXX")}
mkdir -p "$WORK"
LOG="$WORK/test.log" # everything every step printed, with the command lines (secrets masked)
: >"$LOG"

# Seconds a single tool call may take. The 10-million-round MD5 of a DKEK share file in
# sc-hsm-tool is the slowest step (about 8 s on a busy 2-core machine); RSA key generation ~2 s.
STEP_TIMEOUT=${SCHSM_STEP_TIMEOUT:-60}

CHECKS_FAILED=0
STEP_N=0
OUT="" # output file of the last step

# --- reporting ------------------------------------------------------------------------------

ok() { echo "ok - $1"; }

# not_ok NAME [DETAIL...]: report a failed check; details and the tail of the last step's output
# go out as '#' lines so a CI log shows the reason without opening files.
not_ok() {
	local name=$1
	shift
	CHECKS_FAILED=$((CHECKS_FAILED + 1))
	echo "not ok - $name"
	local d
	for d in "$@"; do echo "#   $d"; done
	if [ -n "$OUT" ] && [ -s "$OUT" ]; then
		echo "#   last command: $(head -n1 "$OUT.cmd" 2>/dev/null || true)"
		tail -n 15 "$OUT" | sed 's/^/#   | /'
	fi
}

# mask_args ARGS...: the command line with the value after a PIN/password option replaced.
mask_args() {
	local out="" hide=0 a
	for a in "$@"; do
		if [ $hide = 1 ]; then
			out+=" ***"
			hide=0
			continue
		fi
		case "$a" in
		--pin | --so-pin | --password | -p | --new-pin) hide=1 ;;
		--pin=* | --so-pin=* | --password=*) a="${a%%=*}=***" ;;
		esac
		out+=" $a"
	done
	echo "${out# }"
}

# step CMD...: run CMD with a timeout; its stdout+stderr go to $OUT (and the test log).
# Returns CMD's status (124 = timed out). Shorthands for CMD (timeout runs programs, not shell
# functions, so they are expanded here):
#   p11 ARGS       pkcs11-tool --module opensc-pkcs11.so ARGS
#   p11_user ARGS  the same, logged in with the user PIN
#   sim_stat NAME  schsm-sim stat of the device NAME
step() {
	case "$1" in
	p11) shift && set -- pkcs11-tool --module "$P11" "$@" ;;
	p11_user) shift && set -- pkcs11-tool --module "$P11" --login --pin "$PIN" "$@" ;;
	sim_stat) set -- "$SIM" stat "$WORK/$2" ;;
	esac
	STEP_N=$((STEP_N + 1))
	OUT="$WORK/step-$STEP_N.out"
	mask_args "$@" >"$OUT.cmd"
	local rc=0 t0
	t0=$(date +%s%N)
	timeout --kill-after=5 "$STEP_TIMEOUT" "$@" >"$OUT" 2>&1 || rc=$?
	{
		echo "\$ $(cat "$OUT.cmd")"
		cat "$OUT"
		echo "[exit $rc, $((($(date +%s%N) - t0) / 1000000)) ms]"
	} >>"$LOG"
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		# A healthy run never times out; a wedged card would make every later step wait too.
		echo "(timed out after ${STEP_TIMEOUT}s)" >>"$OUT"
		not_ok "$TEST_NAME: a step timed out after ${STEP_TIMEOUT}s; the remaining checks are skipped"
		exit 1
	fi
	return $rc
}

# check NAME CMD...: one check that passes when CMD succeeds.
check() {
	local name=$1
	shift
	local rc=0
	step "$@" || rc=$?
	if [ $rc = 0 ]; then
		ok "$name"
	else
		not_ok "$name" "exit status $rc"
		return 1
	fi
}

# check_fails NAME CMD...: passes when CMD fails (but not when it timed out or crashed).
check_fails() {
	local name=$1 rc=0
	shift
	step "$@" || rc=$?
	if [ $rc = 0 ]; then
		not_ok "$name" "expected a failure, the command succeeded"
		return 1
	elif [ $rc -ge 124 ]; then
		not_ok "$name" "expected a clean failure, got exit status $rc (timeout or signal)"
		return 1
	fi
	ok "$name"
}

# check_grep NAME REGEX CMD...: passes when CMD succeeds and its output matches the extended
# regular expression REGEX.
check_grep() {
	local name=$1 re=$2 rc=0
	shift 2
	step "$@" || rc=$?
	if [ $rc != 0 ]; then
		not_ok "$name" "exit status $rc"
		return 1
	elif ! grep -Eq -- "$re" "$OUT"; then
		not_ok "$name" "output does not match /$re/"
		return 1
	fi
	ok "$name"
}

# check_true NAME CONDITION-CMD...: a check on local state (file contents etc.), no tool output.
check_true() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else
		OUT=""
		not_ok "$name" "condition failed: $*"
		return 1
	fi
}

# check_pubkey15 NAME ID OUT.pem: the same through OpenSC's PKCS#15 layer (pkcs15-tool), for
# P-384 keys: pkcs11-tool 0.23 --read-object fails on every P-384 public key ("cannot create
# EVP_PKEY", seen with SoftHSM too), whatever the token.
check_pubkey15() {
	check "$1" pkcs15-tool --read-public-key "$2" -o "$3"
}

# --- small tools -----------------------------------------------------------------------------

# hex_of FILE: the bytes of FILE as upper-case hex, one line.
hex_of() { od -An -v -tx1 "$1" | tr -d ' \n' | tr a-f A-F; }

# wky_blob_hex FILE: the key blob (hex) inside a wrapped-key file as sc-hsm-tool writes it:
# 30 L { 04 L <blob> [PRKD] [certificate] }, lengths in short or 81/82 long form.
wky_blob_hex() {
	local hex len
	hex=$(hex_of "$1")
	hex=${hex#30}
	case $hex in 81*) hex=${hex:4} ;; 82*) hex=${hex:6} ;; *) hex=${hex:2} ;; esac
	hex=${hex#04}
	case $hex in
	81*) len=$((16#${hex:2:2})) hex=${hex:4} ;;
	82*) len=$((16#${hex:2:4})) hex=${hex:6} ;;
	*) len=$((16#${hex:0:2})) hex=${hex:2} ;;
	esac
	echo "${hex:0:$((2 * len))}"
}

# unhex HEX: the bytes HEX stands for, on stdout (coreutils only: no xxd on a minimal system).
unhex() {
	local esc
	esc=$(printf '%s' "$1" | tr -dc '0-9A-Fa-f' | sed 's/../\\x&/g')
	# shellcheck disable=SC2059 # the escapes are the point
	printf "$esc"
}

# check_pubkey NAME ID OUT.pem: export the public key with CKA_ID ID through opensc-pkcs11
# (--read-object gives a DER SubjectPublicKeyInfo) and convert it to PEM with openssl.
check_pubkey() {
	local name=$1 id=$2 pem=$3
	if step p11 --read-object --type pubkey --id "$id" -o "${pem%.pem}.der" &&
		step openssl pkey -pubin -inform DER -in "${pem%.pem}.der" -out "$pem"; then
		ok "$name"
	else
		not_ok "$name"
		return 1
	fi
}

# key_ref_of ID: set KEY_REF to the card's key reference (key id, decimal) of the private key with
# CKA_ID ID, as OpenSC's PKCS#15 layer reports it (pkcs15-tool --list-keys: "Key ref : 1 (0x01)",
# "ID : 10"); empty when not found. (Not for $(...): step must run in this shell.)
KEY_REF=""
key_ref_of() {
	KEY_REF=""
	step pkcs15-tool --list-keys || return 1
	KEY_REF=$(awk -v want="$1" '
		/^Private / { ref = "" }
		/Key ref *:/ { ref = $4 }
		/^[ \t]*ID *:/ { if (tolower($3) == tolower(want) && ref != "") { print ref; exit } }
	' "$OUT")
	[ -n "$KEY_REF" ]
}

# --- simulated devices ----------------------------------------------------------------------

SERVE_PID=""
SERVE_NAME=""

# dev_new NAME ARGS...: a new device directory $WORK/NAME (`schsm-sim new`).
dev_new() {
	local name=$1
	shift
	rm -rf "${WORK:?}/$name"
	step "$SIM" new "$WORK/$name" "$@"
}

dev_dir() { echo "$WORK/$1"; }

# card_present: our (only visible) reader has a card.
card_present() {
	timeout 10 opensc-tool -l 2>/dev/null | awk '$1 ~ /^[0-9]+$/ && $2 == "Yes" { found = 1 } END { exit !found }'
}

# dev_serve NAME [SERVE-ARGS...]: serve device NAME in the vpcd reader (with more arguments for
# `schsm-sim serve`, e.g. --fault SPEC) and wait (bounded) until the card shows.
dev_serve() {
	local name=$1 i
	shift
	dev_stop
	if card_present; then
		echo "# a card is already present in our reader before serving $name (another vicc on port $VPCD_PORT?)"
		return 1
	fi
	"$SIM" serve "$WORK/$name" --vpcd "127.0.0.1:$VPCD_PORT" --apdu-log "$WORK/$name.apdu.log" "$@" \
		>>"$WORK/$name.serve.log" 2>&1 &
	SERVE_PID=$!
	SERVE_NAME=$name
	for i in $(seq 1 150); do
		if ! kill -0 "$SERVE_PID" 2>/dev/null; then
			echo "# schsm-sim serve $name $* exited early; its log:"
			sed 's/^/#   | /' "$WORK/$name.serve.log" | tail -n 20
			SERVE_PID=""
			return 1
		fi
		if card_present; then return 0; fi
		sleep 0.2
	done
	echo "# timeout: no card in the reader 30 s after starting schsm-sim serve $name; its log:"
	sed 's/^/#   | /' "$WORK/$name.serve.log" | tail -n 20
	dev_stop
	return 1
}

# dev_stop: stop the running serve (SIGTERM, bounded wait, then SIGKILL) and wait for the card
# to leave the reader, so the next device starts clean.
dev_stop() {
	[ -n "$SERVE_PID" ] || return 0
	local pid=$SERVE_PID
	SERVE_PID=""
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# schsm-sim serve $SERVE_NAME (pid $pid) ignored SIGTERM for 5 s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		card_present || return 0
		sleep 0.2
	done
	echo "# the card is still shown in the reader 10 s after stopping serve $SERVE_NAME"
}

# wait_for FILE: bounded wait (30 s) for a client running in the background to reach a point
# (it creates FILE).
wait_for() {
	for _ in $(seq 1 300); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	echo "# the client never wrote $1"
	return 1
}

# dev_start NAME ARGS...: dev_new + dev_serve, as one check-less step; fails loudly.
dev_start() {
	local name=$1
	if ! dev_new "$@"; then
		not_ok "create device $name" "schsm-sim new failed"
		return 1
	fi
	if ! dev_serve "$name"; then
		OUT=""
		not_ok "serve device $name"
		return 1
	fi
}


# apdu_sws NAME PREFIX: the status words the device answered to commands whose hex starts with
# PREFIX (e.g. 8074 = UNWRAP KEY), one per line, from its APDU log (`serve --apdu-log`: lines
# "<time> > <command hex>" and "<time> < <response hex> <SW>").
apdu_sws() {
	awk -v p="$2" '$2 == ">" { want = (index(toupper($3), toupper(p)) == 1) ; next }
		$2 == "<" && want { print toupper($NF); want = 0 }' "$WORK/$1.apdu.log" 2>/dev/null || true
}

# finish: the test's exit status (non-zero when a check failed). Call as the last line.
finish() {
	dev_stop
	[ "$CHECKS_FAILED" = 0 ]
}

trap 'dev_stop' EXIT
trap 'exit 143' TERM INT
