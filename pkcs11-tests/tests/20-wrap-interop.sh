#!/usr/bin/env bash
# DKEK wrap/unwrap interoperability of our module (C_WrapKey / C_UnwrapKey with
# CKM_SCHSM_DKEK_WRAP, driven by the PyKCS11 client py/wrap_tool.py) with OpenSC, over pcscd + vpcd:
# - ours -> OpenSC: EC P-256, RSA 2048 and RSA 4096 keys generated and wrapped through our module
#   unwrap with `sc-hsm-tool --unwrap-key` on a second device with the same DKEK, keep label and
#   CKA_ID, and sign through opensc-pkcs11.so; openssl verifies with the FIRST device's public keys.
#   One WRAP KEY per key although PyKCS11 calls C_WrapKey twice (size query, then data).
# - OpenSC -> ours: EC P-256, RSA 2048 and RSA 4096 keys generated through opensc-pkcs11 and
#   wrapped with `sc-hsm-tool --wrap-key` unwrap through our C_UnwrapKey on another device, keep
#   label and CKA_ID, and sign through our module; openssl verifies with the public keys OpenSC
#   exported from the source device.
# - The real Nitrokey HSM 2 wrapped key (secp256k1, label btc-test) unwraps through our module
#   (in-process device) into a device whose DKEK is the vector's, keeps label and CKA_ID (as
#   OpenSC then lists them), and signs what the public key inside the file verifies.
# Every device gets the vector's DKEK share through a raw IMPORT DKEK SHARE (no 10M-round KDF).
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

# device_with_dkek NAME FIRMWARE: a new initialised device, served, holding the vector's DKEK.
device_with_dkek() {
	dev_start "$1" --firmware "$2" --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || return 1
	check_import_share "$1: import the vector DKEK share (KCV $VECTOR_SHARE_KCV)" "$VECTOR_SHARE_PLAIN" \
		"$VECTOR_SHARE_KCV"
}

# to_pem DER PEM: a DER SubjectPublicKeyInfo as PEM (openssl), quietly.
to_pem() { step openssl pkey -pubin -inform DER -in "$1" -out "$2"; }

# verify NAME DGST PEM SIG: openssl verifies SIG over $DATA with PEM.
verify() { check "$1" openssl dgst "-$2" -verify "$3" -signature "$4" "$DATA" || :; }

# --- 1a. ours -> OpenSC --------------------------------------------------------------------------
device_with_dkek src-ours 3.5 || exit 1
module_use_pcsc || exit 1
pcheck_grep "ours: the DKEK object has CKA_ID = KCV $VECTOR_SHARE_KCV, wraps and unwraps, not extractable" \
	"dkek id=$VECTOR_SHARE_KCV wrap=True unwrap=True extractable=False" dkek || :
pcheck_grep "ours: generate an extractable EC P-256 key (id 71, label ours-ec)" "label=ours-ec id=71" \
	keygen --type ec --id 71 --label ours-ec --extractable --pub "$WORK/ours-ec.der" || :
pcheck_grep "ours: generate an extractable RSA 2048 key (id 72, label ours-rsa)" "label=ours-rsa id=72" \
	keygen --type rsa --id 72 --label ours-rsa --extractable --pub "$WORK/ours-rsa.der" || :
to_pem "$WORK/ours-ec.der" "$WORK/ours-ec.pem" || :
to_pem "$WORK/ours-rsa.der" "$WORK/ours-rsa.pem" || :
pcheck_grep "ours: generate an extractable RSA 4096 key (id 73, label ours-rsa4k)" "label=ours-rsa4k id=73" \
	keygen --type rsa --bits 4096 --id 73 --label ours-rsa4k --extractable --pub "$WORK/ours-rsa4k.der" || :
to_pem "$WORK/ours-rsa4k.der" "$WORK/ours-rsa4k.pem" || :
pcheck "ours: C_WrapKey of the EC key under the DKEK" wrap --id 71 --out "$WORK/ours-ec.wky" || :
pcheck "ours: C_WrapKey of the RSA key under the DKEK" wrap --id 72 --out "$WORK/ours-rsa.wky" || :
# PyKCS11's wrapKey asks for the size first, then for the data: the card must wrap once per key.
WRAPS=$(apdu_sws src-ours 8072 | paste -sd, -)
pcheck "ours: C_WrapKey of the RSA 4096 key under the DKEK" wrap --id 73 --out "$WORK/ours-rsa4k.wky" || :
check_true "ours: one WRAP KEY (80 72) per C_WrapKey size query + call, answered 9000 (got ${WRAPS:-none})" \
	test "$WRAPS" = 9000,9000 || :
check_true "the EC envelope's blob names the DKEK's KCV" \
	test "$(wky_blob_hex "$WORK/ours-ec.wky" | cut -c1-16)" = "$VECTOR_SHARE_KCV" || :

device_with_dkek dst-opensc 3.5 || exit 1
check "OpenSC: sc-hsm-tool --unwrap-key of our EC envelope (key reference 1)" \
	sc-hsm-tool --unwrap-key "$WORK/ours-ec.wky" --key-reference 1 --pin "$PIN" || :
check "OpenSC: sc-hsm-tool --unwrap-key of our RSA envelope (key reference 2)" \
	sc-hsm-tool --unwrap-key "$WORK/ours-rsa.wky" --key-reference 2 --pin "$PIN" || :
check "OpenSC: sc-hsm-tool --unwrap-key of our RSA 4096 envelope (key reference 3)" \
	sc-hsm-tool --unwrap-key "$WORK/ours-rsa4k.wky" --key-reference 3 --pin "$PIN" || :
if step p11_user -O --type privkey; then
	check_true "OpenSC lists the unwrapped keys with their labels and CKA_IDs (ours-ec/71, ours-rsa/72, ours-rsa4k/73)" \
		test "$(key_listing "$OUT" 71; key_listing "$OUT" 72; key_listing "$OUT" 73)" = \
		"$(printf '%s\n' 'private|ours-ec|71' 'private|ours-rsa|72' 'private|ours-rsa4k|73')" || :
else
	not_ok "OpenSC lists the unwrapped keys with their labels and CKA_IDs (ours-ec/71, ours-rsa/72, ours-rsa4k/73)"
fi
if check "OpenSC: sign with the unwrapped EC key (ECDSA-SHA256)" p11_user --sign --id 71 -m ECDSA-SHA256 \
	--signature-format openssl -i "$DATA" -o "$WORK/osc-ec.sig"; then
	verify "openssl verifies it with the source device's EC public key" sha256 "$WORK/ours-ec.pem" "$WORK/osc-ec.sig"
fi
if check "OpenSC: sign with the unwrapped RSA key (SHA256-RSA-PKCS)" p11_user --sign --id 72 -m SHA256-RSA-PKCS \
	-i "$DATA" -o "$WORK/osc-rsa.sig"; then
	verify "openssl verifies it with the source device's RSA public key" sha256 "$WORK/ours-rsa.pem" "$WORK/osc-rsa.sig"
fi
if check "OpenSC: sign with the unwrapped RSA 4096 key (SHA256-RSA-PKCS)" p11_user --sign --id 73 -m SHA256-RSA-PKCS \
	-i "$DATA" -o "$WORK/osc-rsa4k.sig"; then
	verify "openssl verifies it with the source device's RSA 4096 public key" sha256 "$WORK/ours-rsa4k.pem" \
		"$WORK/osc-rsa4k.sig"
fi

# --- 1b. OpenSC -> ours --------------------------------------------------------------------------
device_with_dkek src-opensc 3.5 || exit 1
check "OpenSC: generate EC P-256 key pair (id 81, label osc-ec)" \
	p11_user --keypairgen --key-type EC:prime256v1 --id 81 --label osc-ec || :
check "OpenSC: generate RSA 2048 key pair (id 82, label osc-rsa)" \
	p11_user --keypairgen --key-type rsa:2048 --id 82 --label osc-rsa || :
check "OpenSC: generate RSA 4096 key pair (id 83, label osc-rsa4k)" \
	p11_user --keypairgen --key-type rsa:4096 --id 83 --label osc-rsa4k || :
check_pubkey "OpenSC: export the EC public key" 81 "$WORK/osc-ec.pem" || :
check_pubkey "OpenSC: export the RSA 4096 public key" 83 "$WORK/osc-rsa4k.pem" || :
check_pubkey "OpenSC: export the RSA public key" 82 "$WORK/osc-rsa.pem" || :
key_ref_of 81 || :
EC_REF=${KEY_REF:-1}
key_ref_of 82 || :
RSA_REF=${KEY_REF:-2}
key_ref_of 83 || :
RSA4K_REF=${KEY_REF:-3}
check "OpenSC: sc-hsm-tool --wrap-key of the RSA 4096 key (key reference $RSA4K_REF)" \
	sc-hsm-tool --wrap-key "$WORK/osc-rsa4k.wky" --key-reference "$RSA4K_REF" --pin "$PIN" || :
check "OpenSC: sc-hsm-tool --wrap-key of the EC key (key reference $EC_REF)" \
	sc-hsm-tool --wrap-key "$WORK/osc-ec.wky" --key-reference "$EC_REF" --pin "$PIN" || :
check "OpenSC: sc-hsm-tool --wrap-key of the RSA key (key reference $RSA_REF)" \
	sc-hsm-tool --wrap-key "$WORK/osc-rsa.wky" --key-reference "$RSA_REF" --pin "$PIN" || :

device_with_dkek dst-ours 3.5 || exit 1
module_use_pcsc || exit 1
pcheck_grep "ours: C_UnwrapKey of sc-hsm-tool's EC file keeps label osc-ec and CKA_ID 81" \
	"unwrapped: label=osc-ec id=81 class=CKO_PRIVATE_KEY" unwrap --in "$WORK/osc-ec.wky" || :
pcheck_grep "ours: C_UnwrapKey of sc-hsm-tool's RSA file keeps label osc-rsa and CKA_ID 82" \
	"unwrapped: label=osc-rsa id=82 class=CKO_PRIVATE_KEY" unwrap --in "$WORK/osc-rsa.wky" || :
pcheck_grep "ours: C_UnwrapKey of sc-hsm-tool's RSA 4096 file keeps label osc-rsa4k and CKA_ID 83" \
	"unwrapped: label=osc-rsa4k id=83 class=CKO_PRIVATE_KEY" unwrap --in "$WORK/osc-rsa4k.wky" || :
# An RSA 4096 blob in the card's plain form (D, N, E) is about 1100 bytes: it fits one extended
# APDU of JCOP 3 (1232 bytes), so UNWRAP KEY carries it inline; only longer blobs (CRT form) must
# be staged in EF 2F10 (UPDATE BINARY 00 D7 2F 10, then UNWRAP KEY without data).
BLOB_LEN=$(($(wky_blob_hex "$WORK/osc-rsa4k.wky" | wc -c) / 2))
STAGED=$(awk '$2 == ">" && toupper($3) ~ /^00D72F10/' "$WORK/dst-ours.apdu.log" | wc -l)
if [ "$BLOB_LEN" -gt 1200 ]; then want_staged=yes; else want_staged=no; fi
if [ "$STAGED" -gt 0 ]; then staged=yes; else staged=no; fi
check_true "... its $BLOB_LEN-byte blob went inline or through EF 2F10 as its size asks (staged: $staged, want $want_staged)" \
	test "$staged" = "$want_staged" -a "$(apdu_sws dst-ours 8074 | sort -u)" = 9000 || :
if pcheck "ours: sign with the unwrapped RSA 4096 key (SHA256-RSA-PKCS)" \
	sign --id 83 --mech SHA256_RSA_PKCS --in "$DATA" --out "$WORK/ours-rsa4k.sig"; then
	verify "openssl verifies it with the RSA 4096 public key OpenSC exported from the source device" sha256 \
		"$WORK/osc-rsa4k.pem" "$WORK/ours-rsa4k.sig"
fi
if pcheck "ours: sign with the unwrapped EC key (ECDSA-SHA256)" \
	sign --id 81 --mech ECDSA_SHA256 --in "$DATA" --out "$WORK/ours-ec.sig"; then
	verify "openssl verifies it with the EC public key OpenSC exported from the source device" sha256 \
		"$WORK/osc-ec.pem" "$WORK/ours-ec.sig"
fi
if pcheck "ours: sign with the unwrapped RSA key (SHA256-RSA-PKCS)" \
	sign --id 82 --mech SHA256_RSA_PKCS --in "$DATA" --out "$WORK/ours-rsa.sig"; then
	verify "openssl verifies it with the RSA public key OpenSC exported from the source device" sha256 \
		"$WORK/osc-rsa.pem" "$WORK/ours-rsa.sig"
fi

# --- 2. the real Nitrokey HSM 2 vector, in-process ---------------------------------------------
REAL_WKY="$VECTORS/nitrokey-hsm2-secp256k1.wky"
# The file's public key: the EC point (tag 86, 65 bytes) of the CV request after the blob.
POINT=$(hex_of "$REAL_WKY" | grep -oE '864104[0-9A-F]{128}' | tail -n1 | cut -c5- || true)
unhex "3056301006072A8648CE3D020106052B8104000A034200$POINT" >"$WORK/btc-file.der"
to_pem "$WORK/btc-file.der" "$WORK/btc-file.pem" || :
check_grep "the vector file's CV request holds a secp256k1 public key" "secp256k1" \
	openssl pkey -pubin -in "$WORK/btc-file.pem" -text -noout || :

device_with_dkek vector 3.5 || exit 1
dev_stop
module_use_sim "$(dev_dir vector)"
# The CKA_ID in the file's PRKD (openssl asn1parse: the OCTET STRING of its CommonKeyAttributes).
FILE_ID=4D8B45C6B9E00AEE9C677B595E7B7B72572035ED
pcheck_grep "ours (in-process): C_UnwrapKey of the real HSM 2 file keeps label btc-test and CKA_ID $FILE_ID" \
	"unwrapped: label=btc-test id=$FILE_ID class=CKO_PRIVATE_KEY" unwrap --in "$REAL_WKY" || :
BTC_ID=$(sed -n 's/^unwrapped: label=btc-test id=\([0-9A-F]*\) .*/\1/p' "$OUT")
if pcheck "ours: sign with the btc-test key (ECDSA-SHA256)" \
	sign --id "${BTC_ID:-00}" --mech ECDSA_SHA256 --in "$DATA" --out "$WORK/btc.sig"; then
	verify "openssl verifies it with the public key inside the wrapped-key file (secp256k1)" sha256 \
		"$WORK/btc-file.pem" "$WORK/btc.sig"
fi
# The CKA_ID our module gives must be the file's (its PRKD), as OpenSC reads it from the card.
dev_serve vector || { not_ok "serve device vector" && exit 1; }
if step p11_user -O --type privkey; then
	OSC_ID=$(awk '/^Private Key Object/ { p = 1 } p && /label: *btc-test/ { l = 1 } l && /ID:/ { print toupper($2); exit }' "$OUT")
	check_true "OpenSC lists btc-test with the same CKA_ID as our module (${OSC_ID:-none} = ${BTC_ID:-none})" \
		test -n "$BTC_ID" -a "$OSC_ID" = "$BTC_ID" || :
else
	not_ok "OpenSC lists btc-test with the same CKA_ID as our module"
fi

finish
