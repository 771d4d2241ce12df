#!/usr/bin/env bash
# The story of firmware bug #168 through our module: an EC P-256 key generated through our module
# on an HSM 1 (firmware 2.6) with CKA_ALLOWED_MECHANISMS {CKM_ECDSA_SHA256} and CKA_EXTRACTABLE
# (the card gets the list 73 92: ECDSA-SHA256 and WRAP) is wrapped with C_WrapKey, then unwrapped
# with C_UnwrapKey (PyKCS11 client py/wrap_tool.py) into an HSM 2 on firmware 3.1 over pcscd + vpcd:
# - without DKEK shares in the module's configuration: CKR_FUNCTION_FAILED, a log line saying why,
#   no UNWRAP KEY (80 74) in the device's APDU log and nothing new in `schsm-sim stat`;
# - with SCHSM_CONF [dkek] shares + password_files (the real vector share file): the key imports,
#   signs with ECDSA-SHA256 (openssl verifies with the 2.6 device's public key), and CKM_ECDSA is
#   refused with CKR_MECHANISM_INVALID by the module (the card's copy carries no list).
# The source device runs in-process (SCHSM_SIM); both get the vector DKEK through a raw
# IMPORT DKEK SHARE while served.
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

# --- the HSM 1 (firmware 2.6): a restricted, extractable key generated through our module ------
dev_start hsm1 --firmware 2.6 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
check_import_share "2.6: import the vector DKEK share" "$VECTOR_SHARE_PLAIN" "$VECTOR_SHARE_KCV" || :
dev_stop
module_use_sim "$(dev_dir hsm1)"
pcheck_grep "2.6: generate EC P-256 with CKA_ALLOWED_MECHANISMS {CKM_ECDSA_SHA256}, CKA_EXTRACTABLE (id 91)" \
	"label=restricted id=91 class=CKO_PRIVATE_KEY allowed=CKM_ECDSA_SHA256$" \
	keygen --type ec --id 91 --label restricted --allowed ECDSA_SHA256 --extractable --pub "$WORK/hsm1.der" || :
step openssl pkey -pubin -inform DER -in "$WORK/hsm1.der" -out "$WORK/hsm1.pem" || :
check_grep "2.6: schsm-sim stat shows the key with the card list 7392 (ECDSA-SHA256, WRAP)" \
	"^  CC0[0-9].*EC secp256r1.*7392" sim_stat hsm1 || :
pcheck_grep "2.6: C_WrapKey of the restricted key" "wrapped: [0-9]+ bytes, first byte 30" \
	wrap --id 91 --out "$WORK/restricted.wky" || :
LIST=$(blob_alg_list "$WORK/restricted.wky" 2>/dev/null || true)
check_true "2.6: the wrapped blob carries the algorithm list 7392 (got '$LIST')" test "$LIST" = 7392 || :

# --- the HSM 2 (firmware 3.1) in the vpcd reader, our module over PC/SC ------------------------
dev_start hsm2 --firmware 3.1 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
check_import_share "3.1: import the vector DKEK share" "$VECTOR_SHARE_PLAIN" "$VECTOR_SHARE_KCV" || :
module_use_pcsc || exit 1
NO_SHARES_ENV=("${MOD_ENV[@]}")
stat_state hsm2 >"$WORK/hsm2.before"

# Without shares: refused on the host, before the card sees the blob.
: >"$MODULE_LOG"
pcheck_grep "3.1 without DKEK shares: C_UnwrapKey fails with CKR_FUNCTION_FAILED" \
	"expected CKR_FUNCTION_FAILED: yes" unwrap --in "$WORK/restricted.wky" --expect-rv CKR_FUNCTION_FAILED || :
check_true "... and the module logs why and what to do (bug #168 advice)" \
	grep -q "not sent to the card: the blob carries the algorithm list 7392 and the device runs firmware 3.1" \
	"$MODULE_LOG" || :
SWS=$(apdu_sws hsm2 8074 | paste -sd, -)
check_true "... the device's APDU log shows no UNWRAP KEY (80 74) (got: ${SWS:-none})" test -z "$SWS" || :
stat_state hsm2 >"$WORK/hsm2.after"
if cmp -s "$WORK/hsm2.before" "$WORK/hsm2.after" && grep -q '^Keys: *0 ' "$WORK/hsm2.after"; then
	ok "... schsm-sim stat shows nothing new on the 3.1 device (no key, no file)"
else
	OUT=""
	not_ok "... schsm-sim stat shows nothing new on the 3.1 device (no key, no file)" \
		"$(diff "$WORK/hsm2.before" "$WORK/hsm2.after" | tr '\n' '|')"
fi

# With the shares (the real share file, 10M-round KDF once in the module process).
printf '%s\n' "$VECTOR_SHARE_PASSWORD" >"$WORK/share.pw"
chmod 600 "$WORK/share.pw"
{
	cat "$WORK/schsm.conf"
	printf '[dkek]\nshares = ["%s"]\npassword_files = ["%s"]\n' "$VECTOR_SHARE" "$WORK/share.pw"
} >"$WORK/schsm-shares.conf"
SHARES_ENV=("${NO_SHARES_ENV[@]/#SCHSM_CONF=*/SCHSM_CONF=$WORK/schsm-shares.conf}")
MOD_ENV=("${SHARES_ENV[@]}")
t0=$(date +%s)
pcheck_grep "3.1 with SCHSM_CONF [dkek] shares: C_UnwrapKey imports the key, restriction kept" \
	"unwrapped: label=restricted id=91 class=CKO_PRIVATE_KEY allowed=CKM_ECDSA_SHA256$" \
	unwrap --in "$WORK/restricted.wky" || :
echo "# unwrap with the share file's KDF: $(($(date +%s) - t0)) s"
check_true "... the module logs the re-encoding without the list" \
	grep -q "blob re-encoded without its algorithm list 7392" "$MODULE_LOG" || :
SWS=$(apdu_sws hsm2 8074 | paste -sd, -)
check_true "... the card answered one UNWRAP KEY with 9000 (got: ${SWS:-none})" test "$SWS" = 9000 || :
check_grep "... schsm-sim stat: the key on the 3.1 card carries no algorithm list" \
	"^  CC0[0-9] +EC secp256r1 \(256 bits\), any algorithm" sim_stat hsm2 || :

# The description written beside the key (with its algReference) still parses for OpenSC.
if step p11_user -O --type privkey; then
	check_true "... OpenSC lists the imported key (label restricted, ID 91)" \
		test "$(key_listing "$OUT" 91)" = "private|restricted|91" || :
else
	not_ok "... OpenSC lists the imported key (label restricted, ID 91)"
fi

MOD_ENV=("${NO_SHARES_ENV[@]}") # using the key needs no shares
SIGNS_BEFORE=$(apdu_sws hsm2 8068 | wc -l)
if pcheck_grep "3.1: sign with ECDSA-SHA256 through our module (new process)" "signed:" \
	sign --id 91 --mech ECDSA_SHA256 --in "$DATA" --out "$WORK/hsm2.sig"; then
	check "openssl verifies the signature with the 2.6 device's public key" \
		openssl dgst -sha256 -verify "$WORK/hsm1.pem" -signature "$WORK/hsm2.sig" "$DATA" || :
fi
pcheck_grep "3.1: CKM_ECDSA (not allowed) is refused with CKR_MECHANISM_INVALID" \
	"expected CKR_MECHANISM_INVALID: yes" \
	sign --id 91 --mech ECDSA --in "$WORK/data.sha256" --out "$WORK/raw.sig" --expect-rv CKR_MECHANISM_INVALID || :
SIGNS=$(($(apdu_sws hsm2 8068 | wc -l) - SIGNS_BEFORE))
check_true "... refused by the module: the card saw one SIGN (80 68), the ECDSA-SHA256 one (got $SIGNS)" \
	test "$SIGNS" = 1 || :

finish
