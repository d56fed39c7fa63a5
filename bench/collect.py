"""Collection benchmark: ddaudit vs the rate limits' lower bound and the official client.

Run `python bench/collect.py` (or `make bench`; `--scale 10` multiplies the service
accounts, `--help` lists the other knobs). It builds a simulated estate (by default 3
sites x 4 orgs; per org 400 users of whom 200 service accounts, 3 application keys per
service account, 50 API keys, 10 roles, 50 mappings, 3 connections, 1-2 Okta accounts),
serves it from a child process with per-(org, bucket) fixed-window limits and 30 ms of
latency, runs ddaudit's collection into a SQLite snapshot in another child process, then
the same enumeration scripted with the official `datadog-api-client` (bench/peer.py) in a
third, and prints the figures.

The lower bound. For one org and one bucket b, with limit L_b per period P_b:
  R_b  the fewest requests that enumerate the org's endpoints of b (one per page of 100,
       one per unpaged list, two for the org: /api/v2/org then /api/v1/org/{id}),
  U_b  = L_b - ceil(h * L_b), the requests of a window we allow ourselves, h being the
       headroom kept for the org's other clients (default 0.2; the throttle's rule),
  W_b  = ceil(R_b / U_b), the windows those requests need,
  D_b  the longest chain of requests that must go one after another (2 for a listing of
       more than one page: page 0 gives the total before the others can be sent),
  RTT  the simulator's latency, the least time any one request takes.
A window opens with the first request after the previous one closed, so the last of the
W_b windows opens at least (W_b - 1) * P_b after the first request and its last request
then takes a round trip:
  bound_b = max((W_b - 1) * P_b + RTT,  D_b * RTT)
Orgs and buckets are independent and run in parallel, so the estate's bound is the
largest bound_b over every (org, bucket). No client that keeps headroom h can finish
sooner; ddaudit's wall time over it is the "ratio" (target: at most 1.15).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):  # run as a script: make `bench` and `scanner` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ours import RunResult, run_ours  # noqa: E402
from bench.peer import run_peer  # noqa: E402
from bench.simproc import EstateInfo, SimulatorProcess  # noqa: E402
from scanner.simulator import BucketLimit, EstateSpec, RateLimits  # noqa: E402
from scanner.timeutil import utcnow  # noqa: E402

T = TypeVar("T")
SITES = ("datadoghq.com", "datadoghq.eu", "us5.datadoghq.com")
# Limits per org and bucket that bind at the default size (requests per period, seconds).
LIMITS = {
    "users": BucketLimit(3, 5),
    "keys": BucketLimit(5, 5),
    "roles": BucketLimit(5, 5),
    "orgs": BucketLimit(5, 5),
    "authn_mappings": BucketLimit(5, 5),
    "teams": BucketLimit(5, 5),
    "org_connections": BucketLimit(5, 5),
    "okta": BucketLimit(5, 5),
}


def lower_bound(info: EstateInfo, limits: RateLimits, headroom: float, rtt: float
                ) -> tuple[float, str]:
    """The bound of the module docstring, and the (org, bucket) that sets it."""
    best, where = 0.0, ""
    for org, needs in info.needs.items():
        for bucket, need in needs.items():
            rule = limits.of(bucket)
            usable = rule.limit - math.ceil(headroom * rule.limit)
            windows = math.ceil(need.requests / usable)
            bound = max((windows - 1) * rule.period + rtt, need.chain * rtt)
            if bound > best:
                best, where = bound, f"{org}/{bucket}: {need.requests} requests, " \
                    f"{usable} of {rule.limit} per {rule.period}s -> {windows} windows"
    return best, where


def in_child(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in a fresh process (so its peak RSS is its own)."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _sum(counters: dict[str, dict[str, int]], name: str) -> int:
    return sum(counters.get(name, {}).values())


def _row(label: str, run: RunResult, counters: dict[str, dict[str, int]], bound: float,
         minimal: int) -> list[str]:
    requests, limited = _sum(counters, "requests"), _sum(counters, "limited")
    return [label, f"{run.wall:.2f}", f"{run.wall / bound:.2f}x", f"{requests}",
            f"{requests / minimal:.2f}x", f"{limited} ({100 * limited / max(1, requests):.1f}%)",
            f"{run.peak_rss_mb:.0f}", run.note]


def _print_table(rows: list[list[str]]) -> None:
    head = ["client", "wall s", "/bound", "requests", "/minimal", "429s", "peak RSS MiB",
            "note"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _headroom_check(counters: dict[str, dict[str, int]], limits: RateLimits,
                    headroom: float) -> str:
    worst = 1.0
    for key, peak in counters.get("peak_window", {}).items():
        rule = limits.of(key.split("/", 1)[1])
        worst = min(worst, 1 - peak / rule.limit)
    return f"{100 * worst:.0f}% (kept at least {100 * headroom:.0f}%)"


def main(argv: list[str] | None = None) -> int:
    """Parse options, run both clients against one simulated estate, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="multiply the service accounts")
    parser.add_argument("--sites", type=int, default=3, choices=range(1, len(SITES) + 1))
    parser.add_argument("--orgs", type=int, default=4, help="orgs per site")
    parser.add_argument("--latency", type=float, default=0.030, help="seconds per request")
    parser.add_argument("--headroom", type=float, default=0.2, help="ddaudit's default: 0.2")
    parser.add_argument("--no-peer", action="store_true", help="skip the official client")
    args = parser.parse_args(argv)
    spec = EstateSpec(
        sites=SITES[: args.sites], orgs_per_site=args.orgs,
        users_per_org=200 + 200 * args.scale, service_accounts_per_org=200 * args.scale,
        app_keys_per_service_account=3.0, api_keys_per_org=50, roles_per_org=10,
        mappings_per_org=50, connections_per_org=3, okta_accounts_per_org=2,
        deliberate=False, key_gaps=(),
    )
    limits = RateLimits(default=BucketLimit(5, 5), buckets=LIMITS, html_429_every=3)
    print(f"building the estate (scale {args.scale}) ...", flush=True)
    with SimulatorProcess(spec, now=utcnow(), limits=limits, latency=args.latency) as sim, \
            tempfile.TemporaryDirectory(prefix="ddaudit-bench-") as workdir:
        info = sim.info
        minimal = sum(n.requests for needs in info.needs.values() for n in needs.values())
        bound, where = lower_bound(info, limits, args.headroom, args.latency)
        print(f"estate: {info.sizes}; limits per org and bucket: "
              + ", ".join(f"{b} {r.limit}/{r.period}s" for b, r in LIMITS.items()))
        print(f"lower bound {bound:.2f}s, set by {where}; minimal requests {minimal}")
        # An untimed pass without limits fills the simulator's answer cache, so neither
        # timed run pays for (or is slowed by) the simulator rendering its pages.
        sim.unlimited()
        in_child(run_ours, info.targets, str(Path(workdir) / "warm"))
        sim.reset()
        ours = in_child(run_ours, info.targets, workdir)
        ours_counters = sim.counters()
        rows = [_row("ddaudit", ours, ours_counters, bound, minimal)]
        rendered = sim.rendered()
        if not args.no_peer:
            sim.reset()
            peer = in_child(run_peer, info.targets)
            rows.append(_row("datadog-api-client", peer, sim.counters(), bound, minimal))
            rendered += sim.rendered()
    print()
    _print_table(rows)
    print(f"\nanswers the simulator had to render during the timed runs: {rendered}")
    print(f"ddaudit: {ours.rows} items collected, coverage {ours.coverage}; least budget "
          f"left free in any window: {_headroom_check(ours_counters, limits, args.headroom)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
