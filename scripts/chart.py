#!/usr/bin/env python3
"""Draws docs/benchmarks.png from the side-by-side benchmark's output (not run in CI).

Left: time per request through each layer (criterion's estimates from `peers/`, one run,
lower is better). Middle and right: the three axum servers under the same load
(target/compare.json from scripts/compare.sh): requests/s with the p99 latency, and the
server's CPU time per request. All for unique tokens and for one repeated token.

    python3 -m pip install -r scripts/requirements-chart.txt
    (cd peers && CARGO_TARGET_DIR=../target cargo bench)   # criterion figures
    scripts/compare.sh                                     # load figures
    python3 scripts/chart.py [--target DIR] [--out FILE]

Missing inputs are an error, never a blank panel.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LAYERS = [
    ("tower_bearer", "tower-bearer", "tower-bearer"),
    ("jwt_authorizer", "jwt-authorizer", "jwt-authorizer 0.15"),
    ("tower_oauth2_resource_server", "tower-oauth2-resource-server",
     "tower-oauth2-resource-server 0.12\n(jwt-aws-lc-rs)"),
]
MIXES = [
    ("peers_unique_tokens", "unique", "unique tokens"),
    ("peers_repeated_token", "repeated", "repeated token"),
]
COLOURS = ["#1b6ca8", "#9a9a9a", "#d08c2e"]


def criterion_us(target: Path, group: str, bench: str) -> float:
    path = target / "criterion" / group / bench / "new" / "estimates.json"
    try:
        estimates = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"error: cannot read {path} ({e}); run the peers bench first")
    point = (estimates.get("slope") or estimates["mean"])["point_estimate"]
    return point / 1000.0


def load_figures(target: Path) -> dict:
    path = target / "compare.json"
    try:
        runs = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"error: cannot read {path} ({e}); run scripts/compare.sh first")
    return {(r["layer"], r["mix"]): r for r in runs}


def grouped_bars(ax, values, fmt):
    """values[layer][mix]; one group of bars per mix."""
    width = 0.26
    for i, (_, _, label) in enumerate(LAYERS):
        xs = [m + (i - 1) * width for m in range(len(MIXES))]
        bars = ax.bar(xs, values[i], width, label=label, color=COLOURS[i])
        ax.bar_label(bars, labels=[fmt(v) for v in values[i]], fontsize=8, padding=2)
    ax.set_xticks(range(len(MIXES)), [label for _, _, label in MIXES])
    ax.spines[["top", "right"]].set_visible(False)


def main() -> None:
    default_target = Path(os.environ.get("CARGO_TARGET_DIR", Path(__file__).parent.parent / "target"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=default_target)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "docs" / "benchmarks.png")
    args = parser.parse_args()

    micros = [[criterion_us(args.target, group, bench) for group, _, _ in MIXES] for bench, _, _ in LAYERS]
    runs = load_figures(args.target)
    try:
        rps = [[runs[(layer, mix)]["requests_per_sec"] for _, mix, _ in MIXES] for _, layer, _ in LAYERS]
        p99 = [[runs[(layer, mix)]["p99_ms"] for _, mix, _ in MIXES] for _, layer, _ in LAYERS]
        cpu = [[runs[(layer, mix)]["server_cpu_us_per_request"] for _, mix, _ in MIXES]
               for _, layer, _ in LAYERS]
    except KeyError as e:
        sys.exit(f"error: compare.json has no run for {e}")

    fig, (left, right, third) = plt.subplots(1, 3, figsize=(17, 4.8))
    grouped_bars(left, micros, lambda v: f"{v:.1f} µs")
    left.set_ylabel("µs per request (lower is better)")
    left.set_title("Layer around a trivial service (criterion)")
    grouped_bars(right, rps, lambda v: f"{v / 1000:.1f}k")
    right.set_ylabel("requests/s (higher is better)")
    right.set_title("axum hello-world servers under load")
    for i in range(len(LAYERS)):
        for m in range(len(MIXES)):
            right.annotate(f"p99 {p99[i][m]:.2f} ms", (m + (i - 1) * 0.26, 0), xytext=(0, 4),
                           textcoords="offset points", ha="center", fontsize=7, rotation=90,
                           color="white", va="bottom")
    grouped_bars(third, cpu, lambda v: f"{v:.1f} µs")
    third.set_ylabel("server CPU µs per request (lower is better)")
    third.set_title("The same servers: CPU time per request")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, [label.replace("\n", " ") for label in labels], loc="lower center",
               ncol=len(LAYERS), fontsize=9, frameon=False)
    fig.suptitle("RS256 access tokens, same JWK Set, same machine, one run each", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
