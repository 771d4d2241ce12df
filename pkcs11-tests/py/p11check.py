"""Reporting and calling helpers of the PyKCS11 client (test_module.py): ok / not ok lines,
CK_RV names and checks, handles kept as integers, the loaded module and its low-level calls."""

import sys

import PyKCS11
import PyKCS11.LowLevel as LL
from PyKCS11 import CKF_RW_SESSION, CKF_SERIAL_SESSION, CKR_OK

import p11raw

FAILED = 0  # failed checks so far


def ok(name, cond, *detail):
    """Print the check's line; DETAIL lines explain a failure. Returns COND."""
    global FAILED
    if cond:
        print("ok - pykcs11: " + name)
    else:
        FAILED += 1
        print("not ok - pykcs11: " + name)
        for d in detail:
            print("#   " + str(d))
    sys.stdout.flush()
    return cond


def rv_name(rv):
    return PyKCS11.CKR.get(rv, hex(rv))


def expect_rv(name, rv, *want):
    return ok(name, rv in want, "got %s, want %s" % (rv_name(rv), " or ".join(map(rv_name, want))))


def rv_of(fn, *args):
    """The CK_RV of a high-level PyKCS11 call (CKR_OK when it raised nothing)."""
    try:
        fn(*args)
        return CKR_OK
    except PyKCS11.PyKCS11Error as e:
        return e.value


def hval(h):
    return h.value() if hasattr(h, "value") else int(h)


def oh(value):
    """A PyKCS11 object handle for the integer VALUE (the checks keep handles as integers)."""
    h = LL.CK_OBJECT_HANDLE()
    h.assign(value)
    return h


class Module:
    def __init__(self, path):
        self.path = path
        self.pk = PyKCS11.PyKCS11Lib()
        self.pk.load(path)
        self.lib = self.pk.lib  # the low-level CPKCS11Lib: raw CK_RVs
        self.raw = p11raw.Raw(path)
        self.slot = self.pk.getSlotList(tokenPresent=True)[0]

    def session(self, rw=True):
        flags = CKF_SERIAL_SESSION | (CKF_RW_SESSION if rw else 0)
        return self.pk.openSession(self.slot, flags)

    def flags(self):
        return self.pk.getTokenInfo(self.slot).flags

    def find(self, s, template):
        return sorted(hval(h) for h in s.findObjects(template))


def low_get(m, s, obj, kinds, sizes=None):
    """Low-level C_GetAttributeValue: (rv, [(length, bytes)]). SIZES: per attribute a buffer size,
    or None for a length query (NULL pValue)."""
    t = LL.ckattrlist(len(kinds))
    for i, k in enumerate(kinds):
        t[i].SetType(k)
        if sizes is not None and sizes[i]:
            t[i].Reserve(sizes[i])
    rv = m.lib.C_GetAttributeValue(s.session, oh(obj), t)
    return rv, [(t[i].GetLen(), bytes(t[i].GetBin())) for i in range(len(kinds))]


def ulong(b):
    return int.from_bytes(b, sys.byteorder) if len(b) == 8 else None
