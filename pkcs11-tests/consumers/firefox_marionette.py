#!/usr/bin/env python3
"""Drive a headless Firefox over Marionette (standard library only) for tests/59-consumer-firefox.

Firefox must run with --marionette --remote-allow-system-access and the pref marionette.port = 0:
it then writes the port it listens on to PROFILE/MarionetteActivePort. This script waits for that
file, opens a session, and from the privileged (chrome) context watches Firefox's own dialogs:
when Firefox asks for the token's PIN (a password prompt, as it does during a TLS handshake that
needs a key on a token that is not logged in) it types the PIN and presses OK, as a user would, or
presses Cancel with --cancel. Then it loads URL in a tab, writes the page source to OUT, reports
and asks Firefox to quit.

Usage: firefox_marionette.py PROFILE URL OUT (--pin-file FILE | --cancel) [--add-module NAME=PATH]
                             [--wait SECONDS]
--add-module loads a PKCS#11 module first, as Settings > Manage security devices > Load does.

Prints "key: value" lines for the test to check:
  add-module: ok | add-module: error ...
  device before|after: <module> / <slot> / <token> logged-in=<bool>      (each slot)
  prompt: <type> "<text>" -> pin | cancel                     (each dialog Firefox opened)
  navigate: ok | navigate: error <Marionette error> <message>
  page: <address of the document loaded: URL, or Firefox's about:neterror?e=...&d=... error page>
Exit status 0 when every step answered (the test judges the lines), 2 when Firefox did not start
Marionette in time or a command failed unexpectedly.
"""

import json
import os
import socket
import sys
import time

USAGE = ("usage: firefox_marionette.py PROFILE URL OUT (--pin-file FILE | --cancel) "
         "[--add-module NAME=PATH] [--wait SECONDS]")

# Chrome context. A password prompt is answered once with the PIN (arguments[0]) or cancelled
# (arguments[0] === null); a second password prompt (a wrong PIN) is cancelled, so a PIN is never
# tried twice. Other dialogs are cancelled too. What happened is kept on the browser window for
# REPORT_SCRIPT; the PIN is never recorded.
ANSWER_SCRIPT = """
const pin = arguments[0];
const seen = [];
window.schsmPrompts = seen;
let pinUsed = false;
const observer = (dialogWindow) => {
  const dialog = dialogWindow.Dialog;
  const type = dialog.args.promptType;
  let action = "cancel";
  if (type === "promptPassword" && pin !== null && !pinUsed) {
    dialog.ui.password1Textbox.value = pin;
    pinUsed = true;
    action = "pin";
  }
  seen.push({ type, text: String(dialog.args.text), action });
  // Let the dialog finish opening before closing it.
  dialogWindow.setTimeout(() => {
    if (action === "pin") { dialog.ui.button0.click(); } else { dialog.ui.button1.click(); }
  }, 0);
};
// Stays registered until Firefox quits.
Services.obs.addObserver(observer, "common-dialog-loaded");
return true;
"""

# Chrome context: load a PKCS#11 module into the running Firefox (and its profile's pkcs11.txt),
# the call that the OK button of Settings > Privacy & Security > Manage security devices > Load
# makes (nsIPKCS11ModuleDB.addModule in Firefox 153).
ADD_MODULE_SCRIPT = """
const [name, path] = arguments;
return (async () => {
  const db = Cc["@mozilla.org/security/pkcs11moduledb;1"].getService(Ci.nsIPKCS11ModuleDB);
  await db.addModule(name, path, 0, 0);
  return true;
})();
"""

# Chrome context: every PKCS#11 module's slots and tokens, and the dialogs seen so far.
REPORT_SCRIPT = """
return (async () => {
  const db = Cc["@mozilla.org/security/pkcs11moduledb;1"].getService(Ci.nsIPKCS11ModuleDB);
  const devices = [];
  for (const module of await db.listModules()) {
    for (const slot of module.slots) {
      let token = null;
      try { token = slot.getToken(); } catch (e) {}
      devices.push({ module: module.name, slot: slot.name, token: token ? token.tokenName : null,
                     loggedIn: token ? token.isLoggedIn : null });
    }
  }
  return { devices, prompts: window.schsmPrompts || [] };
})();
"""

# Content context: the loaded document's address and source, or "" while only about:blank is
# there or the document is still being parsed (an error page stays "interactive").
PAGE_SCRIPT = """
if (document.readyState === "loading" || document.documentURI === "about:blank") {
  return ["", ""];
}
return [document.documentURI, document.documentElement.outerHTML];
"""


class MarionetteError(Exception):
    pass


class Marionette:
    """One Marionette connection: packets are "<length>:<JSON>", commands
    [0, id, name, params], answers [1, id, error, result]."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.next_id = 0
        self._read()  # the server's greeting: {"applicationType": "gecko", "marionetteProtocol": 3}

    def _read(self):
        while b":" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b":")
        length = int(head)
        while len(self.buf) < length:
            self._fill()
        packet, self.buf = self.buf[:length], self.buf[length:]
        return json.loads(packet)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise MarionetteError("Firefox closed the Marionette connection")
        self.buf += chunk

    def command(self, name, params=None):
        self.next_id += 1
        data = json.dumps([0, self.next_id, name, params or {}]).encode()
        self.sock.sendall(str(len(data)).encode() + b":" + data)
        while True:
            answer = self._read()
            if isinstance(answer, list) and answer[:2] == [1, self.next_id]:
                break
        error, result = answer[2], answer[3]
        if error:
            message = (error.get("message") or "").splitlines()
            raise MarionetteError("%s: %s" % (error.get("error"), message[0] if message else ""))
        return result


def wait_for_port(profile, deadline):
    path = os.path.join(profile, "MarionetteActivePort")
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return int(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise MarionetteError("no %s within the wait: Firefox did not start Marionette" % path)


def report(m, when):
    value = m.command("WebDriver:ExecuteScript", {"script": REPORT_SCRIPT, "args": []})["value"]
    for d in value["devices"]:
        print("device %s: %s / %s / %s logged-in=%s" % (
            when, d["module"], d["slot"], d["token"], str(d["loggedIn"]).lower()))
    return value["prompts"]


def main(argv):
    args = list(argv)
    opts = {"--pin-file": None, "--add-module": None, "--wait": "120"}
    cancel = "--cancel" in args
    if cancel:
        args.remove("--cancel")
    for name in opts:
        if name in args:
            i = args.index(name)
            opts[name] = args[i + 1]
            del args[i:i + 2]
    if len(args) != 3 or cancel == bool(opts["--pin-file"]):
        print(USAGE, file=sys.stderr)
        return 2
    profile, url, out = args
    deadline = time.monotonic() + float(opts["--wait"])
    pin = None
    if opts["--pin-file"]:
        with open(opts["--pin-file"]) as f:
            pin = f.read().strip()

    try:
        port = wait_for_port(profile, deadline)
        m = Marionette(port, timeout=max(5.0, deadline - time.monotonic()))
        m.command("WebDriver:NewSession", {
            # A page that never loads or a script that never returns fails the command, not the run.
            "timeouts": {"pageLoad": 60000, "script": 30000, "implicit": 0},
            # Dialogs are ours to answer (ANSWER_SCRIPT), not Marionette's.
            "unhandledPromptBehavior": "ignore",
        })
        m.command("Marionette:SetContext", {"value": "chrome"})
        if opts["--add-module"]:
            name, _, path = opts["--add-module"].partition("=")
            try:
                m.command("WebDriver:ExecuteScript", {"script": ADD_MODULE_SCRIPT, "args": [name, path]})
                print("add-module: ok")
            except MarionetteError as e:
                print("add-module: error %s" % e)
        report(m, "before")
        m.command("WebDriver:ExecuteScript", {"script": ANSWER_SCRIPT, "args": [pin]})
        m.command("Marionette:SetContext", {"value": "content"})
        try:
            m.command("WebDriver:Navigate", {"url": url})
            print("navigate: ok")
        except MarionetteError as e:
            print("navigate: error %s" % e)
        # Navigate returns as soon as a dialog opens (the PIN prompt, mid-handshake): wait until a
        # document other than the start page has loaded, our page or Firefox's error page.
        while True:
            uri, source = m.command("WebDriver:ExecuteScript", {"script": PAGE_SCRIPT, "args": []})["value"]
            if uri or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        print("page: %s" % (uri or "(none loaded)"))
        with open(out, "w") as f:
            f.write(source)
        m.command("Marionette:SetContext", {"value": "chrome"})
        for p in report(m, "after"):
            print("prompt: %s %s -> %s" % (p["type"], json.dumps(p["text"]), p["action"]))
        try:
            m.command("Marionette:Quit", {"flags": ["eAttemptQuit"]})
        except MarionetteError as e:
            print("quit: error %s" % e)
        return 0
    except (MarionetteError, OSError, ValueError, KeyError, TypeError) as e:
        print("marionette: error %s" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
