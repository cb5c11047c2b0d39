#!/usr/bin/env python3
"""OPA (Go engine, via PyPI opa-golib-python-bindings) on palisade's own templates and input.

Loads the shipped admin_ports and firewall_consistency templates plus fleet.rego, and times
`data.bench.violation` over cluster-N.json written by `PALISADE_BENCH_WRITE=DIR cargo bench -p
palisade-cluster-policy --bench cluster`. As in ../../../../shared/bench/opa-cluster: the
bridge parses the input JSON on every call, so per run `x := 1` (input load/parse) and the
query (load/parse + eval) are timed back to back and eval = their difference; medians of runs.

Usage: python3 bench_opa.py DIR [N ...]  (pip install --ignore-requires-python
opa-golib-python-bindings)
"""
import json
import os
import statistics
import sys
import time

from opa_bindings import OpaEngine

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "..", "..", "policies", "templates")


def call(engine, query, raw):
    return engine._call(engine._lib.OpaEvalQuery, query, raw, 0, 0).get("result")


def bench(path, runs=5):
    raw = open(path, "rb").read()
    engine = OpaEngine()
    for name in ("admin_ports", "firewall_consistency"):
        engine.add_policy(f"{name}.rego", open(os.path.join(TEMPLATES, name, "template.rego")).read())
    engine.add_policy("fleet.rego", open(os.path.join(HERE, "fleet.rego")).read())
    q, bq = b"data.bench.violation", b"x := 1"
    rs = call(engine, q, raw)
    call(engine, bq, raw)
    found = rs[0]["expressions"][0]["value"]
    base, full = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        call(engine, bq, raw)
        t1 = time.perf_counter()
        call(engine, q, raw)
        t2 = time.perf_counter()
        base.append(t1 - t0)
        full.append(t2 - t1)
    engine.close()
    by = {}
    for v in found:
        by[v["constraint"]] = by.get(v["constraint"], 0) + 1
    return {
        "input": os.path.basename(path),
        "bytes": len(raw),
        "violations": by,
        "load_parse_ms": round(statistics.median(base) * 1e3, 1),
        "eval_ms": round(statistics.median([f - b for f, b in zip(full, base)]) * 1e3, 1),
        "total_ms": round(statistics.median(full) * 1e3, 1),
    }


if __name__ == "__main__":
    d = sys.argv[1]
    sizes = sys.argv[2:] or ["1000", "10000"]
    for n in sizes:
        print(json.dumps(bench(os.path.join(d, f"cluster-{n}.json"))))
