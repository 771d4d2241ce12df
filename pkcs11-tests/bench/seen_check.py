"""The rule that keeps the caches honest, checked over PC/SC with OpenSC as the other process:
a key that another process generates while our module is loaded is seen by our next
C_FindObjectsInit in a NEW session (the first find of each session enumerates the card again),
and can sign. A find in a session that already searched keeps its view (README, find.rs).

Usage: /usr/bin/python3 seen_check.py OUR-MODULE OPENSC-MODULE PIN
(the environment carries SCHSM_* for our module and OPENSC_CONF for OpenSC's).
Prints ok / not ok lines.
"""

import os
import subprocess
import sys

from PyKCS11 import PyKCS11Lib, Mechanism, PyKCS11Error
from PyKCS11.LowLevel import (CKA_CLASS, CKA_LABEL, CKO_PRIVATE_KEY, CKF_SERIAL_SESSION, CKU_USER,
                              CKM_ECDSA, CKR_USER_ALREADY_LOGGED_IN,
                              CKR_USER_NOT_LOGGED_IN)

LABEL = "seen-by-new-session"


def report(name, good, detail=""):
    print("%s - bench: %s%s" % ("ok" if good else "not ok", name, "" if good else " (%s)" % detail), flush=True)
    return good


def login(s, pin):
    try:
        s.login(pin, CKU_USER)
    except PyKCS11Error as e:
        if e.value != CKR_USER_ALREADY_LOGGED_IN:
            raise


def main():
    ours, opensc, pin = sys.argv[1:4]
    p11 = PyKCS11Lib()
    p11.load(ours)
    slot = p11.getSlotList(tokenPresent=True)[0]
    s1 = p11.openSession(slot, CKF_SERIAL_SESSION)
    login(s1, pin)
    before = len(s1.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY)]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHSM_")}
    r = subprocess.run(["pkcs11-tool", "--module", opensc, "--login", "--pin", pin, "--keypairgen",
                        "--key-type", "EC:prime256v1", "--label", LABEL, "--id", "01ff"],
                       env=env, capture_output=True, text=True, timeout=60)
    if not report("OpenSC generates a key while our module is loaded", r.returncode == 0, r.stdout + r.stderr):
        return 1
    same = len(s1.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY)]))
    ok = report("a session that searched before keeps its view (%d private keys)" % before, same == before,
                "%d keys now" % same)
    s2 = p11.openSession(slot, CKF_SERIAL_SESSION)
    # OpenSC may have logged the card out when it finished: log in again if so.
    login(s2, pin)
    found = s2.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, LABEL)])
    ok &= report("the next C_FindObjectsInit in a new session sees OpenSC's new key", len(found) == 1,
                 "%d found" % len(found))
    if found:
        try:
            sig = bytes(s2.sign(found[0], bytes(32), Mechanism(CKM_ECDSA)))
        except PyKCS11Error as e:
            # The PIN state is the card's: OpenSC logs the card out when it finishes. Our
            # module then reports CKR_USER_NOT_LOGGED_IN and is logged out, so C_Login works.
            if e.value != CKR_USER_NOT_LOGGED_IN:
                raise
            print("# the card forgot the PIN when OpenSC finished: CKR_USER_NOT_LOGGED_IN, log in again")
            s2.login(pin, CKU_USER)
            sig = bytes(s2.sign(found[0], bytes(32), Mechanism(CKM_ECDSA)))
        ok &= report("... and signs with it", len(sig) == 64, "%d-byte signature" % len(sig))
    total = len(s2.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY)]))
    ok &= report("... and lists it with the others (%d private keys)" % (before + 1), total == before + 1, "%d keys" % total)
    s2.logout()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
