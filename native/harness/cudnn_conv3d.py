#!/usr/bin/env python3
"""Time PyTorch/cuDNN conv3d on the harness's shapes and print ratios against voxseg's kernels.

Usage:
  cudnn_conv3d.py --harness build/harness/voxseg_harness --timings timings.json [--json out.json]

The shapes come from `voxseg_harness --list-shapes`; voxseg's times from the JSON that
`voxseg_harness --time --json timings.json` wrote. cuDNN runs torch.nn.functional.conv3d with
cudnn.benchmark on (it picks its fastest algorithm per shape), once in FP32 and once with TF32
allowed, bias included, activation excluded (voxseg fuses it, so the comparison slightly favours
cuDNN). Each time is the mean of back-to-back calls filling about 200 ms, after a warm-up.

Ratios are cuDNN time / voxseg time: above 1, voxseg is faster. voxseg's time is that of the kernel
its AUTO rule picks (marked "(auto)" in the timings). Exits 0 with a note when PyTorch or a CUDA
device is missing.
"""
import argparse
import csv
import io
import json
import math
import subprocess
import sys


def load_shapes(harness):
    listing = subprocess.run([harness, "--list-shapes"], check=True, capture_output=True, text=True)
    return list(csv.DictReader(io.StringIO(listing.stdout)))


def auto_times(timings_path):
    """voxseg's time per shape name for the kernel AUTO picks."""
    with open(timings_path) as f:
        report = json.load(f)
    times = {}
    for t in report["timings"]:
        if t["unit"] == "GFLOP/s" and t["kernel"].endswith("(auto)"):
            times[t["name"]] = t["ms"]
    return report, times


def time_ms(torch, run):
    run()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    run()
    stop.record()
    stop.synchronize()
    reps = max(3, min(100, int(200 / max(start.elapsed_time(stop), 1e-3))))
    start.record()
    for _ in range(reps):
        run()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / reps


def time_cudnn(torch, shape, tf32):
    F = torch.nn.functional
    torch.backends.cudnn.allow_tf32 = tf32
    size, cin, cout, k = (int(shape[key]) for key in ("size", "cin", "cout", "kernel"))
    x = torch.rand(1, cin, size, size, size, device="cuda") * 2 - 1
    w = (torch.rand(cout, cin, k, k, k, device="cuda") * 2 - 1) / math.sqrt(cin * k**3)
    b = torch.rand(cout, device="cuda") - 0.5
    stride, padding, dilation = (int(shape[key]) for key in ("stride", "padding", "dilation"))
    with torch.no_grad():
        return time_ms(torch, lambda: F.conv3d(x, w, b, stride, padding, dilation))


def geometric_mean(values):
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--harness", required=True)
    parser.add_argument("--timings", required=True, help="JSON from voxseg_harness --time --json")
    parser.add_argument("--json", help="write the comparison here")
    args = parser.parse_args()

    try:
        import torch
    except ImportError:
        print("cuDNN comparison skipped: PyTorch is not installed")
        return 0
    if not torch.cuda.is_available():
        print("cuDNN comparison skipped: torch.cuda.is_available() is False")
        return 0
    torch.backends.cudnn.benchmark = True

    shapes = load_shapes(args.harness)
    report, voxseg = auto_times(args.timings)
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}, "
          f"cuDNN {torch.backends.cudnn.version()}")
    print(f"{'shape':<40} {'voxseg ms':>10} {'cuDNN fp32':>11} {'cuDNN tf32':>11} "
          f"{'fp32/vx':>8} {'tf32/vx':>8}")
    rows = []
    for shape in shapes:
        ours = voxseg.get(shape["name"])
        fp32 = time_cudnn(torch, shape, tf32=False)
        tf32 = time_cudnn(torch, shape, tf32=True)
        row = {"name": shape["name"], "suite": shape["suite"], "voxseg_ms": ours,
               "cudnn_fp32_ms": fp32, "cudnn_tf32_ms": tf32,
               "fp32_ratio": fp32 / ours if ours else None,
               "tf32_ratio": tf32 / ours if ours else None}
        rows.append(row)
        shown = lambda v: f"{v:8.2f}" if v is not None else "     n/a"
        print(f"{shape['name']:<40} {ours or float('nan'):10.3f} {fp32:11.3f} {tf32:11.3f} "
              f"{shown(row['fp32_ratio'])} {shown(row['tf32_ratio'])}")
        sys.stdout.flush()

    for suite in ("brainchop", "unet"):
        picked = [r for r in rows if r["suite"] == suite and r["fp32_ratio"]]
        fp32 = geometric_mean([r["fp32_ratio"] for r in picked])
        tf32 = geometric_mean([r["tf32_ratio"] for r in picked])
        print(f"{suite}: geometric mean cuDNN/voxseg, FP32 {fp32:.2f}, TF32 {tf32:.2f} "
              f"over {len(picked)} shapes")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": report.get("device"), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
