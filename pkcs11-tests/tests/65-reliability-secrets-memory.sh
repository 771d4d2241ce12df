#!/usr/bin/env bash
# Issue 8, "secret buffers are zeroized": after use, no copy of a PIN, the SO-PIN, the DKEK share
# (= the DKEK with one share) and its derived keys, the share file's password and KDF output, or a
# host-side private key remains in the memory of the process that loaded our module.
#
# The C client pkcs11-tests/memscan/memscan.c (built here with gcc) dlopens the module and drives
# a 3.1 device served by `schsm-sim serve` over pcscd + vpcd (the simulator's own copies live in
# another process): a wrong PIN, C_Login, key generation, sign, C_SetPIN, SO login + C_InitPIN +
# C_SetPIN of the SO-PIN,
# C_CreateObject of an EC private key (encoded under the DKEK on the host), C_WrapKey, C_UnwrapKey
# of a restricted blob (the firmware-3.1 shim decrypts and re-encodes it on the host), C_UnwrapKey
# of a PKCS#8 key (CKM_SCHSM_PKCS8_IMPORT, encoded under the DKEK on the host), C_Logout,
# C_CloseAllSessions, C_InitToken (its provisional user PIN is the SO-PIN's first 6 bytes),
# C_Finalize. It then reads every readable mapping of itself through
# /proc/self/mem and prints each hit (raw bytes, upper/lower-case hex text) with its mapping.
# Secrets are random per run; the client keeps them only XOR-masked and wipes its own buffers.
#
# Verdicts: after C_Logout the only copy allowed is the DKEK the module keeps for the process
# (dkek_holder, documented); after C_Finalize nothing may remain. A hit in anonymous memory, the
# heap, a stack or the module's own mapping fails: in this process only our module (and what it
# calls with the buffers it owns) ever held these bytes. A hit inside a third-party library's file
# mapping is reported as a '#' line (none was seen on Debian 12).
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/apdu.sh
. "$T_DIR/lib/apdu.sh"
# shellcheck source=../lib/module.sh
. "$T_DIR/lib/module.sh"
module_require

S="$WORK/secrets"
mkdir -p "$S"
chmod 700 "$S"
SCAN="$WORK/memscan"
if ! check "build the scanning client (gcc memscan.c)" \
	gcc -O1 -Wall -Wextra -Werror -rdynamic -o "$SCAN" "$T_DIR/memscan/memscan.c" -ldl; then
	finish
	exit
fi

# --- random secrets, one file each -------------------------------------------------------
digits() { od -An -N8 -tu8 /dev/urandom | tr -dc 0-9 | head -c "$1"; }
for f in pin.wrong pin.1 pin.2 pin.3; do
	# 12 digits, first one non-zero (the card's PIN is 6..16 bytes).
	printf '%s%s' "$((RANDOM % 9 + 1))" "$(digits 11)" >"$S/$f"
done
hex_of_random() { head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F; }
hex_of_random 8 >"$S/sopin"
hex_of_random 8 >"$S/sopin.2"
head -c 32 /dev/urandom >"$S/share.bin"
printf '%s\n' "$(head -c 24 /dev/urandom | od -An -v -tx1 | tr -d ' \n')" >"$S/share.pw"
# P-256 private keys: a first byte below FF keeps them under the group order (FFFFFFFF00...).
for f in key.import key.unwrap key.pkcs8; do
	{
		unhex "$(printf '%02X' $((RANDOM % 254 + 1)))"
		head -c 31 /dev/urandom
	} >"$S/$f"
done
SO=$(cat "$S/sopin")
PIN1=$(cat "$S/pin.1")
SHARE_HEX=$(hex_of "$S/share.bin")
# The share file: OpenSSL enc with EVP_BytesToKey(MD5, 1 round) = [dkek] iterations = 1, so the
# module's KDF takes no time; its key and IV are searched for too. (OpenSSL 3 writes no
# "Salted__" header when given -S, so it is added here.)
SALT=$(hex_of_random 8)
step openssl enc -aes-256-cbc -md md5 -S "$SALT" -pass "file:$S/share.pw" -in "$S/share.bin" -out "$S/share.ct" || :
{
	printf 'Salted__'
	unhex "$SALT"
	cat "$S/share.ct"
} >"$S/share.pbe"
step openssl enc -aes-256-cbc -md md5 -S "$SALT" -pass "file:$S/share.pw" -P || :
unhex "$(sed -n 's/^key=//p' "$OUT")" >"$S/kdf.key"
unhex "$(sed -n 's/^iv *=//p' "$OUT")" >"$S/kdf.iv"
for c in 1 2; do
	{
		cat "$S/share.bin"
		unhex "0000000$c"
	} | openssl dgst -sha256 -binary >"$S/$([ $c = 1 ] && echo kenc || echo kmac).bin"
done
check_true "secrets made: 4 PINs, 2 SO-PINs, share file of 64 bytes, KDF key 32 + IV 16, three keys" \
	test "$(stat -c %s "$S/share.pbe" "$S/kdf.key" "$S/kdf.iv" "$S/key.import" | paste -sd/)" = 64/32/16/32 || :
dkek_conf() {
	printf '[dkek]\nshares = ["%s"]\npassword_files = ["%s"]\niterations = 1\n' "$S/share.pbe" "$S/share.pw"
}

# --- the scanner finds what it should -------------------------------------------------------
if step env MEMSCAN_CONTROL=1 "$SCAN" "$MODULE" "$S" run; then
	check_true "control: a PIN copy planted on the heap is found (raw, in [heap])" \
		grep -q '^hit control pin-1 raw 0x[0-9a-f]* rw-p \[heap\]' "$OUT" || :
else
	not_ok "control: a PIN copy planted on the heap is found (raw, in [heap])" "memscan failed"
fi

# --- a 3.2 device (in-process): the restricted key wrapped with its algorithm list ------------
dev_start hsm32 --firmware 3.2 --init --so-pin "$SO" --pin "$PIN1" --dkek-shares 1 || exit 1
check_import_share "3.2: import the random DKEK share" "$SHARE_HEX" "" || :
dev_stop
dkek_conf >"$WORK/prep.conf"
check_grep "3.2: key.unwrap imported restricted to ECDSA-SHA256 and wrapped (memscan prep)" \
	"step C_WrapKey rv=0x0$" env SCHSM_SIM="$(dev_dir hsm32)" SCHSM_PCSC=0 SCHSM_CONF="$WORK/prep.conf" \
	SCHSM_LOG=info SCHSM_LOG_FILE="$MODULE_LOG" "$SCAN" "$MODULE" "$S" prep || :

# judge FILE POINT ALLOWED-REGEX: every hit of scan POINT in memory that only our module can
# have written fails, unless it matches ALLOWED-REGEX (a documented deliberate copy: '#' line);
# hits inside a third-party library's file mapping are residues of that library ('#' lines).
# The client's own mapping counts as ours: it must hold no copy, or the scan proves nothing.
# To find the code that wrote a stack or heap hit: run the client under gdb (no ASLR, so the
# address repeats), then again with `watch -l *(unsigned long long*)ADDR if ... == <first 8
# bytes of the secret>` and `bt` (that is how the aes crate's spilled K_MAC was found).
judge() {
	local file=$1 point=$2 allowed=$3 bad=0 line name form addr perms where
	while read -r _ _ name form addr perms where _; do
		line="$name $form at $addr $perms $where"
		case "$where" in
		*libschsm_pkcs11* | "$SCAN") ;;
		/*) echo "# $point: third-party residue: $line" && continue ;;
		esac
		if [ -n "$allowed" ] && [[ "$name $form" =~ $allowed ]]; then
			echo "# $point: deliberate: $line"
			continue
		fi
		echo "#   $point: LEFT BY OUR MODULE: $line"
		bad=$((bad + 1))
	done < <(grep "^hit $point " "$file" || true)
	[ "$bad" = 0 ]
}

# scanned_session MODE [ENV...]: a fresh 3.1 device over pcscd + vpcd, the scanned session with
# the allocator MODE (libc: as it is; quarantine: freed blocks kept intact), and the verdicts.
scanned_session() {
	local mode=$1 run_ok=0 out="$WORK/memscan.$1.out" copies
	shift
	dev_start "hsm31-$mode" --firmware 3.1 --init --so-pin "$SO" --pin "$PIN1" --dkek-shares 1 --retry 5 ||
		return 1
	check_import_share "$mode: 3.1: import the random DKEK share" "$SHARE_HEX" "" || :
	module_use_pcsc || return 1
	dkek_conf >>"$WORK/schsm.conf"
	: >"$MODULE_LOG"
	if step env "${MOD_ENV[@]}" "$@" "$SCAN" "$MODULE" "$S" run; then run_ok=1; fi
	cp "$OUT" "$out"
	cp "$MODULE_LOG" "$WORK/module.$mode.log"
	dev_stop
	check_true "$mode: the session ran: every PKCS#11 call answered as expected" \
		test "$run_ok/$(grep -c UNEXPECTED "$out")" = 1/0 || :
	check_true "$mode: ... the unwrap went through the 3.1 shim (blob re-encoded on the host)" \
		grep -q "re-encoded without its algorithm list" "$MODULE_LOG" || :
	check_true "$mode: ... both imports (C_CreateObject, PKCS#8) were encoded under the DKEK on the host" \
		test "$(grep -c "key encoded under the DKEK on the host" "$MODULE_LOG")" = 2 || :
	# A session that did not run cannot show anything: the scans count only after a full one.
	if [ $run_ok = 0 ] || grep -q UNEXPECTED "$out" || [ "$(grep -c '^scan .* end ' "$out")" != 3 ]; then
		not_ok "$mode: the memory checks need the full session and its three scans (see above)"
		return 1
	fi
	grep '^scan ' "$out" | sed "s/^/# $mode: /"
	check_true "$mode: before the session: no secret anywhere in the process (the client holds none)" \
		judge "$out" start "" || :
	# The DKEK assembled from the share file is kept for the process (one raw copy), by design:
	# the 3.1 shim and imports need it again and its KDF may take seconds. Nothing else may stay.
	copies=$(grep -c '^hit after-logout dkek-share raw ' "$out" || true)
	echo "# $mode: after C_Logout the module's cached DKEK is seen $copies time(s)"
	check_true "$mode: after C_Logout: no PIN, SO-PIN, password, KDF output, private or derived key left" \
		judge "$out" after-logout '^dkek-share raw$' || :
	# Also the proof that the scan reaches what the module holds on its heap.
	check_true "$mode: ... and the scan sees the module's cached DKEK, once (got $copies)" test "$copies" = 1 || :
	check_true "$mode: after C_Finalize: no secret left at all (the DKEK cache too)" \
		judge "$out" after-finalize "" || :
}

scanned_session libc || :
scanned_session quarantine MEMSCAN_QUARANTINE=1 || :

finish
