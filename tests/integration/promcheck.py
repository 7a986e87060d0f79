"""Check a Prometheus text exposition file as node_exporter's textfile collector reads it.

Usage: promcheck.py FILE [NAME=VALUE ...]
The format: every sample's metric family has one HELP and one TYPE line before its samples; names
match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*, label values are quoted with \\,
" and newline escaped; values parse as floats; no family twice. netinv's conventions: every name
starts with netinv_, gauges only, and only a counter may end in _total. Each NAME=VALUE argument
(NAME may carry labels, as printed) must hold. Prints the problems; exit 1 if any. Uses promtool
instead of the format checks when it is installed.
"""
import re
import shutil
import subprocess
import sys

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def main():
    path, want = sys.argv[1], sys.argv[2:]
    problems, helps, types, samples, seen_families = [], {}, {}, {}, []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not NAME.match(parts[2]):
                problems.append(f"{n}: bad comment: {line}")
                continue
            d = helps if parts[1] == "HELP" else types
            if parts[2] in d:
                problems.append(f"{n}: second {parts[1]} for {parts[2]}")
            d[parts[2]] = parts[3]
            if parts[2] not in seen_families:
                seen_families.append(parts[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append(f"{n}: not a sample: {line}")
            continue
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        if labels:
            pos = 0
            for lm in LABEL.finditer(labels):
                if lm.start() != pos:
                    break
                pos = lm.end()
            if pos != len(labels):
                problems.append(f"{n}: bad labels: {labels}")
        try:
            float(value)
        except ValueError:
            problems.append(f"{n}: value {value!r} is not a number")
        if name not in types or name not in helps:
            problems.append(f"{n}: {name} has no HELP/TYPE before it")
        if not name.startswith("netinv_"):
            problems.append(f"{n}: {name} lacks the netinv_ prefix")
        if types.get(name) != "counter" and name.endswith("_total"):
            problems.append(f"{n}: {name} ends in _total but is a {types.get(name)}")
        if types.get(name) not in ("gauge", "counter"):
            problems.append(f"{n}: {name} has type {types.get(name)}")
        samples[name + ("{" + labels + "}" if labels else "")] = value
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], stdin=open(path), capture_output=True, text=True)
        if r.returncode:
            problems.append("promtool: " + (r.stdout + r.stderr).strip())
    for w in want:
        k, v = w.rsplit("=", 1)
        if k not in samples:
            problems.append(f"missing {k}")
        elif v.startswith(">"):
            if not float(samples[k]) > float(v[1:]):
                problems.append(f"{k} = {samples[k]}, want > {v[1:]}")
        elif float(samples[k]) != float(v):
            problems.append(f"{k} = {samples[k]}, want {v}")
    for p in problems:
        print(p)
    print(f"{len(samples)} samples in {len(seen_families)} families")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
