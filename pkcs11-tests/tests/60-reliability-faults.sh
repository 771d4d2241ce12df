#!/usr/bin/env bash
# A broken card over the real PC/SC stack: `schsm-sim serve --fault SPEC` answers chosen APDUs
# with a wrong status word, a truncated or overlong response, a delay, or drops the connection
# (vpcd then reports the card removed; serve comes back as after a vpcd restart). Our module,
# driven by pkcs11-tool, must fail each faulty operation with a clean CK_RV (device error,
# device removed, token not present ...; never CKR_GENERAL_ERROR, which is a caught panic),
# never crash or hang (every step has a timeout), and leave the card consistent: served again
# without faults, every key the card holds is listed and signs, the key count matches the card.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
module_require
STEP_TIMEOUT=${SCHSM_STEP_TIMEOUT:-40}

CLEAN='No slot with a token|CKR_DEVICE_ERROR|CKR_DEVICE_REMOVED|CKR_TOKEN_NOT_PRESENT|CKR_TOKEN_NOT_RECOGNIZED|CKR_FUNCTION_FAILED|CKR_DEVICE_MEMORY|CKR_SESSION_HANDLE_INVALID|CKR_SLOT_ID_INVALID'
FAULTS=0

keys_on_card() { "$SIM" stat "$WORK/hsm" | sed -n 's/^Keys: *\([0-9]*\).*/\1/p'; }

# consistent WHAT: served without faults, the module lists as many private keys as the card
# holds, and each of them signs (ECDSA, verified by the module).
consistent() {
	local what=$1 n ids id
	dev_serve hsm || {
		not_ok "$what: the device serves again without faults"
		return 1
	}
	mcheck "$what: afterwards the token lists its objects" --login --pin "$PIN" -O || return 1
	n=$(grep -c '^Private Key Object' "$OUT" || true)
	check_true "$what: afterwards every key of the card is listed ($n, card $(keys_on_card))" \
		test "$n" = "$(keys_on_card)" || :
	ids=$(awk '/^Private Key Object/ { p = 1; next } /^[A-Za-z]/ { p = 0 } p && /^ *ID: / { print $2 }' "$OUT")
	for id in $ids; do
		m_sign_verify "$what: afterwards" "$id" ECDSA "$WORK/files/data.sha256" "$WORK/files/sig.$id" || :
	done
}

# fault NAME SPEC EXPECT ARGS...: pkcs11-tool ARGS with the card served under --fault SPEC.
# EXPECT: "error" (a clean CK_RV error, exit status 1..123) or "ok" (the operation succeeds).
fault() {
	local name=$1 spec=$2 expect=$3 rc=0 t0
	shift 3
	FAULTS=$((FAULTS + 1))
	dev_serve hsm --fault "$spec" || {
		not_ok "$name: serve --fault $spec"
		return 1
	}
	t0=$(date +%s)
	mstep --login --pin "$PIN" "$@" || rc=$?
	local took=$(($(date +%s) - t0))
	if [ "$expect" = ok ]; then
		_judge "$name [$spec]: succeeds (${took} s)" $rc || :
	elif [ $rc = 0 ]; then
		not_ok "$name [$spec]: fails" "the operation succeeded under the fault"
	elif [ $rc -ge 124 ]; then
		not_ok "$name [$spec]: fails cleanly" "exit status $rc (timeout or signal)"
	elif ! grep -Eq "$CLEAN" "$OUT"; then
		not_ok "$name [$spec]: fails with a device error" "$(grep -E 'CKR_|error' "$OUT" | head -n2 | tr '\n' '|')"
	else
		ok "$name [$spec]: fails with $(grep -Eo "$CLEAN" "$OUT" | head -n1) (${took} s)"
	fi
	if grep -q "GENERAL_ERROR\|panic" "$MODULE_LOG" 2>/dev/null; then
		not_ok "$name [$spec]: the module log shows no internal error" "$(grep -m2 'GENERAL_ERROR\|panic' "$MODULE_LOG" | tr '\n' '|')"
		: >"$MODULE_LOG"
	fi
	consistent "$name"
}

mkdir -p "$WORK/files"
make_data "$WORK/files"
dev_new hsm --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1
dev_serve hsm || {
	not_ok "serve the device"
	exit 1
}
module_use_pcsc || exit 1
mcheck "generate the P-256 key the faults sign with (id 01)" --login --pin "$PIN" \
	--keypairgen --key-type EC:prime256v1 --id 01 --label base || exit 1

SIGN=(--sign --id 01 -m ECDSA -i "$WORK/files/data.sha256" -o "$WORK/files/faulty.sig")
fault "SIGN answers 6F00" "sw:6F00@INS=68" error "${SIGN[@]}"
fault "SIGN answer truncated" "truncate@INS=68" error "${SIGN[@]}"
fault "SIGN answer of 1 byte" "truncate:1@INS=68" error "${SIGN[@]}"
fault "SIGN answer overlong" "overlong@INS=68" error "${SIGN[@]}"
fault "SIGN delayed 2 s" "delay:2000@INS=68" ok "${SIGN[@]}"
fault "card pulled at SIGN" "drop@INS=68" error "${SIGN[@]}"
fault "card pulled at the 3rd APDU" "drop@n=3" error "${SIGN[@]}"
fault "every answer 6F00" "sw:6F00@from=1" error "${SIGN[@]}"
KEYGEN=(--keypairgen --key-type EC:prime256v1 --id 0f --label cut)
fault "GENERATE answers 6A84" "sw:6A84@INS=46" error "${KEYGEN[@]}"
fault "card pulled after GENERATE" "drop-after@INS=46" error "${KEYGEN[@]}"
fault "description write fails after GENERATE" "sw:6581@INS=D7" error --keypairgen \
	--key-type EC:prime256v1 --id 0e --label cut2
fault "READ BINARY truncated" "truncate@INS=B1" error -O

echo "# $FAULTS faults injected"
finish
