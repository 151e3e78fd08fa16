#!/usr/bin/env python3
"""Table of the routing ablation (scripts/routing_ablation.sh).

    python3 scripts/routing_table.py DIR

DIR holds TASK-sSEED-NAME.json, each the summary a `sparsetune train` run
printed. For every task and configuration: the valid accuracy (mean over
the seeds present), the test accuracy (mean and spread), the difference
from the dense run of the same seed in points (mean), and the test compute
of the sparse checkpoint measured by the engine (min and max over seeds,
and the largest distance from the target). A configuration missing a
seed's dense run is compared over the seeds that have one. Then contextual
threshold routing against static routers (thr-T[-V] against static-T[-V])
seed by seed: the mean difference in points on valid and on test, with its
standard error. Writes markdown to stdout.
"""
import json
import os
import re
import statistics
import sys

NAME = re.compile(r"^(?P<task>[a-z]+)-s(?P<seed>\d+)-(?P<name>.+)\.json$")
ORDER = ["dense", "thr-0.5", "static-0.5", "topk-0.5", "thr-0.25", "static-0.25", "topk-0.25"]
LABEL = {"thr": "contextual, threshold", "static": "static", "topk": "contextual, top-k"}


def label(name):
    if name == "dense":
        return "dense", "—"
    m = re.match(r"^(thr|static|topk)-([0-9.]+)(?:-(.+))?$", name)
    if not m:
        return name, "?"
    kind, target, variant = m.groups()
    text = LABEL[kind]
    if variant:
        text += " (%s)" % variant
    return text, target


def order(name):
    """Dense first, then by target (highest first): the default routers of
    ORDER, then the variants of the threshold routers."""
    if name == "dense":
        return (0, 0, 0, "")
    what, target = label(name)
    base = name if name in ORDER else None
    return (1, -float(target) if target != "?" else 0, ORDER.index(base) if base else len(ORDER), name)


def main(d):
    runs = {}
    for f in sorted(os.listdir(d)):
        m = NAME.match(f)
        if not m:
            continue
        try:
            with open(os.path.join(d, f)) as fh:
                s = json.load(fh)
        except (OSError, ValueError) as e:
            print("skipping %s: %s" % (f, e), file=sys.stderr)
            continue
        if s.get("test_metric") is None:
            continue
        runs.setdefault(m["task"], {}).setdefault(m["name"], {})[int(m["seed"])] = s
    if not runs:
        sys.exit("no finished runs in %s" % d)
    print("| task | routers | target | seeds | valid accuracy (mean) | test accuracy (mean, min–max) | vs dense (points, mean) | test compute (min–max) | max \\|compute − target\\| |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task in sorted(runs):
        names = sorted(runs[task], key=order)
        dense = runs[task].get("dense", {})
        for name in names:
            by_seed = runs[task][name]
            seeds = sorted(by_seed)
            acc = [by_seed[s]["test_metric"] for s in seeds]
            valid = statistics.mean(by_seed[s]["metric"] for s in seeds)
            what, target = label(name)
            deltas = [100 * (by_seed[s]["test_metric"] - dense[s]["test_metric"]) for s in seeds if s in dense]
            delta = "%+.2f" % statistics.mean(deltas) if deltas and name != "dense" else "—"
            comp = [by_seed[s].get("test_compute") for s in seeds]
            if None in comp:
                cr, gap = "—", "—"
            else:
                cr = "%.4f–%.4f" % (min(comp), max(comp))
                gap = "%.4f" % max(abs(c - float(target)) for c in comp)
            print("| %s | %s | %s | %s | %.4f | %.4f (%.4f–%.4f) | %s | %s | %s |" % (
                task, what, target, ",".join(map(str, seeds)), valid, statistics.mean(acc), min(acc), max(acc), delta, cr, gap))

    pairs(runs)


def pairs(runs):
    """Contextual minus static, paired by seed, for every task, target and
    variant that has both."""
    rows = []
    for task in sorted(runs):
        for name in sorted(runs[task], key=order):
            if not name.startswith("thr-"):
                continue
            other = "static-" + name[len("thr-"):]
            a, b = runs[task][name], runs[task].get(other, {})
            seeds = sorted(set(a) & set(b))
            if not seeds:
                continue
            dv = [100 * (a[s]["metric"] - b[s]["metric"]) for s in seeds]
            dt = [100 * (a[s]["test_metric"] - b[s]["test_metric"]) for s in seeds]
            rows.append((task, name, other, seeds, dv, dt))
    if not rows:
        return
    print()
    print("| task | contextual | static | seeds | valid: contextual − static (points) | test: contextual − static (points) |")
    print("|---|---|---|---|---|---|")
    for task, name, other, seeds, dv, dt in rows:
        print("| %s | %s | %s | %s | %s | %s |" % (task, name, other, ",".join(map(str, seeds)), meanSE(dv), meanSE(dt)))


def meanSE(xs):
    """Mean ± standard error (the mean alone for one value)."""
    if len(xs) < 2:
        return "%+.2f" % xs[0]
    return "%+.2f ± %.2f" % (statistics.mean(xs), statistics.stdev(xs) / len(xs) ** 0.5)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    main(sys.argv[1])
