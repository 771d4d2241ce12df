#!/usr/bin/env bash
# pkcs11-tool 0.23 as users run it (README "Move keys under the DKEK"), with our module over two
# in-process simulated devices sharing a DKEK: an AES-256 key generated on the first device is
# wrapped (--wrap -m 0xD3480001 --id <DKEK KCV> --application-id <key id>), unwrapped on the second
# (--unwrap ... --application-id / --application-label), and the unwrapped key decrypts
# (AES-CBC-PAD) what the original encrypted. The devices get the vector DKEK share through a raw
# IMPORT DKEK SHARE while served by vpcd (the module has no share import); everything else runs
# in-process (SCHSM_SIM, SCHSM_PCSC=0).
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/apdu.sh
. "$T_DIR/lib/apdu.sh"
# shellcheck source=../lib/module.sh
. "$T_DIR/lib/module.sh"
module_require

IV=000102030405060708090A0B0C0D0E0F
head -c 1000 /dev/urandom >"$WORK/plain.bin"

# device_with_dkek NAME: a new initialised 3.5 device holding the vector's DKEK, not served.
device_with_dkek() {
	dev_start "$1" --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || return 1
	check_import_share "$1: import the vector DKEK share (KCV $VECTOR_SHARE_KCV)" "$VECTOR_SHARE_PLAIN" \
		"$VECTOR_SHARE_KCV" || :
	dev_stop
}

# dkek_id: the CKA_ID of the secret key labelled DKEK in the pkcs11-tool -O output $OUT.
dkek_id() {
	awk '/^Secret Key Object/ { s = 1; l = 0; next } /^[A-Za-z]/ { s = 0 }
		s && /^ *label: *DKEK$/ { l = 1 } s && l && /^ *ID:/ { print toupper($2); exit }' "$OUT"
}

# tcheck NAME ARGS...: mcheck (module.sh), except that pkcs11-tool 0.23's warning for CKA_VALUE of
# a sensitive secret key (it asks for the value of every secret key it prints; the module's
# CKR_ATTRIBUTE_SENSITIVE is the right answer) does not count as a problem.
tcheck() {
	local name=$1 rc=0
	shift
	mstep "$@" || rc=$?
	sed -i '/C_GetAttributeValue(VALUE) failed: rv = CKR_ATTRIBUTE_SENSITIVE/d' "$OUT"
	_judge "$name" $rc
}

# refused_unextractable OUTPUT FILE: pkcs11-tool reported CKR_KEY_UNEXTRACTABLE and FILE is empty.
refused_unextractable() { grep -q "C_WrapKey failed: rv = CKR_KEY_UNEXTRACTABLE" "$1" && [ ! -s "$2" ]; }

# listed FILE ID LINE: key_listing (module.sh) of FILE for ID has the line LINE.
listed() { key_listing "$1" "$2" | grep -qxF "$3"; }

device_with_dkek aes1 || exit 1
device_with_dkek aes2 || exit 1

module_use_sim "$(dev_dir aes1)"
KCV=""
# The DKEK object is CKA_PRIVATE: listed after login only (PKCS#11 2.40 §4.4).
if tcheck "device 1: pkcs11-tool --login -O --type secrkey lists the DKEK object" --login --pin "$PIN" \
	-O --type secrkey; then
	KCV=$(dkek_id)
fi
check_true "device 1: the DKEK object's ID is its KCV (${KCV:-none})" test "$KCV" = "$VECTOR_SHARE_KCV" || :
KCV=${KCV:-$VECTOR_SHARE_KCV}
# pkcs11-tool 0.23 --keygen sends CKA_EXTRACTABLE false unless --extractable is given (and
# CKA_SENSITIVE false unless --sensitive): such a key must not leave the device.
tcheck "device 1: pkcs11-tool --keygen --key-type AES:32 --id 09 --label stays (no --extractable)" \
	--login --pin "$PIN" --keygen --key-type AES:32 --id 09 --label stays || :
mstep --login --pin "$PIN" --wrap -m 0xD3480001 --id "$KCV" --application-id 09 -o "$WORK/stays.wky" || :
check_true "device 1: --wrap of that key is refused with CKR_KEY_UNEXTRACTABLE, no file written" \
	refused_unextractable "$OUT" "$WORK/stays.wky" || :
tcheck "device 1: pkcs11-tool --keygen --key-type AES:32 --extractable --id 01 --label aes" --login --pin "$PIN" \
	--keygen --key-type AES:32 --extractable --id 01 --label aes || :
tcheck "device 1: pkcs11-tool --wrap -m 0xD3480001 --id $KCV --application-id 01 -o aes.wky" \
	--login --pin "$PIN" --wrap -m 0xD3480001 --id "$KCV" --application-id 01 -o "$WORK/aes.wky" || :
check_true "... the file is a wrapped-key envelope whose blob names the DKEK's KCV" \
	test "$(wky_blob_hex "$WORK/aes.wky" | cut -c1-16)" = "$VECTOR_SHARE_KCV" || :
tcheck "device 1: pkcs11-tool --encrypt -m AES-CBC-PAD --iv $IV --id 01" --login --pin "$PIN" \
	--encrypt -m AES-CBC-PAD --iv "$IV" --id 01 -i "$WORK/plain.bin" -o "$WORK/cipher.bin" || :
check_true "... a ciphertext of 1008 bytes (1000 + CBC padding)" test "$(stat -c %s "$WORK/cipher.bin" 2>/dev/null)" = 1008 || :

module_use_sim "$(dev_dir aes2)"
tcheck "device 2: pkcs11-tool --unwrap -m 0xD3480001 --id $KCV -i aes.wky --key-type AES:32 --application-id 02 --application-label moved" \
	--login --pin "$PIN" --unwrap -m 0xD3480001 --id "$KCV" -i "$WORK/aes.wky" --key-type AES:32 \
	--application-id 02 --application-label moved || :
if tcheck "device 2: pkcs11-tool -O --type secrkey" --login --pin "$PIN" -O --type secrkey; then
	check_true "device 2: the unwrapped AES key is listed with label moved and ID 02" \
		listed "$OUT" 02 'Secret|moved|02' || :
fi
tcheck "device 2: pkcs11-tool --decrypt -m AES-CBC-PAD --iv $IV --id 02 (the unwrapped key)" --login --pin "$PIN" \
	--decrypt -m AES-CBC-PAD --iv "$IV" --id 02 -i "$WORK/cipher.bin" -o "$WORK/decrypted.bin" || :
check_true "device 2: the unwrapped key gives back the plaintext device 1 encrypted" \
	cmp -s "$WORK/plain.bin" "$WORK/decrypted.bin" || :

finish
