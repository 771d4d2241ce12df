#!/usr/bin/env python3
"""An HTTPS server on 127.0.0.1 that requires a client certificate (tests/59-consumer-firefox).

Usage: tls_client_auth_server.py CERT KEY CA PORTFILE

Listens on a free port (written to PORTFILE once listening), requires every client to present a
certificate that chains to CA (ssl.CERT_REQUIRED), and logs one line per connection to stdout:
  handshake ok: TLSv1.3 <cipher>; client subject: CN=...,O=...
  handshake failed: <reason>
Every page it serves names the verified client subject, so the client can show what the server
saw. Runs until killed; each connection may take 20 s at most.
"""

import http.server
import ssl
import sys


def subject_text(cert):
    """The subject of a getpeercert() dict as "CN=...,O=..." (most specific first)."""
    parts = []
    for rdn in reversed(cert.get("subject", ())):
        for key, value in rdn:
            short = {"commonName": "CN", "organizationName": "O", "countryName": "C"}.get(key, key)
            parts.append("%s=%s" % (short, value))
    return ",".join(parts)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        subject = subject_text(self.request.getpeercert() or {})
        body = ("<!DOCTYPE html><html><head><title>client auth</title></head><body>"
                "<p id=\"subject\">client subject: %s</p></body></html>\n" % subject).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        log("request: %s" % (fmt % args))


def log(line):
    print(line, flush=True)


class Server(http.server.ThreadingHTTPServer):
    def __init__(self, context):
        self.context = context
        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self):
        # The handshake happens here, on the listening thread, so that every failure is logged
        # (socketserver drops the errors of get_request silently). Bounded by the socket timeout.
        sock, addr = self.socket.accept()
        sock.settimeout(20)
        try:
            tls = self.context.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log("handshake failed: %s" % e)
            sock.close()
            raise
        log("handshake ok: %s %s; client subject: %s" % (
            tls.version(), tls.cipher()[0], subject_text(tls.getpeercert() or {})))
        return tls, addr


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    cert, key, ca, portfile = argv
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server = Server(context)
    with open(portfile, "w") as f:
        f.write("%d\n" % server.server_address[1])
    log("listening on 127.0.0.1:%d" % server.server_address[1])
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
