"""Change points in real-valued streams: F1 of driftline's BOCPD vs River's ADWIN / Page-Hinkley at their defaults,
driftline's own ADWIN / Page-Hinkley, and the zero baseline (never signal), all measured in this run.

Seeded piecewise-stationary series of 2,000 values, a change every 200-500 values (known positions), four kinds:
mean shifts (N(mu, 1), |jump| 1-3), variance shifts (sd x or / 2-4), heavy tails (Student-t 3 dof, location jumps of
1-3), trends (the slope changes; the level is continuous). A detection matches the first unmatched true
change it follows by at most ``margin`` values (a detector cannot signal a change before it happens); F1 over all
series of a kind. Margin 5 as asked, and 50 to show how late the detections are.

    python benchmarks/change_points.py [--series 10]

River is optional (``pip install river``); without it those rows are skipped.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable

import numpy as np

from driftline.monitors.detectors import ADWIN, BOCPD, PageHinkley

N = 2000


def _change_points(rng: np.random.Generator) -> list[int]:
    points, at = [], int(rng.integers(200, 500))
    while at < N - 100:
        points.append(at)
        at += int(rng.integers(200, 500))
    return points


def _series(kind: str, seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    cps = _change_points(rng)
    bounds = [0, *cps, N]
    out = np.empty(N)
    level, sd, slope = 0.0, 1.0, 0.0
    for a, b in itertools.pairwise(bounds):
        if a:
            jump = rng.uniform(1.0, 3.0) * rng.choice([-1.0, 1.0])
            if kind in ("mean", "heavy"):
                level += jump
            elif kind == "variance":
                sd = float(np.clip(sd * rng.uniform(2.0, 4.0) ** rng.choice([-1.0, 1.0]), 0.25, 8.0))
            else:
                slope = rng.uniform(0.01, 0.03) * rng.choice([-1.0, 1.0])
        noise = rng.standard_t(3, b - a) if kind == "heavy" else rng.normal(0.0, sd, b - a)
        start = out[a - 1] if (kind == "trend" and a) else level
        out[a:b] = (start + slope * np.arange(1, b - a + 1) if kind == "trend" else level) + noise
    return out, cps


def _f1(found: list[int], truth: list[int], margin: int) -> tuple[int, int, int]:
    matched, tp = set(), 0
    for d in found:
        hit = next((c for c in truth if c not in matched and 0 <= d - c <= margin), None)
        if hit is not None:
            matched.add(hit)
            tp += 1
    return tp, len(found) - tp, len(truth) - tp


def _contenders() -> dict[str, Callable[[], Callable[[float], bool]]]:
    def wrap(factory):  # type: ignore[no-untyped-def]
        def make():  # type: ignore[no-untyped-def]
            det = factory()
            return lambda x: det.update(x).drift_detected

        return make

    out = {
        "zero baseline": lambda: lambda x: False,
        "driftline BOCPD": wrap(BOCPD),
        "driftline ADWIN": wrap(ADWIN),
        "driftline PageHinkley": wrap(PageHinkley),
    }
    try:
        from river import drift
    except ImportError:
        print("river is not installed: its rows are skipped")
        return out

    def river(factory):  # type: ignore[no-untyped-def]
        def make():  # type: ignore[no-untyped-def]
            det = factory()

            def step(x: float) -> bool:
                det.update(x)
                return bool(det.drift_detected)

            return step

        return make

    out["river ADWIN"] = river(drift.ADWIN)
    out["river PageHinkley"] = river(drift.PageHinkley)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10, help="seeded series per kind")
    args = parser.parse_args()
    contenders = _contenders()
    kinds = ("mean", "variance", "heavy", "trend")
    data = {k: [_series(k, 100 * i + j) for j in range(args.series)] for i, k in enumerate(kinds)}
    print(f"{'kind':<10}{'contender':<24}{'F1@5':>7}{'F1@50':>7}{'detections':>11}{'true':>6}{'s':>6}  load avg")
    for kind in kinds:
        for name, make in contenders.items():
            start = time.perf_counter()
            counts = {5: np.zeros(3), 50: np.zeros(3)}
            n_found = 0
            for series, truth in data[kind]:
                step = make()
                found = [i for i, x in enumerate(series.tolist()) if step(x)]
                n_found += len(found)
                for margin in counts:
                    counts[margin] += _f1(found, truth, margin)
            f1 = {m: 2 * c[0] / max(2 * c[0] + c[1] + c[2], 1) for m, c in counts.items()}
            n_true = sum(len(t) for _, t in data[kind])
            load = "/".join(f"{v:.1f}" for v in os.getloadavg())
            elapsed = time.perf_counter() - start
            print(f"{kind:<10}{name:<24}{f1[5]:>7.3f}{f1[50]:>7.3f}{n_found:>11}{n_true:>6}{elapsed:>6.1f}  {load}")
        print()


if __name__ == "__main__":
    main()
