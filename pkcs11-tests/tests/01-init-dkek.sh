#!/usr/bin/env bash
# sc-hsm-tool against the simulator: initialise a blank device, create a DKEK share file,
# import it (KCV shown by import == KCV shown by status); import the real Nitrokey HSM 2 share
# vector on a second device and expect its known KCV.
. "$(dirname "$0")/../lib/common.sh"

# kcv_in FILE: the first "DKEK key check value" printed in FILE (16 hex digits), or nothing.
kcv_in() {
	sed -n 's/.*DKEK key check value *: *\([0-9A-Fa-f]\{16\}\).*/\1/p' "$1" | head -n1 | tr a-f A-F
}

dev_start blank --firmware 3.5 || exit 1

check_grep "status of a blank device says it was never initialised" "never been initialized" \
	sc-hsm-tool || :
check "sc-hsm-tool --initialize (SO-PIN, PIN, 1 DKEK share)" \
	sc-hsm-tool --initialize --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || :
check_grep "status after init: 1 share pending, user PIN tries shown" \
	"DKEK import pending, 1 share\(s\) still missing" sc-hsm-tool || :
check_grep "status after init: 3 user PIN tries left" "User PIN tries left *: *3" cat "$OUT" || :
check_grep "status shows the firmware version from SELECT" "Version *: *3\.5" sc-hsm-tool || :

SHARE="$WORK/share.pbe"
check "sc-hsm-tool --create-dkek-share --password" \
	sc-hsm-tool --create-dkek-share "$SHARE" --password testpassword12345 || :
check_true "the share file is 64 bytes" test "$(stat -c %s "$SHARE" 2>/dev/null)" = 64 || :
check_true "the share file starts with Salted__" test "$(head -c 8 "$SHARE" 2>/dev/null)" = "Salted__" || :

check_grep "sc-hsm-tool --import-dkek-share prints a KCV" "DKEK key check value *: *[0-9A-Fa-f]{16}" \
	sc-hsm-tool --import-dkek-share "$SHARE" --password testpassword12345 || :
KCV=$(kcv_in "$OUT")
check_grep "import reports DKEK shares: 1" "DKEK shares *: *1" cat "$OUT" || :
if grep -q "still missing" "$OUT"; then not_ok "import completes the DKEK" "still shares missing"; else
	ok "import completes the DKEK"
fi
check_grep "status shows the same KCV as the import ($KCV)" "DKEK key check value *: *${KCV:-none}" \
	sc-hsm-tool || :

# The share of a real Nitrokey HSM 2: the simulator must derive the same DKEK and KCV.
if [ ! -r "$VECTOR_SHARE" ]; then
	not_ok "real share vector present" "missing $VECTOR_SHARE"
	finish
	exit
fi
dev_start vector --firmware 3.2 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
check_grep "import of the real HSM 2 share vector shows KCV $VECTOR_SHARE_KCV" \
	"DKEK key check value *: *$VECTOR_SHARE_KCV" \
	sc-hsm-tool --import-dkek-share "$VECTOR_SHARE" --password "$VECTOR_SHARE_PASSWORD" || :
check_grep "status of that device shows KCV $VECTOR_SHARE_KCV" \
	"DKEK key check value *: *$VECTOR_SHARE_KCV" sc-hsm-tool || :

finish
