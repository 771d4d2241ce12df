#!/usr/bin/env bash
# A pulled device over PC/SC: a PyKCS11 client (inline below) signs with our module while the
# script stops `schsm-sim serve` in the middle of a signature (serve --fault delays that SIGN by
# 3 s). The signature fails with a clean CK_RV (device removed / session handle invalid / token
# not present / device error), the slot stays (without a token), C_WaitForSlotEvent with
# CKF_DONT_BLOCK reports the removal and then the insertion, and after the device is served again
# a new session logs in and signs (verified by the module). The client prints ok / not ok lines.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
module_require

pykcs11_require

cat >"$WORK/pulled.py" <<'PY'
import os, sys, time
import PyKCS11
from PyKCS11 import LowLevel as LL

module, ctl, pin = sys.argv[1], sys.argv[2], sys.argv[3]
def check(name, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + name + ("" if cond else "\n#   " + str(detail)), flush=True)
def mark(name):
    open(os.path.join(ctl, name), "w").close()
def wait(name, seconds=60):
    end = time.time() + seconds
    while not os.path.exists(os.path.join(ctl, name)):
        if time.time() > end:
            raise SystemExit("timeout waiting for " + name)
        time.sleep(0.1)
def rv_of(f):
    try:
        f()
        return 0
    except PyKCS11.PyKCS11Error as e:
        return e.value

lib = PyKCS11.PyKCS11Lib()
lib.load(module)
slot = lib.getSlotList(tokenPresent=True)[0]
s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
s.login(pin)
key = s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_ID, (1,))])[0]
mech = PyKCS11.Mechanism(PyKCS11.CKM_ECDSA, None)
check("a first signature (before the pull)", len(s.sign(key, b"\x11" * 32, mech)) == 64)
# Drain the events so far (the first insertion), then sign while the device is pulled.
for _ in range(4):
    if rv_of(lambda: lib.waitForSlotEvent(PyKCS11.CKF_DONT_BLOCK)) != 0:
        break
mark("signing")
t0 = time.time()
rv = rv_of(lambda: s.sign(key, b"\x22" * 32, mech))
clean = (PyKCS11.CKR_DEVICE_REMOVED, PyKCS11.CKR_SESSION_HANDLE_INVALID, PyKCS11.CKR_TOKEN_NOT_PRESENT,
         PyKCS11.CKR_DEVICE_ERROR, PyKCS11.CKR_SESSION_CLOSED)
check("a signature cut by the pull fails cleanly (%s, %.1f s)" % (PyKCS11.CKR.get(rv, rv), time.time() - t0),
      rv in clean, PyKCS11.CKR.get(rv, rv))
wait("pulled")
check("the slot stays", slot in lib.getSlotList(tokenPresent=False))
info = lib.getSlotInfo(slot)
check("... without a token", not (info.flags & PyKCS11.CKF_TOKEN_PRESENT), info.flags)
rv = rv_of(lambda: s.sign(key, b"\x33" * 32, mech))
check("the old session answers CKR_DEVICE_REMOVED or CKR_SESSION_HANDLE_INVALID (%s)" % PyKCS11.CKR.get(rv, rv),
      rv in (PyKCS11.CKR_DEVICE_REMOVED, PyKCS11.CKR_SESSION_HANDLE_INVALID, PyKCS11.CKR_SESSION_CLOSED,
             PyKCS11.CKR_TOKEN_NOT_PRESENT), rv)
events = []
for _ in range(4):
    try:
        events.append(lib.waitForSlotEvent(PyKCS11.CKF_DONT_BLOCK))
    except PyKCS11.PyKCS11Error as e:
        check("C_WaitForSlotEvent(CKF_DONT_BLOCK) ends with CKR_NO_EVENT", e.value == PyKCS11.CKR_NO_EVENT, e)
        break
check("C_WaitForSlotEvent(CKF_DONT_BLOCK) reported the removal", slot in events, events)
mark("back?")
wait("back")
end = time.time() + 15
while slot not in lib.getSlotList(tokenPresent=True) and time.time() < end:
    time.sleep(0.2)
check("the token is present again", slot in lib.getSlotList(tokenPresent=True))
events = []
for _ in range(4):
    if rv_of(lambda: events.append(lib.waitForSlotEvent(PyKCS11.CKF_DONT_BLOCK))) != 0:
        break
check("C_WaitForSlotEvent(CKF_DONT_BLOCK) reported the insertion", slot in events, events)
s2 = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
s2.login(pin)
key = s2.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_ID, (1,))])[0]
pub = s2.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_ID, (1,))])[0]
sig = s2.sign(key, b"\x44" * 32, mech)
check("a new session signs after the device came back", len(sig) == 64)
check("... and the signature verifies", s2.verify(pub, b"\x44" * 32, sig, mech))
PY

dev_new pulled --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1
dev_serve pulled || {
	not_ok "serve the device"
	exit 1
}
module_use_pcsc || exit 1
mcheck "generate a P-256 key (id 01)" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
	--id 01 --label pulled || exit 1
# The second SIGN (the client's second signature) takes 3 s: the pull comes in the middle.
dev_serve pulled --fault "delay:3000@INS=68,skip=1" || {
	not_ok "serve the device with a slow SIGN"
	exit 1
}
mkdir -p "$WORK/ctl"
echo "\$ env ${MOD_ENV[*]} $PYTHON pulled.py $MODULE" >>"$LOG"
timeout --kill-after=5 120 env "${MOD_ENV[@]}" PYTHONDONTWRITEBYTECODE=1 \
	"$PYTHON" "$WORK/pulled.py" "$MODULE" "$WORK/ctl" "$PIN" >"$WORK/pulled.out" 2>&1 &
client=$!
if wait_for "$WORK/ctl/signing"; then
	sleep 1
	dev_stop
	touch "$WORK/ctl/pulled"
	if wait_for "$WORK/ctl/back?"; then
		dev_serve pulled || echo "# the device did not come back"
		touch "$WORK/ctl/back"
	fi
fi
rc=0
wait "$client" || rc=$?
tee -a "$LOG" <"$WORK/pulled.out"
failed=$(grep -c '^not ok - ' "$WORK/pulled.out" || true)
CHECKS_FAILED=$((CHECKS_FAILED + failed))
if [ $rc != 0 ] && [ "$failed" = 0 ]; then
	# shellcheck disable=SC2034 # read by not_ok (common.sh)
	OUT=""
	not_ok "$TEST_NAME: the PyKCS11 client exited with status $rc" "$(tail -n 5 "$WORK/pulled.out" | tr '\n' '|')"
fi
finish
