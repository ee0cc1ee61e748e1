#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Times torch.nn.functional.embedding_bag(mode="mean") + normalize on the shapes blazen_gpu_bench
uses, with the same method (3 warm-up calls, then per repetition `inner` back-to-back calls and one
synchronize; the median of the per-call means). Writes JSON for bench/gpu_report.py."""
import argparse
import json
import statistics
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", required=True, help="output path")
    parser.add_argument("--quick", action="store_true", help="the small shapes of --quick")
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    if not torch.cuda.is_available():
        print("torch_embedding_bag: torch sees no CUDA device", file=sys.stderr)
        return 2
    device = torch.device("cuda")
    vocab = 1 << 14 if args.quick else 1 << 20
    dim = 384
    batches = [(256, 32)] if args.quick else [(4096, 128), (65536, 64)]
    inner = 2 if args.quick else 20
    gen = torch.Generator(device=device).manual_seed(7)
    table32 = torch.rand((vocab, dim), generator=gen, device=device) * 2 - 1
    tables = {"f32": table32, "f16": table32.half()}
    rows = []
    for bags, per_bag in batches:
        ids = torch.randint(0, vocab, (bags * per_bag,), generator=gen, device=device)
        offsets = torch.arange(0, bags * per_bag, per_bag, device=device)
        for name, table in tables.items():
            def launch():
                out = F.embedding_bag(ids, table, offsets, mode="mean")
                return F.normalize(out, dim=1)

            for _ in range(3):
                launch()
            torch.cuda.synchronize()
            samples = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                for _ in range(inner):
                    launch()
                torch.cuda.synchronize()
                samples.append((time.perf_counter() - t0) * 1000.0 / inner)
            ms = statistics.median(samples)
            rows.append({"table_dtype": name, "vocab": vocab, "dim": dim, "bags": bags,
                         "ids_per_bag": per_bag, "ms": ms})
            print(f"torch embedding_bag {name} [{vocab}, {dim}] {bags}x{per_bag}: {ms:.4f} ms")
    result = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0),
              "embedding_bag": rows}
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
