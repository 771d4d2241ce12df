# shellcheck shell=bash
# shellcheck disable=SC2034 # variables here are used by the scripts that source this file
# Raw APDUs through `opensc-tool -s` for what OpenSC 0.23 cannot ask the card for (a key
# generated with an algorithm list, tag 91). Sourced after common.sh.
#
# opensc-tool binds the sc-hsm driver (which SELECTs the applet) and then sends each -s APDU in
# the same connection, so a VERIFY given first stays valid for the APDUs after it.

# tlv TAG HEX: BER-TLV with a definite length (short form or 81/82 long form).
tlv() {
	local tag=$1 val=$2 n
	n=$((${#val} / 2))
	if [ $n -lt 128 ]; then
		printf '%s%02X%s' "$tag" $n "$val"
	elif [ $n -lt 256 ]; then
		printf '%s81%02X%s' "$tag" $n "$val"
	else
		printf '%s82%04X%s' "$tag" $n "$val"
	fi
}

ascii_hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F; }

# The NIST P-256 domain parameters, as the card wants them in a key generation request.
P256_P=FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_A=FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC
P256_B=5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
P256_G=046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C2964FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
P256_N=FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
TA_ECDSA_SHA256=04007F00070202020203
# DER prefix of a P-256 SubjectPublicKeyInfo, followed by the 65-byte point.
P256_SPKI_PREFIX=3059301306072A8648CE3D020106082A8648CE3D030107034200

# gakp_p256_apdu KEYID ALGLIST: GENERATE ASYMMETRIC KEY PAIR (00 46 <id> 00, extended) for a
# P-256 key; ALGLIST (hex, may be empty) goes into tag 91, the allowed-algorithm list.
gakp_p256_apdu() {
	local id=$1 algs=$2 pk body
	pk=$(tlv 06 "$TA_ECDSA_SHA256")$(tlv 81 "$P256_P")$(tlv 82 "$P256_A")$(tlv 83 "$P256_B")
	pk+=$(tlv 84 "$P256_G")$(tlv 85 "$P256_N")$(tlv 87 01)
	body=$(tlv 5F29 00)$(tlv 42 "$(ascii_hex UTCA00001)")$(tlv 7F49 "$pk")$(tlv 5F20 "$(ascii_hex UTBUG16800001)")
	[ -z "$algs" ] || body+=$(tlv 91 "$algs")
	printf '0046%02X00' "$id"
	printf '00%04X%s0000\n' $((${#body} / 2)) "$body"
}

# verify_pin_apdu PIN: VERIFY user PIN (00 20 00 81).
verify_pin_apdu() {
	local p
	p=$(ascii_hex "$1")
	printf '00200081%02X%s\n' $((${#p} / 2)) "$p"
}

# sign_apdu KEYID ALGO DATAHEX: SIGN (80 68 <id> <algo>, extended Lc and Le).
sign_apdu() {
	printf '8068%02X%s00%04X%s0000\n' "$1" "$2" $((${#3} / 2)) "$3"
}

# The DKEK share inside the vector file (see shared/vectors/README.md); public test data.
VECTOR_SHARE_PLAIN=2848CB6E994F5A00C365C3C255ED130512CE1EB06BF08D348EEB8B2F866E3E50

# check_import_share NAME SHAREHEX KCV: IMPORT DKEK SHARE (80 52 00 00) of a plain 32-byte share,
# expecting 9000 and the KCV KCV in the answer (total, outstanding, KCV). The fast path for
# tests whose subject is not the share file: sc-hsm-tool spends seconds on its 10 million MD5
# rounds per share file.
check_import_share() {
	local name=$1 share=$2 kcv=$3 resp
	card_apdus "8052000020${share}00" || :
	resp=$(last_response)
	if [ "$(last_sw)" = 9000 ] && { [ -z "$kcv" ] || [ "${resp:4:16}" = "$kcv" ]; }; then
		ok "$name"
	else
		not_ok "$name" "SW $(last_sw), response '$resp', wanted KCV ${kcv:-any}"
		return 1
	fi
}

# card_apdus APDU...: send the APDUs with opensc-tool (after VERIFY of the user PIN) as one step.
card_apdus() {
	local args=() a
	for a in "$(verify_pin_apdu "$PIN")" "$@"; do args+=(-s "$a"); done
	step opensc-tool "${args[@]}"
}

# last_sw: the status word of the last APDU in $OUT (e.g. 9000, 6F00).
last_sw() {
	sed -n 's/.*Received (SW1=0x\([0-9A-Fa-f]\{2\}\), SW2=0x\([0-9A-Fa-f]\{2\}\)).*/\1\2/p' "$OUT" | tail -n1 |
		tr a-f A-F
}

# last_response: the data of the last response in $OUT, as hex. opensc-tool prints it as a hex
# dump of 16 "XX " groups per line followed by the ASCII column; the hex part is the first 48
# columns (lines after the first are padded to that width).
last_response() {
	awk '/^Sending:/ { data = "" ; on = 0 } /^Received/ { on = 1; next } on { data = data substr($0, 1, 48) } END { print data }' "$OUT" |
		grep -oE '[0-9A-F]{2} ' | tr -d ' \n'
}
