#!/usr/bin/env bash
# A pulled device over PC/SC during a key wrap, a key generation and a key unwrap. A PyKCS11
# client (inline below) runs each operation while `schsm-sim serve --fault delay:3000@INS=..`
# holds its APDU (WRAP KEY 72, GENERATE 46, UNWRAP KEY 74) and the script stops the device in the
# middle (SIGTERM: the simulator still executes the held command, its answer is lost: the worst
# case, the card did it and the module never heard). For each:
# - the operation fails with a clean CK_RV within a bounded time; the old session answers
#   CKR_DEVICE_REMOVED or CKR_SESSION_HANDLE_INVALID; the slot stays;
# - after the device is served again a new session works and the card is consistent: every
#   private key the module shows has its public key and signs (verified through that public key),
#   so no half key is served as a usable pair;
# - wrap: the original key and the key wrapped before the cut stay usable;
# - generate: a retry with the same CKA_ID succeeds and signs;
# - unwrap: the module wrote the key's description and public key before UNWRAP KEY, so the key
#   the card imported before the pull is complete: listed, and it signs what the original key's
#   public key verifies; a second unwrap of the same blob works too.
# What the card holds after each cut is reported from `schsm-sim stat`.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/apdu.sh
. "$T_DIR/lib/apdu.sh"
# shellcheck source=../lib/module.sh
. "$T_DIR/lib/module.sh"
module_require

pykcs11_require

# key_files: the key files (CCxx), descriptions (C4xx) and public keys (CExx) on the device.
key_files() {
	timeout 30 "$SIM" stat "$WORK/ops" 2>/dev/null | grep -oE '\b(CC|C4|CE)[0-9A-F]{2}\b' | sort -u | paste -sd' ' -
}

# undescribed "FILES": the key references (hex, not 00, the device key) with a key file CCxx and
# no description C4xx.
undescribed() {
	local f id
	for f in $1; do
		case $f in CC??) id=${f#CC} ;; *) continue ;; esac
		[ "$id" = 00 ] && continue
		has "$1" "C4$id" || echo "$id"
	done
}
has() { [[ " $1 " == *" $2 "* ]]; }

cat >"$WORK/pulled_ops.py" <<'PY'
import os, sys, time
import PyKCS11
from PyKCS11 import *  # noqa: F401,F403 (the CK* constants)

module, ctl, pin = sys.argv[1], sys.argv[2], sys.argv[3]
CKM_SCHSM_DKEK_WRAP = 0xD3480001  # include/schsm-pkcs11.h
P256 = bytes.fromhex("06082A8648CE3D030107")
BOUND = 15.0  # the cut comes 1 s into a 3 s delay
CLEAN = (CKR_DEVICE_REMOVED, CKR_SESSION_HANDLE_INVALID, CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_ERROR,
         CKR_SESSION_CLOSED)
ECDSA = Mechanism(CKM_ECDSA, None)
round_no = 0

def check(name, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + name + ("" if cond else "\n#   " + str(detail)), flush=True)
def mark(name, content=""):
    with open(os.path.join(ctl, name + ".tmp"), "w") as f:
        f.write(content)
    os.rename(os.path.join(ctl, name + ".tmp"), os.path.join(ctl, name))
def wait(name, seconds=90):
    end = time.time() + seconds
    while not os.path.exists(os.path.join(ctl, name)):
        if time.time() > end:
            raise SystemExit("timeout waiting for " + name)
        time.sleep(0.1)
def rv_of(f):
    try:
        f()
        return CKR_OK
    except PyKCS11.PyKCS11Error as e:
        return e.value
def name(rv):
    return PyKCS11.CKR.get(rv, hex(rv))

lib = PyKCS11.PyKCS11Lib()
lib.load(module)
slot = lib.getSlotList(tokenPresent=True)[0]

def session():
    s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    rv = rv_of(lambda: s.login(pin))
    if rv not in (CKR_OK, CKR_USER_ALREADY_LOGGED_IN):  # login state is token-wide
        raise PyKCS11.PyKCS11Error(rv)
    return s
def one(s, template):
    found = s.findObjects(template)
    return found[0] if len(found) == 1 else None
def dkek(s):
    return one(s, [(CKA_CLASS, CKO_SECRET_KEY), (CKA_LABEL, "DKEK")])
def keygen(s, key_id, label):
    pub = [(CKA_TOKEN, True), (CKA_ID, key_id), (CKA_LABEL, label), (CKA_EC_PARAMS, P256), (CKA_VERIFY, True)]
    priv = [(CKA_TOKEN, True), (CKA_ID, key_id), (CKA_LABEL, label), (CKA_PRIVATE, True), (CKA_SIGN, True),
            (CKA_SENSITIVE, True), (CKA_EXTRACTABLE, True)]
    return s.generateKeyPair(pub, priv, Mechanism(CKM_EC_KEY_PAIR_GEN))
def signs_with(s, priv, pub, data):
    sig = s.sign(priv, data, ECDSA)
    return len(sig) == 64 and s.verify(pub, data, sig, ECDSA)
def key_ids(s):
    return sorted(bytes(s.getAttributeValue(k, [CKA_ID])[0]).hex()
                  for k in s.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY)]))

def consistent(what):
    """Every private key the module shows has its public key and signs what it verifies."""
    s = session()
    bad = []
    keys = s.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY)])
    for k in keys:
        kid, label = s.getAttributeValue(k, [CKA_ID, CKA_LABEL])
        kid = bytes(kid)
        pub = one(s, [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_ID, kid)])
        if pub is None:
            bad.append("%s (%s): no public key" % (kid.hex(), label))
            continue
        try:
            if not signs_with(s, k, pub, b"\x5a" * 32):
                bad.append("%s (%s): signature does not verify" % (kid.hex(), label))
        except PyKCS11.PyKCS11Error as e:
            bad.append("%s (%s): %s" % (kid.hex(), label, name(e.value)))
    print("# after the cut %s: private keys %s" % (what, key_ids(s)), flush=True)
    check("after the cut %s every private key (%d) has its public key and signs" % (what, len(keys)),
          not bad, bad)
    return s

def cut(what, op, old, next_fault):
    """Runs op while the script pulls the device; then checks the old session and the slot."""
    global round_no
    round_no += 1
    mark("cut%d" % round_no)
    t0 = time.time()
    rv = rv_of(op)
    took = time.time() - t0
    check("%s cut by the pull fails cleanly (%s, %.1f s)" % (what, name(rv), took), rv in CLEAN, name(rv))
    check("... within %.0f s" % BOUND, took < BOUND, "%.1f s" % took)
    wait("pulled%d" % round_no)
    rv = rv_of(lambda: old.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY)]))
    check("... the old session then answers CKR_DEVICE_REMOVED or CKR_SESSION_HANDLE_INVALID (%s)" % name(rv),
          rv in (CKR_DEVICE_REMOVED, CKR_SESSION_HANDLE_INVALID), name(rv))
    check("... the slot stays", slot in lib.getSlotList(tokenPresent=False))
    mark("back%d?" % round_no, next_fault)
    wait("back%d" % round_no)
    end = time.time() + 15
    while slot not in lib.getSlotList(tokenPresent=True) and time.time() < end:
        time.sleep(0.2)
    check("... the token is present again after serving", slot in lib.getSlotList(tokenPresent=True))

# --- Wrap (the device holds WRAP KEY #2 for 3 s) -------------------------------------------------
s = session()
pub1, priv1 = keygen(s, b"\x01", "original")
check("generate an extractable P-256 key (id 01)", signs_with(s, priv1, pub1, b"\x11" * 32))
blob = bytes(s.wrapKey(dkek(s), priv1, Mechanism(CKM_SCHSM_DKEK_WRAP)))
check("wrap it under the DKEK before any cut (%d bytes)" % len(blob), len(blob) > 100)
cut("a C_WrapKey", lambda: s.wrapKey(dkek(s), priv1, Mechanism(CKM_SCHSM_DKEK_WRAP)), s, "delay:3000@INS=46")
s = consistent("C_WrapKey")
priv1 = one(s, [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_ID, b"\x01")])
pub1 = one(s, [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_ID, b"\x01")])
check("the original key is still there with its public key", priv1 is not None and pub1 is not None)

# --- Key generation (the device holds GENERATE for 3 s) -----------------------------------------
cut("a C_GenerateKeyPair", lambda: keygen(s, b"\x10", "cut-keygen"), s, "delay:3000@INS=74")
s = consistent("C_GenerateKeyPair")
ids = key_ids(s)
check("... and it holds the original key and at most one key from the cut generation",
      "01" in ids and len(ids) <= 2, ids)
rv = rv_of(lambda: keygen(s, b"\x10", "retry-keygen"))
check("a retried key generation with the same CKA_ID succeeds (%s)" % name(rv), rv == CKR_OK, name(rv))
priv10 = s.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, "retry-keygen")])
pub10 = s.findObjects([(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_LABEL, "retry-keygen")])
check("... and the new key signs (verified)",
      len(priv10) == 1 and len(pub10) == 1 and signs_with(s, priv10[0], pub10[0], b"\x22" * 32))

# --- Unwrap (the device holds UNWRAP KEY for 3 s) -----------------------------------------------
unwrap_template = [(CKA_ID, b"\x20"), (CKA_LABEL, "unwrapped")]
before = key_ids(s)
cut("a C_UnwrapKey", lambda: s.unwrapKey(dkek(s), blob, unwrap_template, Mechanism(CKM_SCHSM_DKEK_WRAP)),
    s, "")
s = consistent("C_UnwrapKey")
# The module writes the key's files before UNWRAP KEY: the key the card imported before the pull
# is complete (label, ID, public key from the envelope), not hidden.
check("... the key of the cut unwrap is shown, complete", key_ids(s) == sorted(before + ["20"]),
      (before, key_ids(s)))
priv20 = one(s, [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_ID, b"\x20"), (CKA_LABEL, "unwrapped")])
pub1 = one(s, [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_ID, b"\x01")])
check("... and signs what the original key's public key verifies",
      priv20 is not None and pub1 is not None and signs_with(s, priv20, pub1, b"\x33" * 32))
rv = rv_of(lambda: s.unwrapKey(dkek(s), blob, [(CKA_ID, b"\x21"), (CKA_LABEL, "again")],
                               Mechanism(CKM_SCHSM_DKEK_WRAP)))
check("a second C_UnwrapKey of the same blob succeeds (%s)" % name(rv), rv == CKR_OK, name(rv))
priv21 = one(s, [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_ID, b"\x21")])
check("... and that key signs what the original key's public key verifies",
      priv21 is not None and signs_with(s, priv21, pub1, b"\x44" * 32))
consistent("C_UnwrapKey and the second unwrap")
mark("done")
PY

dev_new ops --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" --dkek-shares 1 || exit 1
dev_serve ops || {
	not_ok "serve the device"
	exit 1
}
check_import_share "import a DKEK share" "$VECTOR_SHARE_PLAIN" "" || exit 1
module_use_pcsc || exit 1
# The first WRAP KEY passes, the second is held 3 s: the pull comes in the middle.
dev_serve ops --fault "delay:3000@INS=72,skip=1" || {
	not_ok "serve the device with a slow second WRAP KEY"
	exit 1
}
mkdir -p "$WORK/ctl"
echo "\$ env ${MOD_ENV[*]} $PYTHON pulled_ops.py $MODULE" >>"$LOG"
timeout --kill-after=5 240 env "${MOD_ENV[@]}" PYTHONDONTWRITEBYTECODE=1 \
	"$PYTHON" "$WORK/pulled_ops.py" "$MODULE" "$WORK/ctl" "$PIN" >"$WORK/pulled_ops.out" 2>&1 &
client=$!
STAT=()
for round in 1 2 3; do
	wait_for "$WORK/ctl/cut$round" || break
	sleep 1
	dev_stop
	STAT[round]=$(key_files)
	echo "# after cut $round the card holds: ${STAT[$round]}" >>"$WORK/stat.out"
	touch "$WORK/ctl/pulled$round"
	wait_for "$WORK/ctl/back$round?" || break
	fault=$(cat "$WORK/ctl/back$round?")
	dev_serve ops ${fault:+--fault "$fault"} || echo "# the device did not come back (round $round)"
	touch "$WORK/ctl/back$round"
done
rc=0
wait "$client" || rc=$?
tee -a "$LOG" <"$WORK/pulled_ops.out"
cat "$WORK/stat.out" 2>/dev/null || true
failed=$(grep -c '^not ok - ' "$WORK/pulled_ops.out" || true)
CHECKS_FAILED=$((CHECKS_FAILED + failed))

# What the cuts left on the card (SIGTERM: the held command was executed, its answer lost).
final=$(key_files)
echo "# at the end the card holds: $final"
if [ ${#STAT[@]} = 3 ]; then
	# The cut GENERATE made a key (CCxx, and the card's CExx) without description: the module
	# showed it with a default one (checked by the client), and must have written that
	# description once the user was logged in, so that OpenSC lists the key too.
	cut_keys=$(undescribed "${STAT[2]}")
	check_true "the cut key generation left a key without description on the card (${cut_keys:-none})" \
		test -n "$cut_keys" || :
	missing=""
	for id in $cut_keys; do
		has "$final" "CE$id" && ! has "$final" "C4$id" && missing="$missing $id"
	done
	check_true "... which got its default description written (C4xx) after the next login" \
		test -z "$missing" || :
	if mstep --login --pin "$PIN" -O; then
		ours=$(grep -c '^Private Key Object' "$OUT" || true)
		if step p11 --login --pin "$PIN" -O; then
			theirs=$(grep -c '^Private Key Object' "$OUT" || true)
			check_true "OpenSC lists as many private keys as our module ($theirs/$ours)" test "$theirs" = "$ours" || :
		else
			not_ok "OpenSC lists the keys"
		fi
	else
		not_ok "our module lists the keys"
	fi
	# The cut UNWRAP KEY: its description and public key were written before the card imported
	# the key, so no key on the card is left without description.
	hidden=$(undescribed "$final")
	check_true "no key on the card is left without description (${hidden:-none})" test -z "$hidden" || :
else
	not_ok "$TEST_NAME: the card's files were not seen after every cut"
fi
if [ $rc != 0 ] && [ "$failed" = 0 ]; then
	# shellcheck disable=SC2034 # read by not_ok (common.sh)
	OUT=""
	not_ok "$TEST_NAME: the PyKCS11 client exited with status $rc" "$(tail -n 5 "$WORK/pulled_ops.out" | tr '\n' '|')"
fi
finish
