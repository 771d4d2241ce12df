# shellcheck shell=bash
# Helpers of the DKEK wrap/unwrap tests (pkcs11-tests/tests/2*-wrap-*.sh), sourced after
# lib/common.sh and lib/module.sh.

# pstep ARGS...: the PyKCS11 client py/wrap_tool.py with our module (environment MOD_ENV), as a step.
pstep() { step env "${MOD_ENV[@]}" PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$T_DIR/py/wrap_tool.py" "$MODULE" "$@"; }

# pcheck NAME ARGS...: pstep as one check.
pcheck() {
	local name=$1 rc=0
	shift
	pstep "$@" || rc=$?
	if [ $rc = 0 ]; then ok "$name"; else
		not_ok "$name" "exit status $rc"
		return 1
	fi
}

# pcheck_grep NAME REGEX ARGS...: pstep as one check whose output must match REGEX.
pcheck_grep() {
	local name=$1 re=$2 rc=0
	shift 2
	pstep "$@" || rc=$?
	if [ $rc != 0 ]; then
		not_ok "$name" "exit status $rc"
		return 1
	elif ! grep -Eq -- "$re" "$OUT"; then
		not_ok "$name" "output does not match /$re/"
		return 1
	fi
	ok "$name"
}

# blob_alg_list FILE: the allowed-algorithm list (hex, empty when none) of the key blob in a
# wrapped-key file. Blob: KCV(8) type(1) n(2) default-algorithm OID(n) m(2) list(m) ...
blob_alg_list() {
	local hex n m
	hex=$(wky_blob_hex "$1")
	hex=${hex:18}
	n=$((16#${hex:0:4}))
	hex=${hex:$((4 + 2 * n))}
	m=$((16#${hex:0:4}))
	echo "${hex:4:$((2 * m))}"
}

# stat_state NAME: `schsm-sim stat` of device NAME without the counters that any session moves.
stat_state() { timeout 30 "$SIM" stat "$WORK/$1" | grep -Ev '^(APDU counter|State writes):'; }
