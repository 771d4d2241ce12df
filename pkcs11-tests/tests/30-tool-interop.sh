#!/usr/bin/env bash
# schsm-tool and sc-hsm-tool interchange files over pcscd + vpcd, in both directions:
# - DKEK share files: one made by each tool, each imported by the other; `schsm-tool dkek check`
#   confirms the device's DKEK; both tools report the same KCV.
# - Wrapped keys: `schsm-tool backup` files unwrap with sc-hsm-tool --unwrap-key, and
#   sc-hsm-tool --wrap-key files restore with `schsm-tool restore`, into a second device with the
#   same DKEK; the keys sign through OpenSC and openssl verifies with the original public keys.
# - Password shares (n-of-m): sc-hsm-tool's printout opens its share file in schsm-tool, and
#   schsm-tool's shares typed at sc-hsm-tool's prompts open schsm-tool's file.
. "$(dirname "$0")/../lib/common.sh"

TOOL=${SCHSM_TOOL_BIN:-}
if [ -z "$TOOL" ]; then
	for c in "$REPO_ROOT/target/release/schsm-tool" "$REPO_ROOT/target/debug/schsm-tool"; do
		if [ -x "$c" ]; then
			TOOL=$c
			break
		fi
	done
fi
if [ -z "$TOOL" ]; then
	not_ok "schsm-tool binary present" "build it: cargo build --release --bin schsm-tool"
	finish
	exit
fi
# vpcd's first reader serves port 35963, the second 35964.
READER="Virtual PCD 00 0$((VPCD_PORT - 35963))"
PW_FILE="$WORK/share.pw"
printf '%s' "share password" >"$PW_FILE"
printf '%s\n' "$PIN" >"$WORK/pin"
DATA="$WORK/data.bin"
head -c 100 /dev/urandom >"$DATA"

# step runs programs, not shell functions: the binary with our reader, as an array.
T=("$TOOL" --reader "$READER")

sign_check() {
	local label=$1 id=$2 mech=$3 pem=$4 sig="$WORK/$1.$RANDOM.sig"
	check "$label: sign with $mech (id $id) through OpenSC" \
		p11_user --sign --id "$id" -m "$mech" --signature-format openssl -i "$DATA" -o "$sig" || return 0
	check "$label: openssl verifies it with the original public key" \
		openssl dgst -sha256 -verify "$pem" -signature "$sig" "$DATA" || :
}

# --- DKEK share files ------------------------------------------------------------------------
dev_start a --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 2 || exit 1
check_grep "schsm-tool status over PC/SC" "2 share\(s\), 2 still to import" "${T[@]}" status || :
check "schsm-tool dkek create (GET CHALLENGE of the device, 10 000 000 rounds)" \
	"${T[@]}" --password-file "$PW_FILE" dkek create "$WORK/ours.pbe" || :
check "sc-hsm-tool --create-dkek-share" \
	sc-hsm-tool --create-dkek-share "$WORK/theirs.pbe" --password "share password" || :
check_grep "sc-hsm-tool imports schsm-tool's share file" "DKEK share imported" \
	sc-hsm-tool --import-dkek-share "$WORK/ours.pbe" --password "share password" || :
check_grep "schsm-tool imports sc-hsm-tool's share file" "all imported" \
	"${T[@]}" --password-file "$PW_FILE" dkek import "$WORK/theirs.pbe" || :
check_grep "schsm-tool dkek check: both files make the device's DKEK" "make the device's DKEK" \
	"${T[@]}" --password-file "$PW_FILE" --password-file "$PW_FILE" dkek check "$WORK/ours.pbe" "$WORK/theirs.pbe" || :
KCV=$(awk '/DKEK of these/ { print $NF }' "$OUT")
check_grep "sc-hsm-tool reports the same KCV ($KCV)" "${KCV:-none}" sc-hsm-tool || :

# --- wrapped keys ----------------------------------------------------------------------------
check "generate EC P-256 key pair (id 41)" p11_user --keypairgen --key-type EC:prime256v1 --id 41 --label tool-ec || :
check "generate RSA 2048 key pair (id 42)" p11_user --keypairgen --key-type rsa:2048 --id 42 --label tool-rsa || :
check_pubkey "export the EC public key" 41 "$WORK/ec.pem" || :
check_pubkey "export the RSA public key" 42 "$WORK/rsa.pem" || :
key_ref_of 41 || :
EC_REF=${KEY_REF:-1}
key_ref_of 42 || :
RSA_REF=${KEY_REF:-2}
check "schsm-tool backup --key $EC_REF (our wrapped-key file)" \
	"${T[@]}" --pin-file "$WORK/pin" backup --key "$EC_REF" "$WORK/backup" || :
check "sc-hsm-tool --wrap-key (RSA, key reference $RSA_REF)" \
	sc-hsm-tool --wrap-key "$WORK/rsa.wky" --key-reference "$RSA_REF" --pin "$PIN" || :

dev_start b --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 2 || exit 1
check "second device: schsm-tool imports both share files" \
	"${T[@]}" --password-file "$PW_FILE" --password-file "$PW_FILE" dkek import "$WORK/ours.pbe" "$WORK/theirs.pbe" || :
EC_FILE=$(printf '%s/backup/key-%03d.bin' "$WORK" "$EC_REF")
check "second device: sc-hsm-tool --unwrap-key of schsm-tool's file" \
	sc-hsm-tool --unwrap-key "$EC_FILE" --key-reference 5 --pin "$PIN" || :
check_grep "second device: schsm-tool restore of sc-hsm-tool's file" "key reference" \
	"${T[@]}" --pin-file "$WORK/pin" restore "$WORK/rsa.wky" || :
check_grep "schsm-tool list shows both keys with their labels" "tool-ec" "${T[@]}" list || :
check_true "... and tool-rsa" grep -q "tool-rsa" "$OUT" || :
sign_check "unwrapped by sc-hsm-tool" 41 ECDSA-SHA256 "$WORK/ec.pem"
sign_check "restored by schsm-tool" 42 SHA256-RSA-PKCS "$WORK/rsa.pem"

# --- password shares (n-of-m split of a share file's password) --------------------------------
# sc-hsm-tool's printout, fed to schsm-tool as it is (shares 1 and 3 of 3).
dev_start p --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
check "sc-hsm-tool --create-dkek-share with a 2-of-3 password split" \
	sc-hsm-tool --create-dkek-share "$WORK/theirs-split.pbe" --pwd-shares-threshold 2 --pwd-shares-total 3 </dev/null || :
awk '/^Share 2 of/ { skip = 1 } /^Share [13] of/ { skip = 0 } !skip' "$OUT" >"$WORK/theirs-split.shares"
check_grep "schsm-tool imports it with shares 1 and 3 of sc-hsm-tool's printout" "all imported" \
	"${T[@]}" --pwd-shares-file "$WORK/theirs-split.shares" dkek import "$WORK/theirs-split.pbe" || :
# schsm-tool's split, typed into sc-hsm-tool's prompts (prime, then id and value per share).
dev_start q --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
check "schsm-tool dkek create with a 2-of-3 password split" \
	"${T[@]}" dkek create "$WORK/ours-split.pbe" --pwd-shares-threshold 2 --pwd-shares-total 3 || :
awk -F' : ' '/^Prime/ && !p { p = $2; print p } /^Share ID/ { id = $2 }
	/^Share value/ && (id == 2 || id == 3) { print ""; print id; print $2 }' "$OUT" >"$WORK/ours-split.typed"
check_grep "sc-hsm-tool imports it with shares 2 and 3 typed at its prompts" "DKEK key check value" \
	sc-hsm-tool --import-dkek-share "$WORK/ours-split.pbe" --pwd-shares-total 2 <"$WORK/ours-split.typed" || :
SPLIT_KCV=$(awk '/DKEK key check value/ { print $NF }' "$OUT")
check_grep "schsm-tool status shows the same KCV (${SPLIT_KCV:-?})" "KCV ${SPLIT_KCV:-none}" "${T[@]}" status || :

finish
