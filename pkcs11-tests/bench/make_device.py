"""Fills a fresh simulated device with N EC P-256 key pairs, each with an X.509 certificate in
its CExx (where OpenSC and our module both look), as fast as possible: our module serves the
device in-process (SCHSM_SIM, no PC/SC), PyKCS11 generates the keys, openssl issues the
certificates from a throw-away CA in one batch, C_CreateObject writes them.

Usage: /usr/bin/python3 make_device.py MODULE DEVICE-DIR N PIN OUT-DIR
Writes OUT-DIR/key-NNN.pub.pem (the public keys, for verifying signatures) and prints one line
"made N keys in S s". Labels are bench-key-001 ... bench-key-NNN, CKA_ID 01 NN (2 bytes).
"""

import os
import subprocess
import sys
import tempfile
import time

from PyKCS11 import PyKCS11Lib, Mechanism
from PyKCS11.LowLevel import (CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_SIGN, CKA_VERIFY, CKA_LABEL,
                              CKA_ID, CKA_EC_PARAMS, CKA_EC_POINT, CKA_VALUE, CKA_CERTIFICATE_TYPE,
                              CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
                              CKO_CERTIFICATE, CKC_X_509, CKM_EC_KEY_PAIR_GEN, CKF_RW_SESSION,
                              CKF_SERIAL_SESSION, CKU_USER)

P256_PARAMS = bytes.fromhex("06082A8648CE3D030107")
SPKI_PREFIX = bytes.fromhex("3059301306072A8648CE3D020106082A8648CE3D030107034200")


def label(i):
    return "bench-key-%03d" % i


def point_of(ec_point):
    """CKA_EC_POINT is a DER OCTET STRING around 04||X||Y (65 bytes for P-256)."""
    return ec_point[2:] if ec_point[0] == 0x04 and ec_point[1] == 65 else ec_point


def pem(der, kind):
    import base64
    b = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b[i:i + 64] for i in range(0, len(b), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (kind, "\n".join(lines), kind)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def issue_certificates(out, n):
    """One CA, one CSR template (subject and key do not matter: -force_pubkey puts each card
    key into its certificate), N certificates. DER files out/key-NNN.crt.der."""
    with tempfile.TemporaryDirectory() as tmp:
        ca_key, ca_crt = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.crt")
        csr = os.path.join(tmp, "any.csr")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", ca_key, "-out", ca_crt, "-subj", "/CN=bench CA", "-days", "3650")
        openssl("req", "-new", "-key", ca_key, "-out", csr, "-subj", "/CN=bench")
        for i in range(1, n + 1):
            openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                    "-set_serial", str(i), "-days", "3650", "-subj", "/CN=" + label(i),
                    "-force_pubkey", os.path.join(out, "key-%03d.pub.pem" % i),
                    "-outform", "DER", "-out", os.path.join(out, "key-%03d.crt.der" % i))


def main():
    module, device, n, pin, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    os.environ.update(SCHSM_SIM=device, SCHSM_PCSC="0", SCHSM_CONF="", SCHSM_LOG="warn")
    t0 = time.time()
    p11 = PyKCS11Lib()
    p11.load(module)
    slot = p11.getSlotList(tokenPresent=True)[0]
    s = p11.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    s.login(pin, CKU_USER)
    for i in range(1, n + 1):
        kid = bytes([1, i])
        pub = [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, True), (CKA_VERIFY, True),
               (CKA_EC_PARAMS, P256_PARAMS), (CKA_LABEL, label(i)), (CKA_ID, kid)]
        priv = [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, True), (CKA_PRIVATE, True),
                (CKA_SIGN, True),
                (CKA_LABEL, label(i)), (CKA_ID, kid)]
        pub_h, _ = s.generateKeyPair(pub, priv, Mechanism(CKM_EC_KEY_PAIR_GEN))
        point = point_of(bytes(s.getAttributeValue(pub_h, [CKA_EC_POINT], True)[0]))
        with open(os.path.join(out, "key-%03d.pub.pem" % i), "w") as f:
            f.write(pem(SPKI_PREFIX + point, "PUBLIC KEY"))
    issue_certificates(out, n)
    for i in range(1, n + 1):
        with open(os.path.join(out, "key-%03d.crt.der" % i), "rb") as f:
            der = f.read()
        s.createObject([(CKA_CLASS, CKO_CERTIFICATE), (CKA_CERTIFICATE_TYPE, CKC_X_509),
                        (CKA_TOKEN, True), (CKA_LABEL, label(i)), (CKA_ID, bytes([1, i])),
                        (CKA_VALUE, der)])
    s.logout()
    s.closeSession()
    print("made %d keys in %.1f s" % (n, time.time() - t0))


if __name__ == "__main__":
    main()
