#!/usr/bin/env bash
# The blocking C_WaitForSlotEvent over PC/SC (pcscd + vpcd). A Python client (inline below:
# PyKCS11 for sessions, ctypes on the same loaded module for C_WaitForSlotEvent, C_Finalize and
# C_Initialize, because ctypes lets other Python threads run while a call blocks) keeps a thread
# blocked in C_WaitForSlotEvent(0) while:
# - the main thread signs (the wait holds no lock), then the script stops `schsm-sim serve`:
#   the waiter returns our slot (removal); the old session is gone;
# - the script serves the device again: the waiter returns our slot (insertion); a new session
#   signs and verifies;
# - the main thread calls C_Finalize and at once C_Initialize (NSS's SECMOD_CancelWait, what
#   Firefox does on exit): the waiter returns CKR_CRYPTOKI_NOT_INITIALIZED, and a session of the
#   new initialisation signs.
# Each wake-up is timed (printed as "# wake-up ...") and must come within 3 s.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
module_require

pykcs11_require

cat >"$WORK/wait_event.py" <<'PY'
import ctypes, os, sys, threading, time
import PyKCS11

module, ctl, pin = sys.argv[1], sys.argv[2], sys.argv[3]
BOUND = 3.0
CKR_OK, CKR_CRYPTOKI_NOT_INITIALIZED = 0, 0x190
def check(name, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + name + ("" if cond else "\n#   " + str(detail)), flush=True)
def mark(name, content=""):
    with open(os.path.join(ctl, name), "w") as f:
        f.write(content)
def wait(name, seconds=60):
    path = os.path.join(ctl, name)
    end = time.time() + seconds
    while not os.path.exists(path):
        if time.time() > end:
            raise SystemExit("timeout waiting for " + name)
        time.sleep(0.05)
    with open(path) as f:
        return f.read().strip()

raw = ctypes.CDLL(module)  # the same loaded module as PyKCS11's (dlopen of one path)
raw.C_WaitForSlotEvent.argtypes = [ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p]
raw.C_Finalize.argtypes = [ctypes.c_void_p]
raw.C_Initialize.argtypes = [ctypes.c_void_p]

class Waiter(threading.Thread):
    """A thread blocked in C_WaitForSlotEvent(0): rv, slot and the time it returned."""
    def __init__(self):
        super().__init__(daemon=True)
        self.rv = self.slot = self.at = None
        self.start()
        time.sleep(1.0)
    def run(self):
        slot = ctypes.c_ulong(0xFFFF)
        self.rv = raw.C_WaitForSlotEvent(0, ctypes.byref(slot), None)
        self.slot, self.at = slot.value, time.time()
    def result(self, seconds=15):
        self.join(seconds)
        return None if self.is_alive() else (self.rv, self.slot)

def wake_check(what, w, since, expect):
    got = w.result()
    if got is None:
        check("the waiter returns on %s" % what, False, "still blocked after 15 s")
        return
    took = max(0.0, w.at - since)
    print("# wake-up on %s: %d ms" % (what, took * 1000), flush=True)
    check("the waiter returns on %s with rv %#x, slot %d (%d ms)" % (what, expect[0], expect[1], took * 1000),
          got == expect, got)
    check("... within %.0f s" % BOUND, took < BOUND, "%.2f s" % took)

lib = PyKCS11.PyKCS11Lib()
lib.load(module)
slot = lib.getSlotList(tokenPresent=True)[0]
mech = PyKCS11.Mechanism(PyKCS11.CKM_ECDSA, None)
def session():
    s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    s.login(pin)
    key = s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_ID, (1,))])[0]
    pub = s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_ID, (1,))])[0]
    return s, key, pub
def signs(s, key, pub, data):
    sig = s.sign(key, data, mech)
    return len(sig) == 64 and s.verify(pub, data, sig, mech)
for _ in range(4):  # the events so far (the first insertion)
    try:
        lib.waitForSlotEvent(PyKCS11.CKF_DONT_BLOCK)
    except PyKCS11.PyKCS11Error:
        break

# 1. Blocked while nothing happens; other threads sign meanwhile.
w = Waiter()
check("C_WaitForSlotEvent(0) blocks while nothing happens", w.is_alive())
s, key, pub = session()
t0 = time.time()
check("another thread signs while the waiter blocks", signs(s, key, pub, b"\x11" * 32))
check("... without waiting for it (%.2f s)" % (time.time() - t0), time.time() - t0 < BOUND)
check("... and the waiter still blocks", w.is_alive())

# 2. Removal.
mark("pull")
pulled_at = float(wait("pulling"))
wake_check("the removal", w, pulled_at, (CKR_OK, slot))
try:
    s.sign(key, b"\x22" * 32, mech)
    rv = CKR_OK
except PyKCS11.PyKCS11Error as e:
    rv = e.value
check("the old session answers CKR_DEVICE_REMOVED or CKR_SESSION_HANDLE_INVALID (%s)" % PyKCS11.CKR.get(rv, rv),
      rv in (PyKCS11.CKR_DEVICE_REMOVED, PyKCS11.CKR_SESSION_HANDLE_INVALID), rv)
check("the slot stays", slot in lib.getSlotList(tokenPresent=False))
try:
    lib.waitForSlotEvent(PyKCS11.CKF_DONT_BLOCK)
    rv = CKR_OK
except PyKCS11.PyKCS11Error as e:
    rv = e.value
check("the blocking wait cleared the event it reported (CKF_DONT_BLOCK: CKR_NO_EVENT)",
      rv == PyKCS11.CKR_NO_EVENT, PyKCS11.CKR.get(rv, rv))

# 3. Insertion.
w = Waiter()
check("C_WaitForSlotEvent(0) blocks on the empty slot", w.is_alive())
mark("serve")
served_at = float(wait("served"))
serving_at = float(wait("serving"))
if w.at is not None:
    print("# the insertion woke the waiter %d ms after `schsm-sim serve` started" % ((w.at - serving_at) * 1000), flush=True)
wake_check("the insertion (time from the card showing in PC/SC)", w, served_at, (CKR_OK, slot))
s, key, pub = session()
check("a new session signs after the insertion, and the signature verifies", signs(s, key, pub, b"\x33" * 32))

# 4. C_Finalize from another thread, C_Initialize at once (SECMOD_CancelWait).
w = Waiter()
check("C_WaitForSlotEvent(0) blocks again", w.is_alive())
t0 = time.time()
rv = raw.C_Finalize(None)
fin = time.time() - t0
check("C_Finalize with a blocked waiter returns CKR_OK (%d ms)" % (fin * 1000), rv == CKR_OK and fin < BOUND, rv)
rv = raw.C_Initialize(None)
check("C_Initialize right after it works", rv == CKR_OK, rv)
wake_check("C_Finalize", w, t0, (CKR_CRYPTOKI_NOT_INITIALIZED, 0xFFFF))
slot = lib.getSlotList(tokenPresent=True)[0]
s, key, pub = session()
check("a session of the new initialisation signs, and the signature verifies", signs(s, key, pub, b"\x44" * 32))
mark("done")
PY

dev_new waitev --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1
dev_serve waitev || {
	not_ok "serve the device"
	exit 1
}
module_use_pcsc || exit 1
mcheck "generate a P-256 key (id 01)" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
	--id 01 --label waitev || exit 1
mkdir -p "$WORK/ctl"
echo "\$ env ${MOD_ENV[*]} $PYTHON wait_event.py $MODULE" >>"$LOG"
timeout --kill-after=5 120 env "${MOD_ENV[@]}" PYTHONDONTWRITEBYTECODE=1 \
	"$PYTHON" "$WORK/wait_event.py" "$MODULE" "$WORK/ctl" "$PIN" >"$WORK/wait_event.out" 2>&1 &
client=$!
if wait_for "$WORK/ctl/pull"; then
	date +%s.%N >"$WORK/ctl/pulling.tmp" && mv "$WORK/ctl/pulling.tmp" "$WORK/ctl/pulling"
	dev_stop
	if wait_for "$WORK/ctl/serve"; then
		date +%s.%N >"$WORK/ctl/serving"
		dev_serve waitev || echo "# the device did not come back"
		date +%s.%N >"$WORK/ctl/served.tmp" && mv "$WORK/ctl/served.tmp" "$WORK/ctl/served"
	fi
fi
rc=0
wait "$client" || rc=$?
tee -a "$LOG" <"$WORK/wait_event.out"
failed=$(grep -c '^not ok - ' "$WORK/wait_event.out" || true)
CHECKS_FAILED=$((CHECKS_FAILED + failed))
if [ $rc != 0 ] && [ "$failed" = 0 ]; then
	# shellcheck disable=SC2034 # read by not_ok (common.sh)
	OUT=""
	not_ok "$TEST_NAME: the Python client exited with status $rc" "$(tail -n 5 "$WORK/wait_event.out" | tr '\n' '|')"
fi
finish
