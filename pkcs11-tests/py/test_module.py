#!/usr/bin/python3
"""A PyKCS11 client that checks our PKCS#11 module against the PKCS#11 2.40 base specification:
session states, C_GetAttributeValue (several attributes, invalid and sensitive ones, length
queries, short buffers), C_SetAttributeValue of CKA_LABEL / CKA_ID (seen in a new session and in
a new process), C_FindObjects templates, C_Sign size queries and CKR_BUFFER_TOO_SMALL, and the
PIN flags / lock / SO unlock, C_DestroyObject of key pairs; RSA-OAEP decryption honours the OAEP label.

Usage: test_module.py MODULE.so        (the device: SCHSM_SIM=DIR SCHSM_PCSC=0 in the environment;
                                        an initialised device with no keys, user PIN 648219,
                                        SO-PIN 3537363231383830, 3 PIN tries)
       test_module.py MODULE.so --find-renamed   (helper: the second process of check E5)
Prints "ok - NAME" / "not ok - NAME" (with '#' detail lines); exits 1 when a check failed.

Run with /usr/bin/python3 (Debian python3-pykcs11); the high-level API hides return codes in
places, so those checks use PyKCS11's low-level `lib` object, and p11raw (ctypes, same loaded
module) where PyKCS11 cannot show a value at all. Helpers: p11check.py (reporting, calls),
p11raw.py (ctypes, DER, openssl)."""

import hashlib
import os
import subprocess
import sys

import PyKCS11
import PyKCS11.LowLevel as LL
from PyKCS11 import *  # noqa: F401,F403 (the CK* constants)

import p11raw
import p11check
from p11check import Module, expect_rv, hval, low_get, oh, ok, rv_name, rv_of, ulong

PIN = "648219"
SO_PIN = "3537363231383830"
WRONG_PIN = "000000"
UNAVAILABLE = p11raw.CK_UNAVAILABLE_INFORMATION
P256_PARAMS = bytes.fromhex("06082A8648CE3D030107")
RENAMED_LABEL = "py-renamed"
RENAMED_ID = b"\x5a\x5a"


# --- A/B: general information, sessions and their states -------------------------------------------


def check_sessions(m):
    info = m.pk.getInfo()
    ok("C_GetInfo: cryptokiVersion 2.40", tuple(info.cryptokiVersion) == (2, 40), info.cryptokiVersion)
    ok("C_GetSlotList(tokenPresent): one slot (the simulated device)", len(m.pk.getSlotList(True)) == 1)
    f = m.flags()
    ok("C_GetTokenInfo: token initialised, login required, user PIN initialised",
       f & CKF_TOKEN_INITIALIZED and f & CKF_LOGIN_REQUIRED and f & CKF_USER_PIN_INITIALIZED, hex(f))
    ok("C_GetTokenInfo: no PIN warning flags on a fresh token",
       not f & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED), hex(f))

    h = LL.CK_SESSION_HANDLE()
    expect_rv("C_OpenSession without CKF_SERIAL_SESSION: CKR_SESSION_PARALLEL_NOT_SUPPORTED",
              m.lib.C_OpenSession(m.slot, CKF_RW_SESSION, h), CKR_SESSION_PARALLEL_NOT_SUPPORTED)

    ro, rw = m.session(rw=False), m.session(rw=True)
    i = ro.getSessionInfo()
    ok("R/O session: state CKS_RO_PUBLIC_SESSION, flags CKF_SERIAL_SESSION, our slot",
       i.state == CKS_RO_PUBLIC_SESSION and i.flags == CKF_SERIAL_SESSION and i.slotID == m.slot,
       "state %d flags %#x slot %d" % (i.state, i.flags, i.slotID))
    i = rw.getSessionInfo()
    ok("R/W session: state CKS_RW_PUBLIC_SESSION, flags CKF_SERIAL_SESSION|CKF_RW_SESSION",
       i.state == CKS_RW_PUBLIC_SESSION and i.flags == CKF_SERIAL_SESSION | CKF_RW_SESSION,
       "state %d flags %#x" % (i.state, i.flags))
    expect_rv("C_Logout while nobody is logged in: CKR_USER_NOT_LOGGED_IN", rv_of(rw.logout), CKR_USER_NOT_LOGGED_IN)

    expect_rv("C_Login(CKU_USER) with the right PIN", rv_of(rw.login, PIN), CKR_OK)
    states = (ro.getSessionInfo().state, rw.getSessionInfo().state)
    ok("after the user login: R/O session CKS_RO_USER_FUNCTIONS, R/W session CKS_RW_USER_FUNCTIONS",
       states == (CKS_RO_USER_FUNCTIONS, CKS_RW_USER_FUNCTIONS), states)
    expect_rv("a second C_Login(CKU_USER): CKR_USER_ALREADY_LOGGED_IN", rv_of(ro.login, PIN),
              CKR_USER_ALREADY_LOGGED_IN)
    expect_rv("C_Login(CKU_SO) while the user is logged in: CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
              rv_of(rw.login, SO_PIN, CKU_SO), CKR_USER_ANOTHER_ALREADY_LOGGED_IN)
    expect_rv("C_Logout", rv_of(ro.logout), CKR_OK)
    states = (ro.getSessionInfo().state, rw.getSessionInfo().state)
    ok("after C_Logout both sessions are public again", states == (CKS_RO_PUBLIC_SESSION, CKS_RW_PUBLIC_SESSION),
       states)

    expect_rv("C_Login(CKU_SO) with an R/O session open: CKR_SESSION_READ_ONLY_EXISTS",
              rv_of(rw.login, SO_PIN, CKU_SO), CKR_SESSION_READ_ONLY_EXISTS)
    ro.closeSession()
    expect_rv("C_Login(CKU_SO) with only R/W sessions", rv_of(rw.login, SO_PIN, CKU_SO), CKR_OK)
    ok("after the SO login: CKS_RW_SO_FUNCTIONS", rw.getSessionInfo().state == CKS_RW_SO_FUNCTIONS,
       rw.getSessionInfo().state)
    expect_rv("C_OpenSession(R/O) while the SO is logged in: CKR_SESSION_READ_WRITE_SO_EXISTS",
              m.lib.C_OpenSession(m.slot, CKF_SERIAL_SESSION, h), CKR_SESSION_READ_WRITE_SO_EXISTS)
    expect_rv("C_Logout of the SO", rv_of(rw.logout), CKR_OK)
    closed = rw.session
    rw.closeSession()
    expect_rv("C_GetSessionInfo of a closed session: CKR_SESSION_HANDLE_INVALID",
              m.lib.C_GetSessionInfo(closed, LL.CK_SESSION_INFO()), CKR_SESSION_HANDLE_INVALID)


# --- C: keys ----------------------------------------------------------------------------------


def generate_keys(m, s):
    pub = [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, True), (CKA_VERIFY, True),
           (CKA_EC_PARAMS, P256_PARAMS), (CKA_LABEL, "py-ec"), (CKA_ID, b"\x11")]
    priv = [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, True), (CKA_PRIVATE, True), (CKA_SENSITIVE, True),
            (CKA_SIGN, True), (CKA_EXTRACTABLE, False), (CKA_LABEL, "py-ec"), (CKA_ID, b"\x11")]
    ec = s.generateKeyPair(pub, priv, Mechanism(CKM_EC_KEY_PAIR_GEN))
    ok("C_GenerateKeyPair: EC P-256 token key pair (id 11, label py-ec, not extractable)",
       all(hval(x) for x in ec))
    pub = [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, True), (CKA_VERIFY, True), (CKA_MODULUS_BITS, 2048),
           (CKA_ENCRYPT, True), (CKA_PUBLIC_EXPONENT, b"\x01\x00\x01"), (CKA_LABEL, "py-rsa"),
           (CKA_ID, b"\x12")]
    priv = [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, True), (CKA_PRIVATE, True), (CKA_SENSITIVE, True),
            (CKA_SIGN, True), (CKA_DECRYPT, True), (CKA_LABEL, "py-rsa"), (CKA_ID, b"\x12")]
    rsa = s.generateKeyPair(pub, priv, Mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN))
    ok("C_GenerateKeyPair: RSA 2048 token key pair (id 12, label py-rsa)", all(hval(x) for x in rsa))
    return ec, rsa


# --- D: C_GetAttributeValue -------------------------------------------------------------------


def check_get_attributes(m, s, ec, rsa):
    ec_pub, ec_priv = ec
    rsa_pub, rsa_priv = rsa
    kinds = [CKA_CLASS, CKA_KEY_TYPE, CKA_LABEL, CKA_MODULUS, CKA_ID, CKA_EC_PARAMS]
    want_len = [8, 8, len("py-ec"), 0, 1, len(P256_PARAMS)]

    rv, got = low_get(m, s, ec_priv, kinds)
    expect_rv("length query of 6 attributes incl. CKA_MODULUS of an EC key: CKR_ATTRIBUTE_TYPE_INVALID",
              rv, CKR_ATTRIBUTE_TYPE_INVALID)
    ok("... the other 5 lengths are given (PyKCS11 view)", [g[0] for g in got] == want_len,
       [g[0] for g in got], want_len)
    rv, got = low_get(m, s, ec_priv, kinds, [8, 8, 5, 0, 1, 10])
    expect_rv("the same with buffers: CKR_ATTRIBUTE_TYPE_INVALID", rv, CKR_ATTRIBUTE_TYPE_INVALID)
    vals = [g[1] for g in got]
    ok("... the 5 valid attributes are filled (class, key type, label, id, EC params)",
       ulong(vals[0]) == CKO_PRIVATE_KEY and ulong(vals[1]) == CKK_EC and vals[2] == b"py-ec"
       and vals[4] == b"\x11" and vals[5] == P256_PARAMS, vals)

    spec = [(k, None) for k in kinds]
    rv, got = m.raw.get_attributes(hval(s.session), ec_priv, spec)
    lens = [g[0] for g in got]
    ok("C level: the invalid entry's ulValueLen is CK_UNAVAILABLE_INFORMATION, the others exact",
       rv == CKR_ATTRIBUTE_TYPE_INVALID and lens == [8, 8, 5, UNAVAILABLE, 1, 10], rv_name(rv), lens)
    rv, got = m.raw.get_attributes(hval(s.session), ec_priv, [(k, 64) for k in kinds])
    ok("C level, with buffers: invalid entry CK_UNAVAILABLE_INFORMATION, the others filled",
       rv == CKR_ATTRIBUTE_TYPE_INVALID and got[3][0] == UNAVAILABLE and got[2] == (5, b"py-ec")
       and got[5] == (10, P256_PARAMS), rv_name(rv), got)

    rv, got = low_get(m, s, ec_priv, [CKA_LABEL, CKA_VALUE, CKA_ID], [5, 64, 1])
    expect_rv("EC private key CKA_VALUE: CKR_ATTRIBUTE_SENSITIVE", rv, CKR_ATTRIBUTE_SENSITIVE)
    ok("... with CKA_LABEL and CKA_ID filled", got[0][1] == b"py-ec" and got[2][1] == b"\x11", got)
    rv, got = m.raw.get_attributes(hval(s.session), ec_priv, [(CKA_VALUE, 64)])
    ok("C level: the sensitive entry's ulValueLen is CK_UNAVAILABLE_INFORMATION",
       rv == CKR_ATTRIBUTE_SENSITIVE and got[0][0] == UNAVAILABLE, rv_name(rv), got)
    rv, got = low_get(m, s, rsa_priv, [CKA_MODULUS, CKA_PRIVATE_EXPONENT, CKA_PUBLIC_EXPONENT], [512, 512, 16])
    expect_rv("RSA private key CKA_PRIVATE_EXPONENT: CKR_ATTRIBUTE_SENSITIVE", rv, CKR_ATTRIBUTE_SENSITIVE)
    modulus = got[0][1]
    ok("... with CKA_MODULUS (256 bytes) and CKA_PUBLIC_EXPONENT (65537) filled",
       len(modulus) == 256 and int.from_bytes(got[2][1], "big") == 65537, len(modulus), got[2])
    for kind in (CKA_PRIME_1, CKA_PRIME_2, CKA_COEFFICIENT):
        rv, _ = low_get(m, s, rsa_priv, [kind])
        expect_rv("RSA private key %s: CKR_ATTRIBUTE_SENSITIVE" % PyKCS11.CKA[kind], rv, CKR_ATTRIBUTE_SENSITIVE)

    rv, got = low_get(m, s, rsa_pub, [CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_MODULUS_BITS])
    ok("length query on the RSA public key: CKA_MODULUS 256, CKA_PUBLIC_EXPONENT 3, CKA_MODULUS_BITS 8",
       rv == CKR_OK and [g[0] for g in got] == [256, 3, 8], rv_name(rv), [g[0] for g in got])
    rv, got = low_get(m, s, rsa_pub, [CKA_MODULUS], [256])
    ok("the public key's CKA_MODULUS equals the private key's", rv == CKR_OK and got[0][1] == modulus)
    rv, got = low_get(m, s, ec_pub, [CKA_EC_POINT, CKA_EC_PARAMS])
    ok("length query on the EC public key: CKA_EC_POINT 67 (DER OCTET STRING), CKA_EC_PARAMS 10",
       rv == CKR_OK and [g[0] for g in got] == [67, 10], rv_name(rv), [g[0] for g in got])
    rv, got = m.raw.get_attributes(hval(s.session), rsa_pub, [(CKA_MODULUS, 16), (CKA_LABEL, 64)])
    ok("a 16-byte buffer for CKA_MODULUS: CKR_BUFFER_TOO_SMALL, ulValueLen CK_UNAVAILABLE_INFORMATION, "
       "CKA_LABEL still filled", rv == CKR_BUFFER_TOO_SMALL and got[0][0] == UNAVAILABLE
       and got[1] == (6, b"py-rsa"), rv_name(rv), got)
    rv, got = low_get(m, s, rsa_pub, [CKA_MODULUS], [16])
    expect_rv("... the same through PyKCS11's low-level API: CKR_BUFFER_TOO_SMALL", rv, CKR_BUFFER_TOO_SMALL)

    flags = [CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL,
             CKA_ALWAYS_AUTHENTICATE, CKA_TOKEN, CKA_PRIVATE]
    a = s.getAttributeValue(oh(ec_priv), flags)
    ok("EC private key made with CKA_EXTRACTABLE false: sensitive, always sensitive, not extractable, "
       "never extractable, local, no always-authenticate, token, private",
       a == [True, True, False, True, True, False, True, True], a)
    a = s.getAttributeValue(oh(rsa_priv), flags)
    # The default of CKA_EXTRACTABLE is the token's choice; the attributes must agree with it.
    ok("RSA private key (CKA_EXTRACTABLE not given, %s): CKA_NEVER_EXTRACTABLE is its negation, sensitive, "
       "local" % ("extractable" if a[2] else "not extractable"),
       a[2] is not a[3] and a[:2] == [True, True] and a[4:] == [True, False, True, True], a)
    a = s.getAttributeValue(oh(ec_pub), [CKA_PRIVATE, CKA_TOKEN, CKA_VERIFY])
    ok("EC public key: not private, token, verify", a == [False, True, True], a)
    return modulus


# --- E: C_SetAttributeValue -------------------------------------------------------------------


def check_set_attributes(m, s, ec):
    ec_pub, ec_priv = ec
    ro = m.session(rw=False)
    expect_rv("C_SetAttributeValue(CKA_LABEL) of a token object in an R/O session: CKR_SESSION_READ_ONLY",
              rv_of(ro.setAttributeValue, oh(ec_priv), [(CKA_LABEL, "x")]), CKR_SESSION_READ_ONLY)
    ro.closeSession()
    expect_rv("C_SetAttributeValue(CKA_CLASS): CKR_ATTRIBUTE_READ_ONLY",
              rv_of(s.setAttributeValue, oh(ec_priv), [(CKA_CLASS, CKO_SECRET_KEY)]), CKR_ATTRIBUTE_READ_ONLY)
    expect_rv("C_SetAttributeValue(CKA_SENSITIVE false) of a sensitive key: CKR_ATTRIBUTE_READ_ONLY",
              rv_of(s.setAttributeValue, oh(ec_priv), [(CKA_SENSITIVE, False)]), CKR_ATTRIBUTE_READ_ONLY)
    expect_rv("C_SetAttributeValue(CKA_LABEL py-renamed, CKA_ID 5A5A) of the EC private key",
              rv_of(s.setAttributeValue, oh(ec_priv), [(CKA_LABEL, RENAMED_LABEL), (CKA_ID, RENAMED_ID)]), CKR_OK)
    a = s.getAttributeValue(oh(ec_priv), [CKA_LABEL, CKA_ID])
    ok("... C_GetAttributeValue gives the new label and ID",
       a[0] == RENAMED_LABEL and bytes(a[1]) == RENAMED_ID, a)
    found = m.find(s, [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, RENAMED_LABEL)])
    ok("... found by the new label in the same session (same handle)", found == [ec_priv], found, ec_priv)
    found = m.find(s, [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, "py-ec")])
    ok("... and no private key has the old label", found == [], found)
    s2 = m.session(rw=False)
    found = m.find(s2, [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_ID, RENAMED_ID)])
    ok("... found by the new ID in a new session", found == [ec_priv], found)
    s2.closeSession()
    subject = bytes.fromhex("300F310D300B06035504030C0470792D6563")  # Name: CN=py-ec
    rv = rv_of(s.setAttributeValue, oh(ec_pub), [(CKA_SUBJECT, subject)])
    # 2.40 section 4.8, common public key attributes: CKA_SUBJECT has footnote 8 ("may be modified
    # after object is created with a C_SetAttributeValue call"). pkcs11-tool --test-ec does this.
    expect_rv("C_SetAttributeValue(CKA_SUBJECT) of the EC public key (modifiable, footnote 8)", rv, CKR_OK)
    if rv == CKR_OK:
        a = s.getAttributeValue(oh(ec_pub), [CKA_SUBJECT], True)
        ok("... C_GetAttributeValue gives the new subject", bytes(a[0]) == subject, bytes(a[0]).hex())
    env = dict(os.environ)
    p = subprocess.run([sys.executable, os.path.abspath(__file__), m.path, "--find-renamed"], env=env,
                       capture_output=True, timeout=60, check=False)
    ok("... and in a new process (module loaded afresh) by label and ID together", p.returncode == 0,
       (p.stdout + p.stderr).decode(errors="replace").strip())


def find_renamed(path):
    """The second process of check E: log in, find the renamed key by label and ID."""
    m = Module(path)
    s = m.session(rw=False)
    s.login(PIN)
    found = m.find(s, [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, RENAMED_LABEL), (CKA_ID, RENAMED_ID)])
    print("found %d private key(s) with label %s and ID %s" % (len(found), RENAMED_LABEL, RENAMED_ID.hex()))
    s.logout()
    return 0 if len(found) == 1 else 1


# --- F: C_FindObjects -------------------------------------------------------------------------


def check_find(m, s, ec, rsa):
    ec_pub, ec_priv = ec
    rsa_pub, rsa_priv = rsa
    cases = [
        ("class CKO_PRIVATE_KEY", [(CKA_CLASS, CKO_PRIVATE_KEY)], [ec_priv, rsa_priv]),
        ("class CKO_PUBLIC_KEY", [(CKA_CLASS, CKO_PUBLIC_KEY)], [ec_pub, rsa_pub]),
        ("label py-rsa", [(CKA_LABEL, "py-rsa")], [rsa_pub, rsa_priv]),
        ("CKA_ID 12", [(CKA_ID, b"\x12")], [rsa_pub, rsa_priv]),
        ("key type CKK_EC", [(CKA_KEY_TYPE, CKK_EC)], [ec_pub, ec_priv]),
        ("class CKO_PRIVATE_KEY + key type CKK_RSA", [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_RSA)],
         [rsa_priv]),
        ("label nope", [(CKA_LABEL, "nope")], []),
    ]
    for name, template, want in cases:
        found = m.find(s, template)
        ok("find %s: exactly the expected objects" % name, found == sorted(want), found, sorted(want))

    everything = m.find(s, [])
    ok("find with an empty template includes the four keys", set([ec_pub, ec_priv, rsa_pub, rsa_priv]) <= set(everything),
       everything)
    by_class = {}
    for h in everything:
        by_class.setdefault(s.getAttributeValue(oh(h), [CKA_CLASS])[0], []).append(h)
    per_class_ok = all(m.find(s, [(CKA_CLASS, c)]) == sorted(hs) for c, hs in by_class.items())
    ok("... and every object it finds, class by class (%s)" %
       ", ".join("%s: %d" % (PyKCS11.CKO.get(c, c), len(hs)) for c, hs in sorted(by_class.items())), per_class_ok)

    one = LL.ckobjlist(1)
    rv = m.lib.C_FindObjectsInit(s.session, LL.ckattrlist(0))
    chunks = []
    while rv == CKR_OK:
        rv = m.lib.C_FindObjects(s.session, one)
        if rv != CKR_OK or len(one) == 0:
            break
        chunks.append(hval(one[0]))
        one = LL.ckobjlist(1)
    rv2 = m.lib.C_FindObjects(s.session, LL.ckobjlist(1))
    m.lib.C_FindObjectsFinal(s.session)
    ok("C_FindObjects one handle at a time returns the same objects", rv == CKR_OK and sorted(chunks) == everything,
       rv_name(rv), sorted(chunks), everything)
    expect_rv("... and keeps returning none (CKR_OK) at the end", rv2, CKR_OK)

    expect_rv("C_FindObjects without C_FindObjectsInit: CKR_OPERATION_NOT_INITIALIZED",
              m.lib.C_FindObjects(s.session, LL.ckobjlist(1)), CKR_OPERATION_NOT_INITIALIZED)
    m.lib.C_FindObjectsInit(s.session, LL.ckattrlist(0))
    expect_rv("a second C_FindObjectsInit: CKR_OPERATION_ACTIVE",
              m.lib.C_FindObjectsInit(s.session, LL.ckattrlist(0)), CKR_OPERATION_ACTIVE)
    m.lib.C_FindObjectsFinal(s.session)

    pub_session = m.session(rw=False)
    s.logout()
    found = m.find(pub_session, [(CKA_CLASS, CKO_PRIVATE_KEY)])
    ok("not logged in: no private key is found", found == [], found)
    found = m.find(pub_session, [])
    ok("not logged in: the empty template finds the public keys and no private object",
       {ec_pub, rsa_pub} <= set(found) and not {ec_priv, rsa_priv} & set(found), found)
    pub_session.closeSession()
    s.login(PIN)


# --- G: C_Sign --------------------------------------------------------------------------------


def check_sign(m, s, ec, rsa, modulus):
    ec_pub, ec_priv = ec
    rsa_pub, rsa_priv = rsa
    data = b"PKCS#11 2.40 says the operation stays active after CKR_BUFFER_TOO_SMALL"
    digest = hashlib.sha256(data).digest()
    sh = hval(s.session)
    params, point = [bytes(x) for x in s.getAttributeValue(oh(ec_pub), [CKA_EC_PARAMS, CKA_EC_POINT], True)]
    spki = p11raw.ec_spki(params, point)

    expect_rv("C_SignInit(CKM_ECDSA, P-256 key)", m.lib.C_SignInit(s.session, Mechanism(CKM_ECDSA).to_native(),
                                                                  oh(ec_priv)), CKR_OK)
    out = LL.ckbytelist()
    rv = m.lib.C_Sign(s.session, LL.ckbytelist(digest), out)
    ok("C_Sign size query (NULL buffer): CKR_OK and 64 bytes", rv == CKR_OK and len(out) == 64, rv_name(rv), len(out))
    rv, length, _ = m.raw.sign(sh, digest, 10)
    ok("C_Sign with a 10-byte buffer: CKR_BUFFER_TOO_SMALL, *pulSignatureLen = 64",
       rv == CKR_BUFFER_TOO_SMALL and length == 64, rv_name(rv), length)
    out = LL.ckbytelist([0] * 64)
    rv = m.lib.C_Sign(s.session, LL.ckbytelist(digest), out)
    sig = bytes(out)
    ok("... the operation stays active: C_Sign with a 64-byte buffer succeeds", rv == CKR_OK and len(sig) == 64,
       rv_name(rv), len(sig))
    expect_rv("... and then the operation is over: C_Sign again is CKR_OPERATION_NOT_INITIALIZED",
              m.lib.C_Sign(s.session, LL.ckbytelist(digest), LL.ckbytelist([0] * 64)), CKR_OPERATION_NOT_INITIALIZED)
    ok("the ECDSA signature verifies with the module (C_Verify)",
       s.verify(oh(ec_pub), digest, sig, Mechanism(CKM_ECDSA)))
    good, msg = p11raw.openssl_verify(spki, digest, p11raw.ecdsa_der(sig))
    ok("the ECDSA signature verifies with openssl (SPKI from CKA_EC_PARAMS/CKA_EC_POINT)", good, msg)

    expect_rv("C_SignInit(CKM_SHA256_RSA_PKCS, RSA key)",
              m.lib.C_SignInit(s.session, Mechanism(CKM_SHA256_RSA_PKCS).to_native(), oh(rsa_priv)), CKR_OK)
    rv, length, _ = m.raw.sign(sh, data, None)
    ok("C_Sign size query: CKR_OK, 256", rv == CKR_OK and length == 256, rv_name(rv), length)
    out = LL.ckbytelist([0] * 100)
    expect_rv("C_Sign with a 100-byte buffer (PyKCS11 low level): CKR_BUFFER_TOO_SMALL",
              m.lib.C_Sign(s.session, LL.ckbytelist(data), out), CKR_BUFFER_TOO_SMALL)
    rv, length, sig = m.raw.sign(sh, data, 256)
    ok("... then a 256-byte buffer: CKR_OK and the signature", rv == CKR_OK and len(sig) == 256, rv_name(rv), length)
    rsa_key = p11raw.rsa_spki(modulus, b"\x01\x00\x01")
    good, msg = p11raw.openssl_verify(rsa_key, digest, sig, ["-pkeyopt", "digest:sha256"])
    ok("the SHA256-RSA-PKCS signature verifies with openssl (SPKI from CKA_MODULUS)", good, msg)


def check_oaep(m, s, rsa_priv, modulus):
    """RSA-OAEP with a label (pkcs11-tool 0.23 --test sends one; PEERS.md 1.3): openssl encrypts
    with label "abc"; the module must decrypt with that label and refuse another one."""
    spki = p11raw.rsa_spki(modulus, b"\x01\x00\x01")
    secret = b"OAEP with a label"
    ct = p11raw.openssl_oaep_encrypt(spki, secret, b"abc")
    mech = RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256, b"abc")
    try:
        pt = bytes(s.decrypt(oh(rsa_priv), ct, mech))
    except PyKCS11.PyKCS11Error as e:
        pt = rv_name(e.value)
    ok("C_Decrypt(CKM_RSA_PKCS_OAEP, SHA-256, label \"abc\") of openssl's ciphertext gives the plaintext",
       pt == secret, pt)
    wrong = RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256, b"abd")
    rv = rv_of(s.decrypt, oh(rsa_priv), ct, wrong)
    expect_rv("... and with the wrong label \"abd\" it fails (CKR_ENCRYPTED_DATA_INVALID)", rv,
              CKR_ENCRYPTED_DATA_INVALID)


# --- I: C_DestroyObject of a key pair, in both orders ------------------------------------------


def check_destroy(m, s):
    """Destroying a key pair object by object must work whatever the order: pkcs11-tool
    --test-ec (and NSS) destroy the private key, then the public key, with the handles they hold."""
    for order in ("private key first", "public key first"):
        pub = [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, True), (CKA_VERIFY, True),
               (CKA_EC_PARAMS, P256_PARAMS), (CKA_LABEL, "py-doomed"), (CKA_ID, b"\x13")]
        priv = [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, True), (CKA_PRIVATE, True), (CKA_SIGN, True),
                (CKA_LABEL, "py-doomed"), (CKA_ID, b"\x13")]
        pair = [hval(h) for h in s.generateKeyPair(pub, priv, Mechanism(CKM_EC_KEY_PAIR_GEN))]
        first, second = (pair[1], pair[0]) if order == "private key first" else pair
        rv1 = m.lib.C_DestroyObject(s.session, oh(first))
        rv2 = m.lib.C_DestroyObject(s.session, oh(second))
        ok("C_DestroyObject of a key pair, %s: CKR_OK for both handles" % order,
           rv1 == CKR_OK and rv2 == CKR_OK, "first %s, second %s" % (rv_name(rv1), rv_name(rv2)))
        found = m.find(s, [(CKA_ID, b"\x13")])
        ok("... and neither object is found any more", found == [], found)


# --- H: PIN flags, lock, SO unlock -------------------------------------------------------------


def check_pin(m, ec, rsa):
    s = m.session(rw=True)
    pin_flags = CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED

    def flags_are(name, want):
        f = m.flags() & pin_flags
        ok(name, f == want, "flags %#x, want %#x" % (f, want))

    expect_rv("wrong PIN: CKR_PIN_INCORRECT", rv_of(s.login, WRONG_PIN), CKR_PIN_INCORRECT)
    flags_are("... then CKF_USER_PIN_COUNT_LOW (2 tries left)", CKF_USER_PIN_COUNT_LOW)
    expect_rv("right PIN: CKR_OK", rv_of(s.login, PIN), CKR_OK)
    flags_are("... clears the PIN flags", 0)
    s.logout()
    expect_rv("wrong PIN 1 of 3: CKR_PIN_INCORRECT", rv_of(s.login, WRONG_PIN), CKR_PIN_INCORRECT)
    expect_rv("wrong PIN 2 of 3: CKR_PIN_INCORRECT", rv_of(s.login, WRONG_PIN), CKR_PIN_INCORRECT)
    f = m.flags() & pin_flags
    ok("... then CKF_USER_PIN_FINAL_TRY (1 try left), not locked",
       f & CKF_USER_PIN_FINAL_TRY and not f & CKF_USER_PIN_LOCKED, hex(f))
    expect_rv("wrong PIN 3 of 3: CKR_PIN_INCORRECT (or CKR_PIN_LOCKED)", rv_of(s.login, WRONG_PIN),
              CKR_PIN_INCORRECT, CKR_PIN_LOCKED)
    f = m.flags() & pin_flags
    ok("... then CKF_USER_PIN_LOCKED", f & CKF_USER_PIN_LOCKED, hex(f))
    expect_rv("the right PIN on a locked PIN: CKR_PIN_LOCKED", rv_of(s.login, PIN), CKR_PIN_LOCKED)

    expect_rv("C_InitPIN while not logged in as SO: CKR_USER_NOT_LOGGED_IN", rv_of(s.initPin, PIN),
              CKR_USER_NOT_LOGGED_IN)
    expect_rv("C_Login(CKU_SO) with the SO-PIN", rv_of(s.login, SO_PIN, CKU_SO), CKR_OK)
    expect_rv("C_InitPIN as SO (unblocks and sets the user PIN)", rv_of(s.initPin, PIN), CKR_OK)
    s.logout()
    flags_are("... the PIN flags are clear again", 0)
    expect_rv("the user PIN works again", rv_of(s.login, PIN), CKR_OK)
    found = m.find(s, [(CKA_CLASS, CKO_PRIVATE_KEY)])
    ok("... and the keys are still there (C_InitPIN does not wipe the token)",
       found == sorted([ec[1], rsa[1]]), found)
    s.logout()
    s.closeSession()


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    if len(sys.argv) > 2 and sys.argv[2] == "--find-renamed":
        return find_renamed(sys.argv[1])
    m = Module(sys.argv[1])
    check_sessions(m)
    s = m.session(rw=True)
    s.login(PIN)
    ec, rsa = [tuple(hval(h) for h in pair) for pair in generate_keys(m, s)]
    modulus = check_get_attributes(m, s, ec, rsa)
    check_find(m, s, ec, rsa)
    check_sign(m, s, ec, rsa, modulus)
    check_oaep(m, s, rsa[1], modulus)
    check_set_attributes(m, s, ec)
    check_destroy(m, s)
    s.logout()
    s.closeSession()
    check_pin(m, ec, rsa)
    return 1 if p11check.FAILED else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a crash is one failed check, with the reason
        import traceback

        print("not ok - pykcs11: the client stopped: %s: %s" % (type(e).__name__, e))
        for line in traceback.format_exc().splitlines():
            print("#   " + line)
        sys.exit(1)
