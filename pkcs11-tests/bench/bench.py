"""The side-by-side benchmark: our module and OpenSC's opensc-pkcs11.so against the same
`schsm-sim serve` device behind pcscd + vpcd. Run through pkcs11-tests/bench/run, which sets up
pcscd, the reader and OPENSC_CONF and builds the signing client; see docs/benchmarks.md.

Per N (EC P-256 keys, each with an X.509 certificate) and module, the scenarios:
  a  pkcs11-tool -L                              (load, slot list, token info)
  b  pkcs11-tool --login -O                      (log in, list all objects)
  c  pkcs11-tool --login --sign --id ID          (fresh process: log in, find the key, sign once;
                                                 pkcs11-tool 0.23 ignores --label for --sign)
  d  signer: SIGS ECDSA signatures in one session, 1 thread
  e  signer: 2 processes x 4 threads at once, SIGS signatures in all, every one verified
Measured: APDUs (the simulator's counter), wall time, the client's CPU time (rusage of the child
process), and for d/e the simulator's CPU time (/proc/<serve pid>/stat).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from report import environment, markdown, table, targets  # noqa: E402
PIN = "648219"
SO_PIN = "3537363231383830"
TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("# " + msg, flush=True)


# --- the simulated device ----------------------------------------------------------------------

class Device:
    def __init__(self, sim, path, port, work):
        self.sim, self.path, self.port, self.work = sim, path, port, work
        self.proc = None

    def apdus(self):
        try:
            with open(os.path.join(self.path, "apdu-counter")) as f:
                return int(f.read().strip() or 0)
        except FileNotFoundError:
            return 0

    def sim_cpu(self):
        """CPU seconds of the serve process so far: the scheduler's nanosecond count summed over
        its threads (/proc/PID/task/*/schedstat), else the 10 ms ticks of /proc/PID/stat."""
        try:
            total = 0
            for t in os.listdir("/proc/%d/task" % self.proc.pid):
                with open("/proc/%d/task/%s/schedstat" % (self.proc.pid, t)) as f:
                    total += int(f.read().split()[0])
            return total / 1e9
        except (OSError, ValueError, IndexError):
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / TICK

    def serve(self):
        # Another test run on this machine may have put its card into our reader meanwhile.
        if card_present():
            raise SystemExit("a card is already in the reader on port %d (another run?)" % self.port)
        logf = open(os.path.join(self.work, os.path.basename(self.path) + ".serve.log"), "ab")
        self.proc = subprocess.Popen([self.sim, "serve", self.path, "--vpcd", "127.0.0.1:%d" % self.port],
                                     stdout=logf, stderr=logf)
        for _ in range(150):
            if self.proc.poll() is not None:
                raise SystemExit("schsm-sim serve exited early (see %s)" % logf.name)
            if card_present():
                return
            time.sleep(0.2)
        raise SystemExit("no card in the reader 30 s after starting schsm-sim serve")

    def stop(self):
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        for _ in range(50):
            if not card_present():
                return
            time.sleep(0.2)


def card_present():
    r = subprocess.run(["opensc-tool", "-l"], capture_output=True, text=True, timeout=20)
    return any(len(line.split()) > 1 and line.split()[0].isdigit() and line.split()[1] == "Yes"
               for line in r.stdout.splitlines())


# --- running one client ------------------------------------------------------------------------

def run_measured(argv, env, dev, out_path):
    """Runs argv; returns (rc, wall s, user s, sys s, APDUs). Output goes to out_path."""
    a0 = dev.apdus()
    t0 = time.monotonic()
    with open(out_path, "w") as out:
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    return p.returncode, wall, ru.ru_utime, ru.ru_stime, dev.apdus() - a0


def signers(cfg, mod, dev, procs, threads, total, tag):
    """procs signer processes with `threads` threads each, `total` signatures in all, started
    together; returns a dict of results (signatures checked later)."""
    per = [total // procs + (1 if i < total % procs else 0) for i in range(procs)]
    ps, files = [], []
    a0 = dev.apdus()
    for i in range(procs):
        sigfile = os.path.join(cfg.work, "%s.%d.sigs" % (tag, i))
        files.append(sigfile)
        p = subprocess.Popen([cfg.signer, mod["path"], PIN, cfg.label, str(per[i]), str(threads), sigfile],
                             env=mod["env"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=open(os.path.join(cfg.work, "%s.%d.err" % (tag, i)), "w"), text=True)
        ps.append(p)
    for p in ps:
        line = p.stdout.readline().strip()
        if line != "READY":
            for q in ps:
                q.kill()
            raise SystemExit("signer (%s) did not get ready: %r (see %s/%s.*.err)" % (mod["name"], line, cfg.work, tag))
    setup_apdus = dev.apdus() - a0
    c0, a1, t0 = dev.sim_cpu(), dev.apdus(), time.monotonic()
    for p in ps:
        p.stdin.write("go\n")
        p.stdin.flush()
    done = [p.stdout.readline().split() for p in ps]
    wall = time.monotonic() - t0
    c1, a2 = dev.sim_cpu(), dev.apdus()
    for p in ps:
        p.stdin.write("exit\n")
        p.stdin.flush()
        p.wait(60)
    if any(len(d) != 6 or d[0] != "DONE" for d in done):
        raise SystemExit("signer (%s) failed: %r" % (mod["name"], done))
    return {
        "wall": wall,
        "cpu": sum(float(d[2]) + float(d[3]) for d in done),
        "errors": sum(int(d[5]) for d in done),
        "sim_cpu": c1 - c0,
        "apdus": a2 - a1,
        "setup_apdus": setup_apdus,
        "count": total,
        "files": files,
    }


# --- checking signatures -----------------------------------------------------------------------

def der_of(rs):
    def integer(b):
        b = b.lstrip(b"\0") or b"\0"
        if b[0] & 0x80:
            b = b"\0" + b
        return bytes([2, len(b)]) + b
    body = integer(rs[:32]) + integer(rs[32:])
    return bytes([0x30, len(body)]) + body


def verify_all(files, pub_pem, work):
    """(good, total) over every "<hash> <r||s>" line of the files."""
    lines = []
    for f in files:
        with open(f) as fh:
            lines += [line.split() for line in fh if line.strip()]
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, utils
        with open(pub_pem, "rb") as fh:
            key = serialization.load_pem_public_key(fh.read())
        good = 0
        for h, s in lines:
            try:
                key.verify(der_of(bytes.fromhex(s)), bytes.fromhex(h), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
                good += 1
            except (InvalidSignature, ValueError):
                pass
        return good, len(lines)
    except ImportError:
        pass
    good = 0
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        hf, sf = os.path.join(tmp, "h"), os.path.join(tmp, "s")
        for h, s in lines:
            with open(hf, "wb") as fh:
                fh.write(bytes.fromhex(h))
            with open(sf, "wb") as fh:
                fh.write(der_of(bytes.fromhex(s)))
            r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub_pem, "-in", hf,
                                "-sigfile", sf], capture_output=True)
            good += r.returncode == 0
    return good, len(lines)


# --- scenarios ---------------------------------------------------------------------------------

def scenario_tool(cfg, mod, dev, n, name, args, check):
    """a, b, c: pkcs11-tool, `cfg.reps` times; medians of wall and CPU. APDUs: of the first
    run (the first process after the card came, which may read what later ones find in the
    module's per-insertion cache) and of the last (the steady state)."""
    runs = []
    for r in range(cfg.reps):
        out = os.path.join(cfg.work, "N%d.%s.%s.%d.out" % (n, mod["name"], name, r))
        rc, wall, user, sys_, apdus = run_measured(["pkcs11-tool", "--module", mod["path"], *args],
                                                   mod["env"], dev, out)
        with open(out) as fh:
            text = fh.read()
        problem = "exit status %d" % rc if rc else check(text)
        if problem:
            raise SystemExit("%s N=%d %s: %s (see %s)" % (mod["name"], n, name, problem, out))
        runs.append((wall, user + sys_, apdus))
    return {
        "wall": statistics.median(r[0] for r in runs),
        "cpu": statistics.median(r[1] for r in runs),
        "apdus": runs[-1][2],
        "apdus_first": runs[0][2],
    }


def count_objects(text, kind):
    return sum(1 for line in text.splitlines() if line.startswith(kind))


def run_module(cfg, mod, dev, n, keys_dir):
    res = {}
    log("%s, N=%d: a) pkcs11-tool -L" % (mod["name"], n))
    res["a"] = scenario_tool(cfg, mod, dev, n, "a", ["-L"],
                             lambda t: None if "token label" in t else "no token listed")

    listed = {}

    def check_b(t):
        got = (count_objects(t, "Private Key Object"), count_objects(t, "Certificate Object"))
        listed["objects"] = "%d private keys, %d certificates" % got
        # OpenSC's module lists at most 128 objects per token (100 keys: 100 private keys, then
        # 14 public keys and 14 certificates); only ours must list everything.
        if got == (n, n) or mod["name"] != "ours":
            return None
        return "listed %d private keys and %d certificates, want %d each" % (got + (n,))
    log("%s, N=%d: b) pkcs11-tool --login -O" % (mod["name"], n))
    res["b"] = scenario_tool(cfg, mod, dev, n, "b", ["--login", "--pin", PIN, "-O"], check_b)
    res["b"]["listed"] = listed.get("objects", "")

    sig = os.path.join(cfg.work, "c.sig")

    def check_c(_):
        with open(sig, "rb") as fh:
            rs = fh.read()
        with open(os.path.join(cfg.work, "c.sig.line"), "w") as fh:
            fh.write("%s %s\n" % (cfg.hash.hex(), rs.hex()))
        good, _ = verify_all([fh.name], os.path.join(keys_dir, "key-%03d.pub.pem" % n), cfg.work)
        return None if good == 1 else "the signature does not verify"
    log("%s, N=%d: c) pkcs11-tool --login --sign --id %s" % (mod["name"], n, cfg.key_id))
    res["c"] = scenario_tool(cfg, mod, dev, n, "c", ["--login", "--pin", PIN, "--sign", "--id", cfg.key_id,
                                                     "-m", "ECDSA", "-i", cfg.hash_file, "-o", sig], check_c)

    pub = os.path.join(keys_dir, "key-%03d.pub.pem" % n)
    log("%s, N=%d: d) %d signatures, one session (x%d)" % (mod["name"], n, cfg.sigs, cfg.reps))
    res["d"] = best_of([signers(cfg, mod, dev, 1, 1, cfg.sigs, "N%d.%s.d%d" % (n, mod["name"], r))
                        for r in range(cfg.reps)], pub, cfg.work)
    log("%s, N=%d: e) 2 processes x 4 threads, %d signatures (x%d)" % (mod["name"], n, cfg.sigs, cfg.reps))
    res["e"] = best_of([signers(cfg, mod, dev, 2, 4, cfg.sigs, "N%d.%s.e%d" % (n, mod["name"], r))
                        for r in range(cfg.reps)], pub, cfg.work)
    return res


def seen_check(cfg, modules):
    """seen_check.py (changes the device: run after the scenarios); its ok / not ok lines."""
    log("correctness: a key OpenSC generates is seen by our next find in a new session")
    r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "seen_check.py"), cfg.module, cfg.opensc, PIN],
                       env=modules[0]["env"], capture_output=True, text=True, timeout=120)
    lines = [line for line in r.stdout.splitlines() if line.startswith(("ok - ", "not ok - "))]
    if r.returncode and not any(line.startswith("not ok") for line in lines):
        lines.append("not ok - bench: seen_check.py failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])
    return lines


def pcsc_floor(cfg, n):
    """Client CPU µs of one SIGN APDU through bare pcsc-lite calls (pcsc_floor.c), or None."""
    if not cfg.floor:
        return None
    log("N=%d: the pcsc-lite floor (bare SCardTransmit of SIGN), %d APDUs" % (n, cfg.sigs))
    best = None
    for _ in range(cfg.reps):
        r = subprocess.run([cfg.floor, cfg.reader, PIN, "%02x" % n, str(cfg.sigs)], capture_output=True, text=True)
        try:
            v = float(r.stdout.strip())
        except ValueError:
            log("pcsc_floor failed: " + r.stderr.strip())
            return None
        best = v if best is None else min(best, v)
    return best


def best_of(runs, pub, work):
    """Several runs of d or e: the least CPU and wall time (what the code costs, with the least
    disturbance from other work on the machine), the most APDUs; every signature of every run
    is verified."""
    out = dict(runs[-1])
    log("   runs: client CPU µs/signature %s; signatures/s %s" % (
        " ".join("%.1f" % (1e6 * r["cpu"] / r["count"]) for r in runs),
        " ".join("%.0f" % (r["count"] / r["wall"]) for r in runs)))
    for key in ("wall", "cpu", "sim_cpu"):
        out[key] = min(r[key] for r in runs)
    out["apdus"] = max(r["apdus"] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    out["good"] = min(verify_all(r["files"], pub, work)[0] for r in runs)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--module", required=True)
    ap.add_argument("--opensc", required=True)
    ap.add_argument("--signer", required=True)
    ap.add_argument("--floor", help="the pcsc_floor binary (optional)")
    ap.add_argument("--reader", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--n", default="1,20,100")
    ap.add_argument("--sigs", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", help="markdown file to write")
    ap.add_argument("--json", help="results as JSON")
    ap.add_argument("--tap", action="store_true", help="print ok/not ok lines for the robust targets")
    cfg = ap.parse_args()
    cfg.hash = bytes(range(32))
    cfg.hash_file = os.path.join(cfg.work, "hash.bin")
    with open(cfg.hash_file, "wb") as fh:
        fh.write(cfg.hash)
    conf = os.path.join(cfg.work, "schsm.conf")
    with open(conf, "w") as fh:
        fh.write('[readers]\ninclude = ["%s"]\n' % cfg.reader)
    base = dict(os.environ)
    ours_env = dict(base, SCHSM_SIM="", SCHSM_PCSC="1", SCHSM_CONF=conf, SCHSM_LOG="warn",
                    SCHSM_LOG_FILE=os.path.join(cfg.work, "module.log"))
    modules = [{"name": "ours", "path": cfg.module, "env": ours_env},
               {"name": "opensc", "path": cfg.opensc, "env": base}]
    env = environment()
    results = {}
    for n in [int(x) for x in cfg.n.split(",")]:
        cfg.label = "bench-key-%03d" % n
        cfg.key_id = "01%02x" % n
        path = os.path.join(cfg.work, "dev%d" % n)
        keys = os.path.join(cfg.work, "keys%d" % n)
        os.makedirs(keys, exist_ok=True)
        subprocess.run([cfg.sim, "new", path, "--firmware", "3.5", "--serial", "DENK01%05d" % n, "--init",
                        "--so-pin", SO_PIN, "--pin", PIN], check=True, stdout=subprocess.DEVNULL)
        r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make_device.py"), cfg.module, path, str(n), PIN,
                            keys], capture_output=True, text=True)
        if r.returncode:
            raise SystemExit("making the device failed:\n" + r.stdout + r.stderr)
        log("N=%d: %s" % (n, r.stdout.strip()))
        dev = Device(cfg.sim, path, cfg.port, cfg.work)
        dev.serve()
        try:
            # The card in the reader must be this device (not another run's, served on the same
            # port): its serial number, and APDUs counted by this device.
            a0 = dev.apdus()
            # (SCHSM_CACHE=0: this look must not fill the per-insertion cache before scenario a.)
            r = subprocess.run(["pkcs11-tool", "--module", cfg.module, "-L"], env=dict(modules[0]["env"], SCHSM_CACHE="0"),
                               capture_output=True, text=True, timeout=60)
            if "DENK01%05d" % n not in r.stdout or dev.apdus() == a0:
                raise SystemExit("the reader does not show device N=%d (another card on port %d?):\n%s"
                                 % (n, cfg.port, r.stdout + r.stderr))
            results[n] = {m["name"]: run_module(cfg, m, dev, n, keys) for m in modules}
            results[n]["floor"] = pcsc_floor(cfg, n)
            if n == min(int(x) for x in cfg.n.split(",")):
                results[n]["seen"] = seen_check(cfg, modules)
        finally:
            dev.stop()
        print(table(n, results[n]["ours"], results[n]["opensc"], results[n].get("floor")), flush=True)
    if cfg.json:
        with open(cfg.json, "w") as fh:
            def clean(v):
                if isinstance(v, dict):
                    return {k: clean(x) for k, x in v.items() if k != "files"}
                return v
            json.dump({"env": env, "results": {str(k): clean(v) for k, v in results.items()}}, fh, indent=1)
    if cfg.out:
        os.makedirs(os.path.dirname(os.path.abspath(cfg.out)), exist_ok=True)
        with open(cfg.out, "w") as fh:
            fh.write(markdown(cfg, results, env))
        log("wrote " + cfg.out)
    failed = 0
    for r in results.values():
        for line in r.get("seen", []):
            if cfg.tap:
                print(line)
                failed += line.startswith("not ok")
            else:
                log(line)
    for name, met, robust, detail in targets(results):
        if cfg.tap and robust:
            print("%s - bench: %s (%s)" % ("ok" if met else "not ok", name, detail))
            failed += not met
        else:
            log("target %s: %s (%s)" % ("met" if met else "NOT MET", name, detail))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
