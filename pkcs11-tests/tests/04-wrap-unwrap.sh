#!/usr/bin/env bash
# DKEK wrap/unwrap with sc-hsm-tool: wrap an EC and an RSA key, delete them, unwrap them under
# another key reference (and into a second device with the same DKEK), sign again through
# opensc-pkcs11 and verify with the ORIGINAL public keys. Also: the real Nitrokey HSM 2 wrapped
# key vector imports and signs; a device with another DKEK refuses the blob.
. "$(dirname "$0")/../lib/common.sh"
. "$T_DIR/lib/apdu.sh"

DATA="$WORK/data.bin"
head -c 100 /dev/urandom >"$DATA"

import_vector_share() {
	check_grep "import the real DKEK share vector (KCV $VECTOR_SHARE_KCV)" "$VECTOR_SHARE_KCV" \
		sc-hsm-tool --import-dkek-share "$VECTOR_SHARE" --password "$VECTOR_SHARE_PASSWORD"
}

# blob_kcv FILE: the KCV of the DKEK named at the start of the key blob in a wrapped-key file.
blob_kcv() {
	local blob
	blob=$(wky_blob_hex "$1")
	echo "${blob:0:16}"
}

# sign_check LABEL ID MECH PEM DGST: sign $DATA with key ID through opensc-pkcs11 and verify the
# signature with openssl and PEM.
sign_check() {
	local label=$1 id=$2 mech=$3 pem=$4 dgst=$5 sig="$WORK/$1.$RANDOM.sig"
	check "$label: sign with $mech (id $id)" \
		p11_user --sign --id "$id" -m "$mech" --signature-format openssl -i "$DATA" -o "$sig" || return 0
	check "$label: openssl verifies it with the original public key" \
		openssl dgst "-$dgst" -verify "$pem" -signature "$sig" "$DATA" || :
}

[ -r "$VECTOR_SHARE" ] || {
	not_ok "real DKEK share vector present" "missing $VECTOR_SHARE"
	finish
	exit
}

dev_start a --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
import_vector_share || :

check "generate EC P-256 key pair (id 41)" p11_user --keypairgen --key-type EC:prime256v1 --id 41 --label wrap-ec || :
check "generate RSA 2048 key pair (id 42)" p11_user --keypairgen --key-type rsa:2048 --id 42 --label wrap-rsa || :
check_pubkey "export the EC public key" 41 "$WORK/ec.pem" || :
check_pubkey "export the RSA public key" 42 "$WORK/rsa.pem" || :
sign_check "before wrap" 41 ECDSA-SHA256 "$WORK/ec.pem" sha256
sign_check "before wrap" 42 SHA256-RSA-PKCS "$WORK/rsa.pem" sha256

key_ref_of 41 || :
EC_REF=$KEY_REF
key_ref_of 42 || :
RSA_REF=$KEY_REF
check_true "pkcs15-tool shows the key references (EC ${EC_REF:-?}, RSA ${RSA_REF:-?})" \
	test -n "$EC_REF" -a -n "$RSA_REF" || :
EC_REF=${EC_REF:-1}
RSA_REF=${RSA_REF:-2}

check "sc-hsm-tool --wrap-key (EC, key reference $EC_REF)" \
	sc-hsm-tool --wrap-key "$WORK/ec.wky" --key-reference "$EC_REF" --pin "$PIN" || :
check "sc-hsm-tool --wrap-key (RSA, key reference $RSA_REF)" \
	sc-hsm-tool --wrap-key "$WORK/rsa.wky" --key-reference "$RSA_REF" --pin "$PIN" || :
check_true "the EC blob names the DKEK's KCV" test "$(blob_kcv "$WORK/ec.wky")" = "$VECTOR_SHARE_KCV" || :
check_true "the RSA blob names the DKEK's KCV" test "$(blob_kcv "$WORK/rsa.wky")" = "$VECTOR_SHARE_KCV" || :

check "delete the EC private key" p11_user --delete-object --type privkey --id 41 || :
check "delete the RSA private key" p11_user --delete-object --type privkey --id 42 || :
check_fails "the deleted EC key no longer signs" \
	p11_user --sign --id 41 -m ECDSA-SHA256 -i "$DATA" -o "$WORK/none.sig" || :

# Unwrap under other key references than the original ones.
EC_NEW=$((EC_REF + 20))
RSA_NEW=$((RSA_REF + 20))
check "sc-hsm-tool --unwrap-key (EC into key reference $EC_NEW)" \
	sc-hsm-tool --unwrap-key "$WORK/ec.wky" --key-reference "$EC_NEW" --pin "$PIN" --force || :
check "sc-hsm-tool --unwrap-key (RSA into key reference $RSA_NEW)" \
	sc-hsm-tool --unwrap-key "$WORK/rsa.wky" --key-reference "$RSA_NEW" --pin "$PIN" --force || :
sign_check "after unwrap" 41 ECDSA-SHA256 "$WORK/ec.pem" sha256
sign_check "after unwrap" 42 SHA256-RSA-PKCS "$WORK/rsa.pem" sha256

# The same files restore on a second device that holds the same DKEK (backup -> new HSM).
dev_start b --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
check_import_share "second device: import the same DKEK share" "$VECTOR_SHARE_PLAIN" "$VECTOR_SHARE_KCV" || :
check "second device: unwrap the EC key" \
	sc-hsm-tool --unwrap-key "$WORK/ec.wky" --key-reference 1 --pin "$PIN" || :
check "second device: unwrap the RSA key" \
	sc-hsm-tool --unwrap-key "$WORK/rsa.wky" --key-reference 2 --pin "$PIN" || :
sign_check "second device" 41 ECDSA-SHA256 "$WORK/ec.pem" sha256
sign_check "second device" 42 SHA256-RSA-PKCS "$WORK/rsa.pem" sha256

# The wrapped key written by a real Nitrokey HSM 2 (secp256k1, label btc-test) under the vector
# DKEK: it must import, and sign so that its own public key (from the file) verifies.
REAL_WKY="$VECTORS/nitrokey-hsm2-secp256k1.wky"
check "second device: unwrap the real HSM 2 wrapped key (secp256k1)" \
	sc-hsm-tool --unwrap-key "$REAL_WKY" --key-reference 3 --pin "$PIN" || :
step p11_user -O --type privkey || :
BTC_ID=$(awk '/^Private Key Object/ { p = 1 } p && /label: *btc-test/ { l = 1 } l && /ID:/ { print $2; exit }' "$OUT")
check_true "opensc-pkcs11 lists the key labelled btc-test (ID ${BTC_ID:-?})" test -n "$BTC_ID" || :
if [ -n "$BTC_ID" ]; then
	check_pubkey "export the btc-test public key" "$BTC_ID" "$WORK/btc.pem" || :
	check_grep "it is a secp256k1 key" "secp256k1" openssl pkey -pubin -in "$WORK/btc.pem" -text -noout || :
	sign_check "real HSM 2 key" "$BTC_ID" ECDSA-SHA256 "$WORK/btc.pem" sha256
fi

# A device with another DKEK must refuse the blob (KCV mismatch -> 6A80, "does not match DKEK").
dev_start c --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
check_import_share "third device: import a different DKEK share" \
	"$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F)" "" || :
check_fails "third device (other DKEK): unwrap is refused" \
	sc-hsm-tool --unwrap-key "$WORK/ec.wky" --key-reference 1 --pin "$PIN" || :
check_true "... with 'Wrapped key does not match DKEK'" grep -q "does not match DKEK" "$OUT" || :

finish
