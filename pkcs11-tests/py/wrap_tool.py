#!/usr/bin/python3
"""A PyKCS11 client for the DKEK wrap/unwrap tests (tests/2*-wrap-*.sh): one PKCS#11 action per
call, so the shell test can put devices in and out of the reader between the steps and check
every outcome with independent tools (OpenSC, sc-hsm-tool, openssl, schsm-sim stat).

Usage: wrap_tool.py MODULE.so ACTION [OPTIONS]   (run with /usr/bin/python3: Debian python3-pykcs11)
  dkek                                  print the DKEK object: "dkek id=<KCV hex> label=... wrap=... unwrap=..."
  keygen --type ec|ec521|rsa [--bits N] --id HEX --label L [--allowed MECH,...] [--extractable]
         --pub OUT.der
                                        generate a token key pair; the public key as a DER SPKI
  wrap --id HEX --out FILE              C_WrapKey(CKM_SCHSM_DKEK_WRAP) of the key with CKA_ID HEX
                                        under the DKEK object (size query, then the data)
  unwrap --in FILE [--label L] [--id HEX]
                                        C_UnwrapKey(CKM_SCHSM_DKEK_WRAP) with the DKEK object; prints
                                        the new key's "label=... id=... class=... allowed=..."
  info --id HEX                         the same line for the (private or secret) key with CKA_ID HEX
  pubkey --id HEX --out OUT.der         the public key object's SPKI (DER)
  sign --id HEX --mech NAME --in DATA --out SIG
                                        C_Sign (NAME: ECDSA, ECDSA_SHA256, SHA256_RSA_PKCS);
                                        ECDSA signatures are written as DER for openssl
Common option: --expect-rv CKR_NAME[,CKR_NAME...]: the action must fail with one of these return
values (exit 0 when it does, 1 otherwise). Without it, any PKCS#11 error prints "rv=CKR_..." and exits 2.
The device: the module's environment (SCHSM_SIM / SCHSM_PCSC / SCHSM_CONF); the first slot with a
token. Logs in with the user PIN 648219 in a R/W session."""

import argparse
import struct
import sys

import PyKCS11
from PyKCS11 import *  # noqa: F401,F403 (the CK* constants)

import p11raw

PIN = "648219"
CKM_SCHSM_DKEK_WRAP = 0xD3480001  # include/schsm-pkcs11.h
P256_PARAMS = bytes.fromhex("06082A8648CE3D030107")
P521_PARAMS = bytes.fromhex("06052B81040023")
MECHS = {"ECDSA": CKM_ECDSA, "ECDSA_SHA256": CKM_ECDSA_SHA256, "SHA256_RSA_PKCS": CKM_SHA256_RSA_PKCS}


class Failed(Exception):
    """A PKCS#11 call returned RV."""

    def __init__(self, what, rv):
        super().__init__(what)
        self.what = what
        self.rv = rv


def rv_name(rv):
    return PyKCS11.CKR.get(rv, hex(rv))


def call(what, fn, *args):
    try:
        return fn(*args)
    except PyKCS11.PyKCS11Error as e:
        raise Failed(what, e.value) from None


def ulongs(values):
    """CKA_ALLOWED_MECHANISMS: an array of CK_ULONG in host order."""
    return b"".join(struct.pack("@L", v) for v in values)


def mech_names(raw):
    size = struct.calcsize("L")
    data = bytes(raw)
    vals = [int.from_bytes(data[i:i + size], sys.byteorder) for i in range(0, len(data), size)]
    return ",".join(PyKCS11.CKM.get(v, hex(v)) for v in vals)


def open_session(module):
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    slots = call("C_GetSlotList", lib.getSlotList, True)
    if not slots:
        raise Failed("C_GetSlotList: no token present", CKR_TOKEN_NOT_PRESENT)
    s = call("C_OpenSession", lib.openSession, slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION)
    call("C_Login", s.login, PIN)
    return lib, s


def find_one(s, template, what):
    found = call("C_FindObjects", s.findObjects, template)
    if len(found) != 1:
        raise Failed("%s: %d objects found, want 1" % (what, len(found)), CKR_GENERAL_ERROR)
    return found[0]


def dkek(s):
    return find_one(s, [(CKA_CLASS, CKO_SECRET_KEY), (CKA_LABEL, "DKEK")], "the DKEK object")


def key_by_id(s, key_id):
    for cls in (CKO_PRIVATE_KEY, CKO_SECRET_KEY):
        found = call("C_FindObjects", s.findObjects, [(CKA_CLASS, cls), (CKA_ID, key_id)])
        if found:
            return found[0]
    raise Failed("no private or secret key with CKA_ID %s" % key_id.hex(), CKR_GENERAL_ERROR)


def describe(s, h):
    cls, label, key_id = call("C_GetAttributeValue", s.getAttributeValue, h,
                              [CKA_CLASS, CKA_LABEL, CKA_ID])
    try:
        raw = s.getAttributeValue(h, [CKA_ALLOWED_MECHANISMS])[0]
        # None: PyKCS11's view of CK_UNAVAILABLE_INFORMATION (attribute not there)
        allowed = "unavailable" if raw is None else (mech_names(raw) or "empty")
    except PyKCS11.PyKCS11Error as e:
        allowed = "(%s)" % rv_name(e.value)
    label = bytes(label).decode(errors="replace") if not isinstance(label, str) else label
    return "label=%s id=%s class=%s allowed=%s" % (label, bytes(key_id).hex().upper(),
                                                   PyKCS11.CKO.get(cls, cls), allowed)


def spki_of_public(s, pub):
    key_type = call("C_GetAttributeValue", s.getAttributeValue, pub, [CKA_KEY_TYPE])[0]
    if key_type == CKK_EC:
        params, point = s.getAttributeValue(pub, [CKA_EC_PARAMS, CKA_EC_POINT])
        return p11raw.ec_spki(bytes(params), bytes(point))
    n, e = s.getAttributeValue(pub, [CKA_MODULUS, CKA_PUBLIC_EXPONENT])
    return p11raw.rsa_spki(bytes(n), bytes(e))


def write(path, data):
    with open(path, "wb") as f:
        f.write(bytes(data))


def keygen(s, a):
    key_id = bytes.fromhex(a.id)
    common = [(CKA_TOKEN, True), (CKA_LABEL, a.label), (CKA_ID, key_id)]
    priv = common + [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_PRIVATE, True), (CKA_SENSITIVE, True),
                     (CKA_SIGN, True), (CKA_EXTRACTABLE, bool(a.extractable))]
    if a.allowed:
        priv.append((CKA_ALLOWED_MECHANISMS, ulongs(MECHS[m] for m in a.allowed.split(","))))
    pub = common + [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_VERIFY, True)]
    if a.type in ("ec", "ec521"):
        pub.append((CKA_EC_PARAMS, P256_PARAMS if a.type == "ec" else P521_PARAMS))
        mech = Mechanism(CKM_EC_KEY_PAIR_GEN)
    else:
        pub += [(CKA_MODULUS_BITS, a.bits), (CKA_PUBLIC_EXPONENT, b"\x01\x00\x01")]
        priv.append((CKA_DECRYPT, True))
        mech = Mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN)
    pub_h, priv_h = call("C_GenerateKeyPair", s.generateKeyPair, pub, priv, mech)
    write(a.pub, spki_of_public(s, pub_h))
    print("generated: " + describe(s, priv_h))


def wrap(s, a):
    key = key_by_id(s, bytes.fromhex(a.id))
    data = call("C_WrapKey", s.wrapKey, dkek(s), key, Mechanism(CKM_SCHSM_DKEK_WRAP))
    write(a.out, data)
    print("wrapped: %d bytes, first byte %02X" % (len(data), data[0] if len(data) else 0))


def unwrap(s, a):
    with open(a.input, "rb") as f:
        wrapped = f.read()
    template = []
    if a.label is not None:
        template.append((CKA_LABEL, a.label))
    if a.id is not None:
        template.append((CKA_ID, bytes.fromhex(a.id)))
    h = call("C_UnwrapKey", s.unwrapKey, dkek(s), wrapped, template, Mechanism(CKM_SCHSM_DKEK_WRAP))
    print("unwrapped: " + describe(s, h))


def sign(s, a):
    key = key_by_id(s, bytes.fromhex(a.id))
    with open(a.input, "rb") as f:
        data = f.read()
    sig = bytes(call("C_SignInit/C_Sign", s.sign, key, data, Mechanism(MECHS[a.mech])))
    if a.mech.startswith("ECDSA"):
        sig = p11raw.ecdsa_der(sig)
    write(a.out, sig)
    print("signed: %d bytes with %s" % (len(sig), a.mech))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("module")
    p.add_argument("action", choices=["dkek", "keygen", "wrap", "unwrap", "info", "pubkey", "sign"])
    p.add_argument("--type", choices=["ec", "ec521", "rsa"], default="ec")
    p.add_argument("--bits", type=int, default=2048, help="RSA modulus size")
    p.add_argument("--id")
    p.add_argument("--label")
    p.add_argument("--allowed")
    p.add_argument("--extractable", action="store_true")
    p.add_argument("--pub")
    p.add_argument("--out")
    p.add_argument("--in", dest="input")
    p.add_argument("--mech", choices=sorted(MECHS))
    p.add_argument("--expect-rv")
    a = p.parse_args()

    lib = None
    try:
        lib, s = open_session(a.module)
        if a.action == "dkek":
            h = dkek(s)
            key_id, wrap_ok, unwrap_ok, extractable = s.getAttributeValue(
                h, [CKA_ID, CKA_WRAP, CKA_UNWRAP, CKA_EXTRACTABLE])
            print("dkek id=%s wrap=%s unwrap=%s extractable=%s" % (
                bytes(key_id).hex().upper(), wrap_ok, unwrap_ok, extractable))
        elif a.action == "keygen":
            keygen(s, a)
        elif a.action == "wrap":
            wrap(s, a)
        elif a.action == "unwrap":
            unwrap(s, a)
        elif a.action == "info":
            print("key: " + describe(s, key_by_id(s, bytes.fromhex(a.id))))
        elif a.action == "pubkey":
            pub = find_one(s, [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_ID, bytes.fromhex(a.id))], "public key")
            write(a.out, spki_of_public(s, pub))
            print("public key written")
        elif a.action == "sign":
            sign(s, a)
    except Failed as e:
        print("%s: rv=%s" % (e.what, rv_name(e.rv)))
        if a.expect_rv:
            ok = rv_name(e.rv) in a.expect_rv.split(",")
            print("expected %s: %s" % (a.expect_rv, "yes" if ok else "no"))
            return 0 if ok else 1
        return 2
    if a.expect_rv:
        print("expected %s, but the call succeeded" % a.expect_rv)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
