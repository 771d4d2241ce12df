#!/usr/bin/env bash
# A PyKCS11 client (py/test_module.py, Debian python3-pykcs11 under /usr/bin/python3) checks our
# module against the PKCS#11 2.40 spec over an in-process simulated device: session states,
# C_GetAttributeValue (invalid / sensitive attributes, length queries, short buffers),
# C_SetAttributeValue of CKA_LABEL / CKA_ID (seen in a new session and a new process), find
# templates, C_Sign size queries and CKR_BUFFER_TOO_SMALL, PIN flags, lock and SO unlock.
# The client prints the ok / not ok lines itself.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
module_require

pykcs11_require
dev_new py --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" ||
	{ not_ok "create device py" && exit 1; }
module_use_sim "$(dev_dir py)"

rc=0
# Not through `step`: the client's own ok/not ok lines are this test's output.
echo "\$ env ${MOD_ENV[*]} $PYTHON py/test_module.py $MODULE" >>"$LOG"
timeout --kill-after=5 "$STEP_TIMEOUT" env "${MOD_ENV[@]}" PYTHONDONTWRITEBYTECODE=1 \
	"$PYTHON" "$T_DIR/py/test_module.py" "$MODULE" >"$WORK/pykcs11.out" 2>&1 || rc=$?
tee -a "$LOG" <"$WORK/pykcs11.out"
failed=$(grep -c '^not ok - ' "$WORK/pykcs11.out" || true)
CHECKS_FAILED=$((CHECKS_FAILED + failed))
if [ $rc != 0 ] && [ "$failed" = 0 ]; then
	# shellcheck disable=SC2034 # read by not_ok (common.sh): no step output to show
	OUT=""
	not_ok "$TEST_NAME: the PyKCS11 client exited with status $rc without a failed check" \
		"$(tail -n 5 "$WORK/pykcs11.out" | tr '\n' '|')"
fi
finish
