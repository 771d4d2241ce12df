#!/usr/bin/env bash
# Firmware bug #168: a key blob that carries an allowed-algorithm list does not unwrap on firmware
# 3.1 (UNWRAP answers 6F00, no key appears); firmware 3.2 imports it and enforces the list.
#
# OpenSC 0.23 never sends tag 91, so the restricted key is generated with a raw GENERATE
# ASYMMETRIC KEY PAIR (tag 91 = 73 92: ECDSA-SHA256 and WRAP) through opensc-tool, on a 3.2
# device; sc-hsm-tool wraps it.
. "$(dirname "$0")/../lib/common.sh"
. "$T_DIR/lib/apdu.sh"

RESTRICTED=5 # key reference of the restricted key on every device
DATA_HEX=$(ascii_hex "bug 168 regression data $(date +%s)")
unhex "$DATA_HEX" >"$WORK/data.bin"

import_vector_share() {
	check_import_share "$1: import the DKEK share of the vector" "$VECTOR_SHARE_PLAIN" "$VECTOR_SHARE_KCV"
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

# --- the source device (3.2): a restricted key and, for contrast, an unrestricted one
dev_start src --firmware 3.2 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
import_vector_share "3.2 source" || :
card_apdus "$(gakp_p256_apdu $RESTRICTED 7392)" || :
check_true "3.2: GENERATE KEY PAIR with algorithm list 73 92 answers 9000 (got $(last_sw))" \
	test "$(last_sw)" = 9000 || :
# The public key of the new key: tag 86 (the EC point) of the CV request in the response.
POINT=$(last_response | grep -oE '864104[0-9A-F]{128}' | head -n1 | cut -c5- || true)
check_true "the response is a CV request with the public point" test ${#POINT} = 130 || :
unhex "$P256_SPKI_PREFIX$POINT" >"$WORK/restricted.der"
step openssl pkey -pubin -inform DER -in "$WORK/restricted.der" -out "$WORK/restricted.pem" || :
check_grep "schsm-sim stat shows key CC05 with the algorithm list 7392" "CC05.*7392" sim_stat src || :

check "3.2: sc-hsm-tool --wrap-key of the restricted key" \
	sc-hsm-tool --wrap-key "$WORK/restricted.wky" --key-reference $RESTRICTED --pin "$PIN" || :
LIST=$(blob_alg_list "$WORK/restricted.wky" 2>/dev/null || true)
check_true "the wrapped blob carries the algorithm list 7392 (got '$LIST')" test "$LIST" = 7392 || :

check "3.2: generate an unrestricted key with pkcs11-tool (id 51)" \
	p11_user --keypairgen --key-type EC:prime256v1 --id 51 --label free || :
key_ref_of 51 || :
FREE_REF=$KEY_REF
check "3.2: sc-hsm-tool --wrap-key of the unrestricted key (ref ${FREE_REF:-?})" \
	sc-hsm-tool --wrap-key "$WORK/free.wky" --key-reference "${FREE_REF:-1}" --pin "$PIN" || :
LIST=$(blob_alg_list "$WORK/free.wky" 2>/dev/null || true)
check_true "the unrestricted blob has an empty algorithm list (got '$LIST')" test -z "$LIST" || :

# --- firmware 3.1 with the same DKEK: the restricted blob fails with 6F00
dev_start fw31 --firmware 3.1 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
import_vector_share "3.1" || :
check_fails "3.1: sc-hsm-tool --unwrap-key of the restricted key fails (bug #168)" \
	sc-hsm-tool --unwrap-key "$WORK/restricted.wky" --key-reference $RESTRICTED --pin "$PIN" || :
SWS=$(apdu_sws fw31 8074 | paste -sd, -)
check_true "3.1: the card answered UNWRAP KEY (80 74) with 6F00 (APDU log: ${SWS:-none})" \
	test "$SWS" = 6F00 || :
card_apdus "$(sign_apdu $RESTRICTED 73 "$DATA_HEX")" || :
check_true "3.1: no key was created (SIGN with key $RESTRICTED answers $(last_sw), not 9000)" \
	test "$(last_sw)" != 9000 -a -n "$(last_sw)" || :
check "3.1: the unrestricted blob still unwraps" \
	sc-hsm-tool --unwrap-key "$WORK/free.wky" --key-reference 6 --pin "$PIN" || :
check_grep "3.1: schsm-sim stat lists key CC06 (the unrestricted one)" "CC06" sim_stat fw31 || :
check_true "3.1: ... and no key CC05 (the restricted one)" bash -c "! grep -q CC05 '$OUT'" || :

# --- firmware 3.2 with the same DKEK: the restricted blob imports and keeps its restriction
dev_start fw32 --firmware 3.2 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
import_vector_share "3.2 target" || :
check "3.2: sc-hsm-tool --unwrap-key of the restricted key succeeds" \
	sc-hsm-tool --unwrap-key "$WORK/restricted.wky" --key-reference $RESTRICTED --pin "$PIN" || :
card_apdus "$(sign_apdu $RESTRICTED 73 "$DATA_HEX")" || :
check_true "3.2: the unwrapped key signs with ECDSA-SHA256 (73) (SW $(last_sw))" test "$(last_sw)" = 9000 || :
unhex "$(last_response)" >"$WORK/restricted.sig"
check "3.2: openssl verifies that signature with the original public key" \
	openssl dgst -sha256 -verify "$WORK/restricted.pem" -signature "$WORK/restricted.sig" "$WORK/data.bin" || :
HASH=$(openssl dgst -sha256 -binary "$WORK/data.bin" | od -An -v -tx1 | tr -d ' \n')
card_apdus "$(sign_apdu $RESTRICTED 70 "$HASH")" || :
check_true "3.2: raw ECDSA (70), not in the list, is refused (SW $(last_sw))" \
	test "$(last_sw)" != 9000 -a -n "$(last_sw)" || :
check_grep "3.2: schsm-sim stat shows the unwrapped key CC05 with its list 7392" "CC05.*7392" \
	sim_stat fw32 || :

finish
