#!/usr/bin/env bash
# The user PIN blocks after three wrong PINs, as OpenSC sees it (CKR_PIN_INCORRECT, then
# CKR_PIN_LOCKED for the right PIN, the token's "user PIN locked" flag, sc-hsm-tool's status);
# re-initialising with the SO-PIN clears the device and gives a working PIN again.
. "$(dirname "$0")/../lib/common.sh"

dev_start pin --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1

check "generate a key to be wiped later (id 61)" \
	p11_user --keypairgen --key-type EC:prime256v1 --id 61 --label doomed || :
check_grep "the correct PIN logs in" "Private Key Object" p11_user -O --type privkey || :

for n in 1 2 3; do
	check_fails "wrong PIN, attempt $n, is refused" p11 --login --pin "$WRONG_PIN" -O || :
	if [ $n -lt 3 ]; then
		check_true "... with CKR_PIN_INCORRECT" grep -q CKR_PIN_INCORRECT "$OUT" || :
		check_grep "sc-hsm-tool status shows $((3 - n)) tries left" \
			"User PIN tries left *: *$((3 - n))" sc-hsm-tool || :
	fi
done
check_fails "after three wrong PINs the correct PIN is refused" p11 --login --pin "$PIN" -O || :
check_true "... with CKR_PIN_LOCKED" grep -q CKR_PIN_LOCKED "$OUT" || :
check_grep "pkcs11-tool -T shows the token's 'user PIN locked' flag" "user PIN locked" p11 -T || :
check_grep "sc-hsm-tool status shows 'User PIN locked'" "User PIN locked" sc-hsm-tool || :

check "sc-hsm-tool --initialize with the SO-PIN re-initialises the device" \
	sc-hsm-tool --initialize --so-pin "$SO_PIN" --pin "$PIN" || :
check_grep "status after re-init: 3 tries left" "User PIN tries left *: *3" sc-hsm-tool || :
check "the correct PIN works again" p11_user -O || :
if grep -q "Private Key Object" "$OUT"; then
	not_ok "no private key is left after re-init" "pkcs11-tool still lists a private key"
else
	ok "no private key is left after re-init"
fi
check_grep "the device can make keys again" "Private Key Object" \
	p11_user --keypairgen --key-type EC:prime256v1 --id 62 --label fresh || :

# sc-hsm-tool exits 0 even when --initialize fails, so its message is the evidence.
check_grep "re-initialising with a wrong SO-PIN is refused" "INITIALIZE.*failed" \
	sc-hsm-tool --initialize --so-pin 0000000000000000 --pin "$PIN" || :
check_grep "... and keeps the key made after re-init" "fresh" p11_user -O --type privkey || :

finish
