#!/usr/bin/env python3
"""Turn tests/bench/run's raw figures into the table, JSON and PNG chart.

  report.py RAW.tsv OUTDIR TARGETS REPS < missing.tsv

RAW.tsv has one line per measurement: target, rep, figure, value.
missing.tsv has one line per target that did not start: target, reason.
Each figure is the median over the reps. "Best peer" is the better of
MooseFS and GlusterFS for that figure."""
import json
import os
import statistics
import subprocess
import sys

UNITS = {
    "seq_write_1": "MiB/s", "seq_read_1": "MiB/s", "seq_read_1_cold": "MiB/s",
    "seq_write_4": "MiB/s", "seq_read_4": "MiB/s",
    "rand_read_4k_qd16": "IOPS", "rand_write_4k_qd16": "IOPS",
    "seq_read_1_cached": "MiB/s", "rand_read_4k_cached": "IOPS",
    "untar_files_per_s": "files/s", "reread_files_per_s": "files/s",
    "rewalk_files_per_s": "files/s",
    "make_j2_s": "s", "failover_pause_ms": "ms",
}
LOWER_IS_BETTER = {"make_j2_s", "failover_pause_ms"}
NAMES = {"local": "local", "claudefs": "ClaudeFS", "moosefs": "MooseFS",
         "glusterfs": "GlusterFS", "claudefs-auth": "CFS-auth",
         "claudefs-none": "CFS-none", "claudefs-1mds": "CFS-1mds",
         "claudefs-2shards": "CFS-2shards", "claudefs-nopt": "CFS-nopt"}
# ClaudeFS without encryption (frames only authenticated) and without
# tokens at all: what authentication and encryption cost; with one MDS
# rather than three replicas: what replication costs; the client cache's
# re-reads served by cfs-fuse rather than by the kernel (passthrough off)
VARIANTS = ("claudefs-auth", "claudefs-none", "claudefs-1mds",
            "claudefs-2shards", "claudefs-nopt")
PEERS = ("moosefs", "glusterfs")


def unit(fig):
    return UNITS.get(fig, "ops/s")


def better(fig, a, b):
    """a is better than b for this figure"""
    return a < b if fig in LOWER_IS_BETTER else a > b


def speedup(fig, ours, theirs):
    """how many times better ours is (>1: ours is better)"""
    if not ours or not theirs:
        return None
    return theirs / ours if fig in LOWER_IS_BETTER else ours / theirs


def main():
    raw, out, targets, reps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    targets = targets.split(",")
    missing = {}
    for line in sys.stdin:
        if line.strip():
            t, why = line.rstrip("\n").split("\t", 1)
            missing[t] = why
    vals, order = {}, []
    with open(raw) as f:
        for line in f:
            t, _, fig, v = line.rstrip("\n").split("\t")
            if fig not in order:
                order.append(fig)
            if v:
                vals.setdefault((t, fig), []).append(float(v))
    med = {k: statistics.median(v) for k, v in vals.items()}

    cols = ["local", "claudefs", "moosefs", "glusterfs"] + [
        v for v in VARIANTS if v in targets]
    hdr = "%-22s %-7s" % ("figure", "unit") + "".join(
        "%11s" % NAMES[c] for c in cols) + "%10s %10s" % ("CFS/local", "CFS/peer")
    print("\nmedians of %s runs; CFS/x > 1 means ClaudeFS is better\n" % reps)
    print(hdr)
    rows = []
    for fig in order:
        row = {"figure": fig, "unit": unit(fig)}
        cells = []
        for c in cols:
            v = med.get((c, fig))
            row[c] = v
            if c in missing or c not in targets:
                cells.append("%11s" % "missing")
            else:
                cells.append("%11s" % ("-" if v is None else "%.1f" % v if v < 100 else "%.0f" % v))
        peers = [med[(p, fig)] for p in PEERS if (p, fig) in med]
        best = None
        for p in peers:
            if best is None or better(fig, p, best):
                best = p
        row["best_peer"] = best
        row["claudefs_vs_local"] = speedup(fig, med.get(("claudefs", fig)), med.get(("local", fig)))
        row["claudefs_vs_best_peer"] = speedup(fig, med.get(("claudefs", fig)), best)
        rows.append(row)
        fmt = lambda x: "%10s" % ("-" if x is None else "%.2f" % x)
        print("%-22s %-7s" % (fig, unit(fig)) + "".join(cells) +
              fmt(row["claudefs_vs_local"]) + " " + fmt(row["claudefs_vs_best_peer"]))
    for t, why in sorted(missing.items()):
        print("%s: missing: %s" % (NAMES.get(t, t), why))
    security(rows, targets, missing)
    replicas(rows, targets, missing)
    with open(os.path.join(out, "bench.json"), "w") as f:
        json.dump({"reps": int(reps), "missing": missing, "figures": rows}, f, indent=1)
    print("bench: wrote %s" % os.path.join(out, "bench.json"))
    chart(out, rows, targets, missing)


def security(rows, targets, missing):
    """what tokens and encryption cost: ClaudeFS encrypted (the default)
    and authenticated only, against no tokens, as the share lost"""
    if "claudefs-none" not in targets or "claudefs-none" in missing:
        return
    print("\nthe cost of security: share of the figure lost against no "
          "tokens (negative: faster)\n")
    print("%-22s %12s %12s" % ("figure", "auth only", "encrypted"))
    for r in rows:
        base = r.get("claudefs-none")
        cells = []
        for t in ("claudefs-auth", "claudefs"):
            s = speedup(r["figure"], r.get(t), base)
            r["cost_" + t] = None if s is None else 1 - s
            cells.append("%12s" % ("-" if s is None else "%+.1f%%" % (100 * (1 - s))))
        print("%-22s" % r["figure"] + "".join(cells))


def ratio_table(rows, targets, missing, t, base, key, title, column):
    """each figure of target t as a ratio of base's (stored as key)"""
    if t not in targets or base not in targets or t in missing or base in missing:
        return
    print("\n%s (1 = as fast)\n" % title)
    print("%-22s %12s" % ("figure", column))
    for r in rows:
        s = speedup(r["figure"], r.get(t), r.get(base))
        r[key] = s
        if s is not None:
            print("%-22s %12.2f" % (r["figure"], s))


def replicas(rows, targets, missing):
    """what three MDS replicas (a Raft group) keep of one MDS's figures;
    what two metadata shards do against one (3 replicas each)"""
    ratio_table(rows, targets, missing, "claudefs", "claudefs-1mds",
                "replicas_vs_1mds",
                "3 MDS replicas against one MDS: the share kept", "3 replicas")
    ratio_table(rows, targets, missing, "claudefs-2shards", "claudefs",
                "shards2_vs_1", "2 metadata shards against 1: the speedup",
                "2 shards")


def chart(out, rows, targets, missing):
    """bars: each target relative to local (higher is better), log scale"""
    shown = [c for c in ("claudefs", "moosefs", "glusterfs")
             if c in targets and c not in missing]
    if "local" not in targets or not shown:
        print("bench: no chart: it needs local and another file system")
        return
    data = os.path.join(out, "chart.dat")
    with open(data, "w") as f:
        f.write("figure " + " ".join(NAMES[c] for c in shown) + "\n")
        for r in rows:
            vs = [speedup(r["figure"], r[c], r["local"]) for c in shown]
            f.write(r["figure"] + " " + " ".join(
                "%.4f" % v if v else "NaN" for v in vs) + "\n")
    png = os.path.join(out, "bench.png")
    plot = """set terminal pngcairo noenhanced size 1400,700 font ",10"
set output '%s'
set title 'tests/bench/run: each file system relative to the local directory (higher is better; 1 = local)'
set style data histograms
set style histogram clustered gap 1
set style fill solid border -1
set logscale y
set yrange [0.0005:10]
set ytics ("0.001" 0.001, "0.01" 0.01, "0.1" 0.1, "0.5" 0.5, "1" 1, "3" 3, "10" 10)
set grid ytics
set xtics rotate by -35
set key top right
plot %s
""" % (png, ", ".join("'%s' using %d:xtic(1) title columnheader" % (data, i + 2)
                        for i in range(len(shown))))
    try:
        subprocess.run(["gnuplot"], input=plot.encode(), check=True)
        print("bench: wrote %s" % png)
    except (OSError, subprocess.CalledProcessError) as e:
        print("bench: no chart: %s" % e)


if __name__ == "__main__":
    main()
