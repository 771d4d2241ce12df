#!/usr/bin/env bash
# DKEK wrap/unwrap through our module (PyKCS11 client py/wrap_tool.py), in-process devices:
# - 3.1 -> 3.1: a restricted extractable key generated on firmware 3.1 carries no list on the card
#   (schsm-sim stat), wraps, unwraps on another 3.1 device with NO shares configured, and its
#   restriction (kept in the description) still holds there.
# - 3.2 -> 3.2: the list goes to the card on generation and survives the unwrap.
# - Refusals that change nothing on the card (schsm-sim stat before = after): a blob made under
#   another DKEK, a tampered blob, a truncated envelope.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/apdu.sh
. "$T_DIR/lib/apdu.sh"
# shellcheck source=../lib/module.sh
. "$T_DIR/lib/module.sh"
# shellcheck source=../lib/wrap.sh
. "$T_DIR/lib/wrap.sh"
module_require

DATA="$WORK/data.bin"
head -c 200 /dev/urandom >"$DATA"
openssl dgst -sha256 -binary "$DATA" >"$WORK/data.sha256"

# device_with_dkek NAME FIRMWARE: a new initialised device holding the vector's DKEK, not served.
device_with_dkek() {
	dev_start "$1" --firmware "$2" --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || return 1
	check_import_share "$1 ($2): import the vector DKEK share" "$VECTOR_SHARE_PLAIN" "$VECTOR_SHARE_KCV" || :
	dev_stop
}

# restricted_round_trip FW: generate on FW, wrap, unwrap on another FW device, use there.
restricted_round_trip() {
	local fw=$1 src="src${1//./}" dst="dst${1//./}" card_list
	device_with_dkek "$src" "$fw" || return 1
	device_with_dkek "$dst" "$fw" || return 1
	module_use_sim "$(dev_dir "$src")"
	pcheck_grep "$fw: generate EC P-256 {CKM_ECDSA_SHA256}, extractable (id A1)" \
		"label=r$fw id=A1 class=CKO_PRIVATE_KEY allowed=CKM_ECDSA_SHA256$" \
		keygen --type ec --id A1 --label "r$fw" --allowed ECDSA_SHA256 --extractable --pub "$WORK/$src.der" || :
	step openssl pkey -pubin -inform DER -in "$WORK/$src.der" -out "$WORK/$src.pem" || :
	if [ "$fw" = 3.1 ]; then card_list="any algorithm"; else card_list="algorithms 7392"; fi
	check_grep "$fw: schsm-sim stat shows the key's card list: $card_list" \
		"^  CC01 +EC secp256r1 \(256 bits\), $card_list" sim_stat "$src" || :
	pcheck_grep "$fw: C_WrapKey" "wrapped:" wrap --id A1 --out "$WORK/$src.wky" || :
	module_use_sim "$(dev_dir "$dst")"
	pcheck_grep "$fw -> $fw without DKEK shares configured: C_UnwrapKey keeps the restriction" \
		"unwrapped: label=r$fw id=A1 class=CKO_PRIVATE_KEY allowed=CKM_ECDSA_SHA256$" \
		unwrap --in "$WORK/$src.wky" || :
	check_grep "$fw: schsm-sim stat of the target shows the key's card list: $card_list" \
		"^  CC01 +EC secp256r1 \(256 bits\), $card_list" sim_stat "$dst" || :
	if pcheck_grep "$fw: the unwrapped key signs with ECDSA-SHA256" "signed:" \
		sign --id A1 --mech ECDSA_SHA256 --in "$DATA" --out "$WORK/$dst.sig"; then
		check "$fw: openssl verifies it with the source device's public key" \
			openssl dgst -sha256 -verify "$WORK/$src.pem" -signature "$WORK/$dst.sig" "$DATA" || :
	fi
	pcheck_grep "$fw: CKM_ECDSA is refused with CKR_MECHANISM_INVALID on the target" \
		"expected CKR_MECHANISM_INVALID: yes" \
		sign --id A1 --mech ECDSA --in "$WORK/data.sha256" --out "$WORK/$dst.raw" --expect-rv CKR_MECHANISM_INVALID || :
}

restricted_round_trip 3.1
LIST=$(blob_alg_list "$WORK/src31.wky" 2>/dev/null || true)
check_true "3.1: the wrapped blob carries no algorithm list (got '$LIST')" test -z "$LIST" || :
restricted_round_trip 3.2

# --- refusals that change nothing ---------------------------------------------------------------
# A device with a random DKEK of its own (schsm-sim --dkek-shares 0) makes the foreign blob.
dev_new other --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 0 ||
	{ not_ok "create device other" && exit 1; }
module_use_sim "$(dev_dir other)"
pcheck_grep "random-DKEK device: generate an extractable EC key" "generated:" \
	keygen --type ec --id B1 --label foreign --extractable --pub "$WORK/other.der" || :
pcheck_grep "random-DKEK device: wrap it" "wrapped:" wrap --id B1 --out "$WORK/foreign.wky" || :

# tampered: one byte of the blob's ciphertext inverted (the envelope still parses); truncated:
# the first 100 bytes of the envelope.
cp "$WORK/src31.wky" "$WORK/tampered.wky"
flip_byte "$WORK/tampered.wky" 120
head -c 100 "$WORK/src31.wky" >"$WORK/truncated.wky"

device_with_dkek target 3.5 || exit 1
module_use_sim "$(dev_dir target)"
stat_state target >"$WORK/target.before"
refused() {
	local what=$1 file=$2 rvs=$3
	pcheck_grep "unwrap of $what is refused ($rvs)" "expected .*: yes" \
		unwrap --in "$file" --expect-rv "$rvs" || :
	stat_state target >"$WORK/target.after"
	if cmp -s "$WORK/target.before" "$WORK/target.after"; then
		ok "... and schsm-sim stat shows nothing changed on the device"
	else
		OUT=""
		not_ok "... and schsm-sim stat shows nothing changed on the device" \
			"$(diff "$WORK/target.before" "$WORK/target.after" | tr '\n' '|')"
	fi
}
refused "a blob under another DKEK" "$WORK/foreign.wky" CKR_WRAPPED_KEY_INVALID
refused "a tampered blob" "$WORK/tampered.wky" CKR_WRAPPED_KEY_INVALID
refused "a truncated envelope" "$WORK/truncated.wky" CKR_WRAPPED_KEY_INVALID,CKR_WRAPPED_KEY_LEN_RANGE
pcheck_grep "after the refusals, the good file still unwraps on the same device" \
	"unwrapped: label=r3.1 id=A1" unwrap --in "$WORK/src31.wky" || :

finish
