"""python-pkcs11 (PyPI) against our module: open the token, log in, find, sign, export.

Usage: python_pkcs11_sign.py MODULE PIN OUTDIR
Writes OUTDIR/{ec,rsa}.pub.der (SubjectPublicKeyInfo) and OUTDIR/{ec,rsa}.sig (ECDSA as DER,
RSA PKCS#1 v1.5) over OUTDIR/data, for openssl to verify; prints one line per step.
"""

import sys

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_ecdsa_signature
from pkcs11.util.rsa import encode_rsa_public_key


def main() -> int:
    module, pin, out = sys.argv[1:4]
    lib = pkcs11.lib(module)
    token = lib.get_token(token_label="SmartCard-HSM")
    print(f"token: {token.label} serial {token.serial.decode(errors='replace').strip()}")
    data = open(f"{out}/data", "rb").read()
    with token.open(user_pin=pin) as session:
        keys = sorted(k.label for k in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
        print(f"private keys: {' '.join(keys)}")
        ec = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC, label="ec")
        sig = ec.sign(data, mechanism=Mechanism.ECDSA_SHA256)
        ec_pub = session.get_key(ObjectClass.PUBLIC_KEY, KeyType.EC, label="ec")
        print(f"ec: own verify {ec_pub.verify(data, sig, mechanism=Mechanism.ECDSA_SHA256)}")
        open(f"{out}/ec.sig", "wb").write(encode_ecdsa_signature(sig))
        open(f"{out}/ec.pub.der", "wb").write(encode_ec_public_key(ec_pub))
        rsa = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.RSA, label="rsa")
        sig = rsa.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)
        rsa_pub = session.get_key(ObjectClass.PUBLIC_KEY, KeyType.RSA, label="rsa")
        print(f"rsa: own verify {rsa_pub.verify(data, sig, mechanism=Mechanism.SHA256_RSA_PKCS)}")
        open(f"{out}/rsa.sig", "wb").write(sig)
        open(f"{out}/rsa.pub.der", "wb").write(encode_rsa_public_key(rsa_pub))
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
