#!/usr/bin/env bash
# Two processes at once on one card over PC/SC, each with 4 threads: every thread signs different
# data with the same P-256 key and lists the objects, and every signature is verified (by the
# module's C_Verify in the same process, and against the public key the other process reads).
# Then one process logs out while the other signs. The card has one login state for everyone
# (C_Logout re-selects the applet), and the module does not keep the PIN to log in again, so the
# other process's next signatures answer CKR_USER_NOT_LOGGED_IN (as with OpenSC's module): this
# test pins that down. What must never happen: a crash, a hang, or a signature that does not
# verify.
# Both processes log in before either signs, and both finish signing before either closes its
# sessions (file barriers): a process that starts using the card selects the applet, and closing the
# last session logs out (as OpenSC does), and either logs out everybody (one login state per card,
# README "Speed"). That is the logout case below, not a concurrency question.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
module_require

pykcs11_require

cat >"$WORK/signer.py" <<'PY'
import os, sys, threading, time
import PyKCS11

module, pin, who, rounds, logout_early = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
# "1": another process may log the card out; CKR_USER_NOT_LOGGED_IN then ends a thread cleanly.
tolerate_logout = len(sys.argv) > 6 and sys.argv[6] == "1"
logged_out = []
lib = PyKCS11.PyKCS11Lib()
lib.load(module)
slot = lib.getSlotList(tokenPresent=True)[0]
mech = PyKCS11.Mechanism(PyKCS11.CKM_ECDSA, None)
failures = []
signed = [0]
lock = threading.Lock()

def worker(n):
    try:
        s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
        key = s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_ID, (1,))])[0]
        pub = s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_ID, (1,))])[0]
        for i in range(rounds):
            data = bytes([(n * 31 + i) & 0xFF]) * 32
            sig = s.sign(key, data, mech)
            if not s.verify(pub, data, sig, mech):
                failures.append("%s thread %d: signature %d does not verify" % (who, n, i))
            if len(s.findObjects([])) < 2:
                failures.append("%s thread %d: the key pair is not listed" % (who, n))
            with lock:
                signed[0] += 1
        s.closeSession()
    except PyKCS11.PyKCS11Error as e:
        if tolerate_logout and e.value == PyKCS11.CKR_USER_NOT_LOGGED_IN:
            logged_out.append(n)
        else:
            failures.append("%s thread %d: %s" % (who, n, e))

login = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
login.login(pin)
barrier = os.environ.get("SIGNER_BARRIER")

def meet(stage):
    # Both processes reach `stage` before either goes on (see the script's comment); bounded.
    if not barrier:
        return
    d = os.path.join(barrier, stage)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, who.replace(" ", "_")), "w").close()
    deadline = time.time() + 60
    while len(os.listdir(d)) < 2 and time.time() < deadline:
        time.sleep(0.05)

meet("logged-in")
threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
for t in threads:
    t.start()
if logout_early:
    # Logs out while its own threads and the other process are signing: its own threads may
    # fail from now on (they are logged out), the other process must not.
    time.sleep(0.5)
    login.logout()
    for t in threads:
        t.join()
    print("# %s logged out half way; %d signatures made before" % (who, signed[0]))
    meet("signed")
    sys.exit(0)
for t in threads:
    t.join()
meet("signed")
ok = not failures and (signed[0] == 4 * rounds or (tolerate_logout and logged_out))
extra = " (%d threads then logged out by the other process)" % len(logged_out) if logged_out else ""
print(("ok - " if ok else "not ok - ") + "%s: %d signatures from 4 threads, every one verified%s" % (who, signed[0], extra))
for f in failures[:5]:
    print("#   " + f)
sys.exit(0 if ok else 1)
PY

dev_start procs --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1
module_use_pcsc || exit 1
mcheck "generate a P-256 key (id 01)" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
	--id 01 --label shared || exit 1

run_signer() { # WHO ROUNDS LOGOUT-EARLY [TOLERATE-LOGOUT]
	timeout --kill-after=5 180 env "${MOD_ENV[@]}" PYTHONDONTWRITEBYTECODE=1 SIGNER_BARRIER="$BARRIER" \
		"$PYTHON" "$WORK/signer.py" "$MODULE" "$PIN" "$1" "$2" "$3" "${4:-0}" >"$WORK/$1.out" 2>&1
}

rc_a=0 rc_b=0
BARRIER=$WORK/barrier-ab
mkdir -p "$BARRIER"
run_signer "process A" 15 0 &
a=$!
run_signer "process B" 15 0 &
b=$!
wait $a || rc_a=$?
wait $b || rc_b=$?
for p in "process A" "process B"; do
	tee -a "$LOG" <"$WORK/$p.out"
done
check_true "two processes x 4 threads: both finished (exit $rc_a, $rc_b)" test "$rc_a/$rc_b" = 0/0 || :

rc_a=0 rc_b=0
BARRIER=$WORK/barrier-cd
mkdir -p "$BARRIER"
run_signer "process C" 40 0 1 &
a=$!
run_signer "process D (logs out)" 20 1 &
b=$!
wait $a || rc_a=$?
wait $b || rc_b=$?
for p in "process C" "process D (logs out)"; do
	tee -a "$LOG" <"$WORK/$p.out"
done
check_true "another process's logout: the signer ends cleanly, every signature made verifies (exit $rc_a)" \
	test "$rc_a" = 0 || :
finish
