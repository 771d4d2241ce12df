#!/usr/bin/env bash
# Our module under pkcs11-tool --test-threads IN:SL:T0 / IL:SL:T0 / IN:GI:P1 (C_Initialize with
# and without CKF_OS_LOCKING_OK, C_GetSlotList, C_GetTokenInfo and C_GetInfo from three threads
# racing the main thread's C_Initialize), over an in-process simulated device and over the
# simulator behind pcscd + vpcd. pkcs11-tool sleeps 30 s at its end whenever a thread still runs
# (the 1 s pause of IN:GI:P1 guarantees that), so the two runs go side by side.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
module_require

dev_new threads-sim --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" ||
	{ not_ok "create device threads-sim" && exit 1; }
dev_start threads-pcsc --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1

# threads_run NAME: pkcs11-tool --test-threads with the module environment MOD_ENV, in the
# background; output in $WORK/NAME.out, status in $WORK/NAME.rc, its pid appended to PIDS.
PIDS=()
threads_run() {
	local name=$1
	mask_args env "${MOD_ENV[@]}" pkcs11-tool --module "$MODULE" "${MODULE_THREADS_ARGS[@]}" -L >"$WORK/$name.out.cmd"
	(
		rc=0
		timeout --kill-after=5 "$STEP_TIMEOUT" env "${MOD_ENV[@]}" pkcs11-tool --module "$MODULE" \
			"${MODULE_THREADS_ARGS[@]}" -L >"$WORK/$name.out" 2>&1 || rc=$?
		echo $rc >"$WORK/$name.rc"
	) &
	PIDS+=($!)
}

# threads_judge T NAME: the checks on one run.
threads_judge() {
	local t=$1 name=$2 rc i
	OUT="$WORK/$name.out"
	rc=$(cat "$WORK/$name.rc" 2>/dev/null || echo missing)
	cat "$OUT" >>"$LOG"
	_judge "$t: pkcs11-tool --test-threads IN:SL:T0 IL:SL:T0 IN:GI:P1 -L" "$rc" \
		"all threads have ended with CKR_OK" || return 0
	for i in 0 1 2; do
		check_true "$t: ... thread $i returned CKR_OK" grep -q "^Test thread $i returning rv = 0$" "$OUT" || :
	done
	check_true "$t: ... threads 0 and 1 read the token info (two token listings)" \
		test "$(grep -c 'token label *: SmartCard-HSM' "$OUT")" -ge 2 || :
	check_true "$t: ... every C_* call in the threads returned CKR_OK or CKR_CRYPTOKI_ALREADY_INITIALIZED" \
		test -z "$(grep -E 'returned CKR_' "$OUT" | grep -Ev 'returned (CKR_OK|CKR_CRYPTOKI_ALREADY_INITIALIZED)$')" || :
}

module_use_sim "$(dev_dir threads-sim)"
threads_run sim
module_use_pcsc || exit 1
threads_run pcsc
# Only these two: a bare `wait` would also wait for the background schsm-sim serve.
wait "${PIDS[@]}"
module_use_sim "$(dev_dir threads-sim)"
threads_judge sim sim
threads_judge pcsc pcsc
finish
