"""The benchmark's report: the markdown table per N, the targets of issue 7 with their verdicts,
the notes on them, and the environment line. Used by bench.py."""

import os
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def ratio(ours, theirs):
    return "%.2f" % (ours / theirs) if theirs else "-"


def fmt_ms(s):
    return "%.1f" % (s * 1000)


def table(n, o, s, floor=None):
    rows = ["| scenario | measure | ours | OpenSC | ratio |", "|---|---|---:|---:|---:|"]
    names = {"a": "a) `-L`", "b": "b) login + `-O`", "c": "c) login, find, sign once"}
    for k in "abc":
        ap = lambda r: str(r["apdus"]) if r["apdus"] == r["apdus_first"] else "%d (first %d)" % (r["apdus"], r["apdus_first"])
        rows.append("| %s | APDUs | %s | %s | %s |" % (names[k], ap(o[k]), ap(s[k]), ratio(o[k]["apdus"], s[k]["apdus"])))
        rows.append("| | wall ms | %s | %s | %s |" % (fmt_ms(o[k]["wall"]), fmt_ms(s[k]["wall"]), ratio(o[k]["wall"], s[k]["wall"])))
        rows.append("| | client CPU ms | %s | %s | %s |" % (fmt_ms(o[k]["cpu"]), fmt_ms(s[k]["cpu"]), ratio(o[k]["cpu"], s[k]["cpu"])))
    if o["b"]["listed"] != s["b"]["listed"]:
        rows.append("| b) objects listed | | %s | %s | |" % (o["b"]["listed"], s["b"]["listed"]))
    od, sd = o["d"], s["d"]
    per = lambda r, key: r[key] / r["count"]
    rows.append("| d) %d signatures, 1 session | APDUs per signature (+ setup) | %.2f (+%d) | %.2f (+%d) | %s |" % (
        od["count"], per(od, "apdus"), od["setup_apdus"], per(sd, "apdus"), sd["setup_apdus"], ratio(od["apdus"], sd["apdus"])))
    rows.append("| | wall ms per signature | %.3f | %.3f | %s |" % (per(od, "wall") * 1e3, per(sd, "wall") * 1e3, ratio(od["wall"], sd["wall"])))
    rows.append("| | module (client) CPU µs per signature | %.1f | %.1f | %s |" % (per(od, "cpu") * 1e6, per(sd, "cpu") * 1e6, ratio(od["cpu"], sd["cpu"])))
    if floor is not None:
        rows.append("| | the floor: bare pcsc-lite SCardTransmit of SIGN, client CPU µs | %.1f | %.1f | |" % (floor, floor))
    rows.append("| | simulator CPU µs per signature | %.0f | %.0f | |" % (per(od, "sim_cpu") * 1e6, per(sd, "sim_cpu") * 1e6))
    rows.append("| | module CPU / simulator CPU | %.1f %% | %.1f %% | |" % (pct(od["cpu"], od["sim_cpu"]), pct(sd["cpu"], sd["sim_cpu"])))
    rows.append("| | signatures verified | %d/%d | %d/%d | |" % (od["good"], od["count"], sd["good"], sd["count"]))
    oe, se = o["e"], s["e"]
    rows.append("| e) 2 processes x 4 threads | signatures verified | %d/%d | %d/%d | |" % (oe["good"], oe["count"], se["good"], se["count"]))
    rows.append("| | signatures per second | %.0f | %.0f | %s |" % (rate(oe), rate(se), ratio(rate(oe), rate(se))))
    rows.append("| | vs. single-thread (d) | %.0f %% | %.0f %% | |" % (100 * rate(oe) / rate(od), 100 * rate(se) / rate(sd)))
    return "\n".join(rows)


def pct(a, b):
    return 100.0 * a / b if b else float("inf")


def rate(r):
    return r["count"] / r["wall"] if r["wall"] else 0.0


def targets(results):
    """[(name, met, robust, detail)]: robust = independent of machine load (APDU counts and
    verification), the ones the smoke test asserts."""
    out = []
    for n, r in sorted(results.items()):
        o, s = r["ours"], r["opensc"]
        first = lambda k: "" if o[k]["apdus"] == o[k]["apdus_first"] else "; first process after insertion %d" % o[k]["apdus_first"]
        out.append(("(a) N=%d: at most 3 APDUs" % n, o["a"]["apdus"] <= 3, True, "%d%s" % (o["a"]["apdus"], first("a"))))
        out.append(("(c) N=%d: at most N + 6 = %d APDUs" % (n, n + 6), o["c"]["apdus"] <= n + 6, True,
                    "%d%s" % (o["c"]["apdus"], first("c"))))
        if n >= 20:
            out.append(("(c) N=%d: at least 5x fewer APDUs than OpenSC" % n, 5 * o["c"]["apdus"] <= s["c"]["apdus"], True,
                        "%d vs %d" % (o["c"]["apdus"], s["c"]["apdus"])))
            out.append(("(c) N=%d: wall time ratio at most 0.3" % n, o["c"]["wall"] <= 0.3 * s["c"]["wall"], False,
                        ratio(o["c"]["wall"], s["c"]["wall"])))
        out.append(("(d) N=%d: one APDU per signature" % n, o["d"]["apdus"] == o["d"]["count"], True,
                    "%d APDUs for %d signatures" % (o["d"]["apdus"], o["d"]["count"])))
        out.append(("(d) N=%d: module CPU per signature at most half of OpenSC's" % n, 2 * o["d"]["cpu"] <= s["d"]["cpu"], False,
                    "ratio %s" % ratio(o["d"]["cpu"], s["d"]["cpu"])))
        floor = r.get("floor")
        out.append(("(d) N=%d: module CPU at most 5 %% of the simulator's" % n, o["d"]["cpu"] <= 0.05 * o["d"]["sim_cpu"], False,
                    "%.1f %%%s" % (pct(o["d"]["cpu"], o["d"]["sim_cpu"]), "" if floor is None else
                                   "; bare pcsc-lite alone: %.1f %%" % pct(floor * 1e-6 * o["d"]["count"], o["d"]["sim_cpu"]))))
        for k in "de":
            out.append(("(%s) N=%d: every signature verifies (ours)" % (k, n), o[k]["good"] == o[k]["count"] and o[k]["errors"] == 0, True,
                        "%d/%d" % (o[k]["good"], o[k]["count"])))
        out.append(("(e) N=%d: throughput at least 90 %% of single-thread" % n, rate(o["e"]) >= 0.9 * rate(o["d"]), False,
                    "%.0f %%" % (100 * rate(o["e"]) / rate(o["d"]))))
    return out


def environment():
    def q(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "git": q(["git", "-C", HERE, "rev-parse", "--short", "HEAD"]),
        "opensc": q(["dpkg-query", "-W", "-f", "${Version}", "opensc-pkcs11"]),
        "cpu": "%s, %d cores" % (cpu, os.cpu_count()),
        "load": open("/proc/loadavg").read().split()[0],
    }


def markdown(cfg, results, env):
    parts = ["# Benchmarks: our module and OpenSC's, side by side", "",
             "Generated by `pkcs11-tests/bench/run` (do not edit by hand; re-run it).", "",
             "Both modules drive the same simulated SmartCard-HSM (firmware 3.5) behind pcscd + vpcd:",
             "`schsm-sim serve`, one device per N with N EC P-256 keys, each with an X.509 certificate",
             "in its CExx. OpenSC runs with the reader declared extended-length capable "
             "(`max_send_size`/`max_recv_size` in `pkcs11-tests/opensc.conf`) and without its file cache.",
             "APDUs are the simulator's counter; wall and CPU times are medians of %d runs for a-c "
             "and the best of as many runs for d and e (the least disturbed by other work). For a-c the APDUs are those of the last run; \"first\" is the "
             "first process after the card came into the reader, which also reads EF 2F02 and EF 2F03 "
             "(serial, label): our module shares those two per card insertion between processes "
             "(`src/token/info_store.rs`); OpenSC's file cache is off, as in the issue's figures." % cfg.reps, "",
             "- a) `pkcs11-tool -L`: load, slot list, token info",
             "- b) `pkcs11-tool --login --pin PIN -O`: log in, list all objects",
             "- c) `pkcs11-tool --login --pin PIN --sign --id 01NN -m ECDSA`: a fresh process "
             "logs in, finds the last key, signs once. By CKA_ID, not by label: pkcs11-tool 0.23 "
             "ignores `--label` for `--sign` and signs with the first private key it finds. Either "
             "way every key description must be read; the signature is verified.",
             "- d) `signer.c`: %d ECDSA signatures in one session, one thread. \"Module CPU\" is the client "
             "process's CPU time while signing (a C client, so nearly all of it is the module and "
             "libpcsclite); \"simulator CPU\" is the serve process's." % cfg.sigs,
             "- e) two `signer` processes with four threads each sign at once, %d signatures in all; "
             "every signature is verified; throughput over the signing phase, against d." % cfg.sigs, "",
             "Machine: %(cpu)s; load average %(load)s at the start (other work on the machine moves the "
             "times, not the APDU counts). OpenSC %(opensc)s; our module at git %(git)s; %(date)s." % env, ""]
    for n in sorted(results):
        parts += ["## N = %d keys" % n, "", table(n, results[n]["ours"], results[n]["opensc"], results[n].get("floor")), ""]
    seen = [line for r in results.values() for line in r.get("seen", [])]
    if seen:
        parts += ["## Correctness: another process changes the card", "",
                  "After the scenarios, with our module loaded (`bench/seen_check.py`), OpenSC generates a key:", ""]
        parts += ["- " + line.replace(" - bench: ", ": ", 1) for line in seen] + [""]
    parts += ["## Targets (issue 7)", "", "| target | result | met |", "|---|---|---|"]
    for name, met, _robust, detail in targets(results):
        parts.append("| %s | %s | %s |" % (name, detail, "yes" if met else "**no**"))
    parts += ["", "## Notes on the targets", "",
              "- (d) \"module CPU at most 5 % of the simulator's\" cannot be met over PC/SC: the floor row "
              "is a bare C loop of `SCardTransmit` with no PKCS#11 at all, and pcsc-lite's client side "
              "alone (a socket round trip to pcscd per APDU) costs 6-8 µs, about 10 % of the simulator's "
              "60-80 µs per P-256 signature. Our module adds 2-3 µs to that floor; OpenSC adds about 20 µs "
              "(it also begins and ends a PC/SC transaction per signature). Against a real HSM, whose "
              "ECDSA takes tens of milliseconds, either module's CPU is far below 1 %. Single runs are "
              "noisy on a shared machine (the log prints every run); the table keeps the best of the runs.",
              "- (e) A PC/SC transaction per signature makes a second process wait in "
              "`SCardBeginTransaction`, which pcsc-lite retries only every 100 ms (`PCSCLITE_LOCK_POLL_RATE`): "
              "that is why OpenSC's two processes reach about half of its single-thread rate. Our module "
              "sends a one-APDU operation (SIGN) without a transaction (pcscd runs one APDU atomically; "
              "while another process holds a transaction the APDU is refused and retried after 0.2-10 ms), "
              "so concurrent processes interleave.",
              "- (a) and (c): the first process after the card came into the reader also reads EF 2F02 "
              "and EF 2F03 (2 more APDUs); later processes take serial and label from the per-insertion "
              "cache (`$XDG_RUNTIME_DIR/schsm-pkcs11/` or `/tmp/schsm-pkcs11-<uid>/`; `SCHSM_CACHE=0` "
              "turns it off). The SO-PIN state is not queried for the token flags (as sc-hsm-embedded).",
              ""]
    parts += ["## Re-running", "", "```",
              "cargo build --release                 # the module and schsm-sim",
              "pkcs11-tests/bench/run                # N = 1, 20, 100; writes docs/benchmarks.md (a few minutes)",
              "pkcs11-tests/bench/run --smoke        # N = 1, few signatures, < 1 min; prints the table only",
              "```", "",
              "Needs what the black-box tests need (pcscd, vsmartcard-vpcd, opensc, opensc-pkcs11, openssl, "
              "python3-pykcs11) and gcc for the signing client; python3-cryptography verifies faster "
              "than openssl when installed. CI runs the smoke mode as `pkcs11-tests/tests/40-bench-smoke.sh`, "
              "which asserts the load-independent targets (APDU counts, every signature verified).", ""]
    return "\n".join(parts)
