#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the GPU benchmark table (Markdown) from blazen_gpu_bench's JSON and
torch_embedding_bag.py's JSON, with each ratio against its target. Exit status 3 with
--require-targets when a target is missed."""
import argparse
import json
import sys

TARGETS = {"embedding_bag": 1.1, "allocation": 20.0, "deref": 0.9}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("ours", help="JSON of blazen_gpu_bench --json")
    parser.add_argument("torch", help="JSON of torch_embedding_bag.py --json")
    parser.add_argument("--require-targets", action="store_true")
    args = parser.parse_args()
    with open(args.ours, encoding="utf-8") as f:
        ours = json.load(f)
    with open(args.torch, encoding="utf-8") as f:
        torch = json.load(f)

    missed = []
    print(f"device: {ours['device']} ({ours['backend']}); torch {torch['torch']}\n")
    print("| EmbeddingBag(mean)+normalize | ours ms | torch ms | speedup | target |")
    print("|---|---|---|---|---|")
    key = lambda r: (r["table_dtype"], r["vocab"], r["dim"], r["bags"], r["ids_per_bag"])
    theirs = {key(r): r["ms"] for r in torch["embedding_bag"]}
    for row in ours["embedding_bag"]:
        t = theirs.get(key(row))
        if t is None:
            print(f"| {key(row)} | {row['ms']:.4f} | (not measured) | | |")
            missed.append(f"no torch figure for {key(row)}")
            continue
        speedup = t / row["ms"]
        ok = speedup >= TARGETS["embedding_bag"]
        if not ok:
            missed.append(f"embedding_bag {key(row)} {speedup:.2f}x")
        print(f"| {row['table_dtype']} [{row['vocab']}, {row['dim']}], {row['bags']}x"
              f"{row['ids_per_bag']} ids | {row['ms']:.4f} | {t:.4f} | {speedup:.2f}x | "
              f">= {TARGETS['embedding_bag']}x {'yes' if ok else 'NO'} |")

    alloc = ours["allocation"]
    print("\n| 1 MiB allocate+free | pool us | cudaMalloc/cudaFree us | speedup | target |")
    print("|---|---|---|---|---|")
    if "speedup" in alloc:
        ok = alloc["speedup"] >= TARGETS["allocation"]
        if not ok:
            missed.append(f"allocation {alloc['speedup']:.1f}x")
        print(f"| | {alloc['pool_alloc_free_us']:.3f} | {alloc['cuda_malloc_free_us']:.3f} | "
              f"{alloc['speedup']:.1f}x | >= {TARGETS['allocation']}x {'yes' if ok else 'NO'} |")
    else:
        missed.append("no cudaMalloc figure (host fallback)")

    print("\n| streaming deref | streams | device ref GB/s | host ref GB/s | ratio | target |")
    print("|---|---|---|---|---|---|")
    for row in ours["deref"]:
        ok = row["ratio"] >= TARGETS["deref"]
        if not ok:
            missed.append(f"deref {row['streams']} streams {row['ratio']:.2f}x")
        print(f"| {row['bytes']} bytes | {row['streams']} | {row['device_ref_gbps']:.2f} | "
              f"{row['host_ref_gbps']:.2f} | {row['ratio']:.2f}x | >= {TARGETS['deref']}x "
              f"{'yes' if ok else 'NO'} |")
    if missed:
        print("\nmissed: " + "; ".join(missed))
    return 3 if missed and args.require_targets else 0


if __name__ == "__main__":
    sys.exit(main())
