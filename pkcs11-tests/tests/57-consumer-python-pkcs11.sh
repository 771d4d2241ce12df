#!/usr/bin/env bash
# shellcheck disable=SC2016 # the single-quoted bash -c script gets its values as $1
# python-pkcs11 (PyPI 0.10.1; not packaged in Debian 12): open the token by label, log in, find
# the keys, sign with ECDSA-SHA256 and SHA256-RSA-PKCS, export the public keys; openssl verifies
# the signatures. The library comes from SCHSM_TEST_PYTHON_PKCS11 (a python that can import
# pkcs11), else a venv made once under ~/.cache/schsm-pkcs11-tests (pip install python-pkcs11).
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
# shellcheck source=../consumers/lib.sh
. "$(dirname "$0")/../consumers/lib.sh"
module_require
consumer_require python3 openssl

PY=${SCHSM_TEST_PYTHON_PKCS11:-}
if [ -z "$PY" ]; then
	venv="${XDG_CACHE_HOME:-$HOME/.cache}/schsm-pkcs11-tests/venv-python-pkcs11"
	PY="$venv/bin/python"
	if ! "$PY" -c 'import pkcs11' 2>/dev/null; then
		rm -rf "$venv"
		check "a venv with python-pkcs11 0.10.1 (pip, once)" bash -c \
			'/usr/bin/python3 -m venv "$1" && "$1/bin/pip" install -q python-pkcs11==0.10.1' _ "$venv" || exit 1
	fi
fi
consumer_device DENK0157000
d=$WORK/files
mkdir -p "$d"
echo "signed through python-pkcs11" >"$d/data"
if check_grep "python-pkcs11: open, log in, find, sign, verify, export" "^done$" \
	"$PY" "$T_DIR/consumers/python_pkcs11_sign.py" "$MODULE" "$PIN" "$d"; then
	check_true "... the token found by label, with the device's serial" grep -q "^token: SmartCard-HSM serial DENK0157000" "$OUT" || :
	check_true "... both private keys found after login" grep -q "^private keys: ec rsa$" "$OUT" || :
	check_true "... our module verifies both signatures (C_Verify)" \
		test "$(grep -c ': own verify True$' "$OUT")" = 2 || :
	check_grep "openssl verifies the ECDSA-SHA256 signature" "Verified OK" openssl dgst -sha256 -keyform DER \
		-verify "$d/ec.pub.der" -signature "$d/ec.sig" "$d/data" || :
	step openssl rsa -RSAPublicKey_in -inform DER -in "$d/rsa.pub.der" -pubout -out "$d/rsa.pem" || :
	check_grep "openssl verifies the SHA256-RSA-PKCS signature" "Verified OK" openssl dgst -sha256 \
		-verify "$d/rsa.pem" -signature "$d/rsa.sig" "$d/data" || :
fi
finish
