"""What PyKCS11 cannot show, for the checks that need it: the exact per-attribute ulValueLen of
C_GetAttributeValue (PyKCS11 turns CK_UNAVAILABLE_INFORMATION into an empty value) and the
length C_Sign reports with CKR_BUFFER_TOO_SMALL (PyKCS11 drops it). A ctypes view of the SAME
loaded module: dlopen of an already loaded path returns the same library, so it shares the
initialisation, sessions and handles PyKCS11 made.

Also small DER helpers to turn PKCS#11 public-key attributes into files openssl reads, and a
signature check through openssl, so signatures are verified by code that is not the module."""

import ctypes
import os
import subprocess
import tempfile

CK_ULONG = ctypes.c_ulong
CK_UNAVAILABLE_INFORMATION = ctypes.c_ulong(-1).value

# CK_FUNCTION_LIST of PKCS#11 2.40, in order (only the order matters here).
_FUNCTIONS = """C_Initialize C_Finalize C_GetInfo C_GetFunctionList C_GetSlotList C_GetSlotInfo
C_GetTokenInfo C_GetMechanismList C_GetMechanismInfo C_InitToken C_InitPIN C_SetPIN C_OpenSession
C_CloseSession C_CloseAllSessions C_GetSessionInfo C_GetOperationState C_SetOperationState C_Login
C_Logout C_CreateObject C_CopyObject C_DestroyObject C_GetObjectSize C_GetAttributeValue
C_SetAttributeValue C_FindObjectsInit C_FindObjects C_FindObjectsFinal C_EncryptInit C_Encrypt
C_EncryptUpdate C_EncryptFinal C_DecryptInit C_Decrypt C_DecryptUpdate C_DecryptFinal C_DigestInit
C_Digest C_DigestUpdate C_DigestKey C_DigestFinal C_SignInit C_Sign C_SignUpdate C_SignFinal
C_SignRecoverInit C_SignRecover C_VerifyInit C_Verify C_VerifyUpdate C_VerifyFinal
C_VerifyRecoverInit C_VerifyRecover C_DigestEncryptUpdate C_DecryptDigestUpdate
C_SignEncryptUpdate C_DecryptVerifyUpdate C_GenerateKey C_GenerateKeyPair C_WrapKey C_UnwrapKey
C_DeriveKey C_SeedRandom C_GenerateRandom C_GetFunctionStatus C_CancelFunction
C_WaitForSlotEvent""".split()


class CK_ATTRIBUTE(ctypes.Structure):
    _fields_ = [("type", CK_ULONG), ("pValue", ctypes.c_void_p), ("ulValueLen", CK_ULONG)]


class _FunctionList(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)] + [
        (name, ctypes.c_void_p) for name in _FUNCTIONS
    ]


_GET_ATTRIBUTE_VALUE = ctypes.CFUNCTYPE(
    CK_ULONG, CK_ULONG, CK_ULONG, ctypes.POINTER(CK_ATTRIBUTE), CK_ULONG
)
_SIGN = ctypes.CFUNCTYPE(
    CK_ULONG, CK_ULONG, ctypes.c_char_p, CK_ULONG, ctypes.c_char_p, ctypes.POINTER(CK_ULONG)
)


class Raw:
    """C_GetAttributeValue and C_Sign of the module at PATH, through its function list."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        fl = ctypes.POINTER(_FunctionList)()
        rv = lib.C_GetFunctionList(ctypes.byref(fl))
        if rv != 0:
            raise RuntimeError("C_GetFunctionList: rv %#x" % rv)
        self._get = _GET_ATTRIBUTE_VALUE(fl.contents.C_GetAttributeValue)
        self._sign = _SIGN(fl.contents.C_Sign)

    def get_attributes(self, session, obj, spec):
        """C_GetAttributeValue with one entry per (type, size) in SPEC: size None = NULL pValue
        (a length query), else a buffer of that many bytes. Returns (rv, [(ulValueLen, bytes)])."""
        n = len(spec)
        tmpl = (CK_ATTRIBUTE * n)()
        bufs = []
        for i, (kind, size) in enumerate(spec):
            tmpl[i].type = kind
            if size is None:
                tmpl[i].pValue = None
                tmpl[i].ulValueLen = 0
                bufs.append(None)
            else:
                b = ctypes.create_string_buffer(size)
                bufs.append(b)
                tmpl[i].pValue = ctypes.cast(b, ctypes.c_void_p)
                tmpl[i].ulValueLen = size
        rv = self._get(session, obj, tmpl, n)
        out = []
        for i in range(n):
            length = tmpl[i].ulValueLen
            value = b""
            if bufs[i] is not None and length != CK_UNAVAILABLE_INFORMATION and length <= spec[i][1]:
                value = bufs[i].raw[:length]
            out.append((length, value))
        return rv, out

    def sign(self, session, data, size):
        """C_Sign with an output buffer of SIZE bytes (None = NULL). Returns (rv, length, sig)."""
        out = ctypes.create_string_buffer(size) if size is not None else None
        length = CK_ULONG(size or 0)
        rv = self._sign(session, data, len(data), out, ctypes.byref(length))
        sig = out.raw[: length.value] if (out is not None and rv == 0) else b""
        return rv, length.value, sig


# --- DER, for openssl ------------------------------------------------------------------------


def der(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    elif n < 0x100:
        head = bytes([0x81, n])
    else:
        head = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + head + content


def der_uint(value):
    value = value.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:
        value = b"\x00" + value
    return der(0x02, value)


def octet_string_content(data):
    """The content of a DER OCTET STRING (CKA_EC_POINT)."""
    if len(data) < 2 or data[0] != 0x04:
        raise ValueError("not an OCTET STRING")
    if data[1] < 0x80:
        return data[2:]
    k = data[1] & 0x7F
    return data[2 + k:]


OID_EC_PUBLIC_KEY = bytes.fromhex("06072A8648CE3D0201")
OID_RSA_ENCRYPTION_NULL = bytes.fromhex("06092A864886F70D0101010500")


def ec_spki(ec_params, ec_point):
    alg = der(0x30, OID_EC_PUBLIC_KEY + ec_params)
    return der(0x30, alg + der(0x03, b"\x00" + octet_string_content(ec_point)))


def rsa_spki(modulus, exponent):
    key = der(0x30, der_uint(modulus) + der_uint(exponent))
    return der(0x30, der(0x30, OID_RSA_ENCRYPTION_NULL) + der(0x03, b"\x00" + key))


def ecdsa_der(sig):
    """PKCS#11 ECDSA signature r || s as the DER SEQUENCE openssl verifies."""
    half = len(sig) // 2
    return der(0x30, der_uint(sig[:half]) + der_uint(sig[half:]))


def openssl_verify(spki, data, sig, extra=()):
    """openssl pkeyutl -verify of SIG over DATA (a hash or DigestInfo, as signed) with the DER
    SubjectPublicKeyInfo SPKI. Returns (ok, openssl's output)."""
    with tempfile.TemporaryDirectory(prefix="schsm-py-") as d:
        paths = {}
        for name, content in (("key.der", spki), ("data.bin", data), ("sig.bin", sig)):
            paths[name] = os.path.join(d, name)
            with open(paths[name], "wb") as f:
                f.write(content)
        cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey",
               paths["key.der"], "-in", paths["data.bin"], "-sigfile", paths["sig.bin"]]
        cmd += list(extra)
        p = subprocess.run(cmd, capture_output=True, timeout=30, check=False)
        return p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace").strip()


def openssl_oaep_encrypt(spki, plaintext, label):
    """RSA-OAEP (SHA-256, MGF1-SHA-256) encryption of PLAINTEXT by openssl with LABEL (bytes)."""
    with tempfile.TemporaryDirectory(prefix="schsm-py-") as d:
        key, msg, out = (os.path.join(d, n) for n in ("key.der", "msg.bin", "ct.bin"))
        with open(key, "wb") as f:
            f.write(spki)
        with open(msg, "wb") as f:
            f.write(plaintext)
        cmd = ["openssl", "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", key, "-in", msg,
               "-out", out, "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
               "-pkeyopt", "rsa_mgf1_md:sha256", "-pkeyopt", "rsa_oaep_label:" + label.hex()]
        subprocess.run(cmd, capture_output=True, timeout=30, check=True)
        with open(out, "rb") as f:
            return f.read()
