"""`make bench`: run every bench at its default size and print one table of figures vs targets.

Each bench runs in its own process (so one's peak RSS is not another's) and writes its
headline figures with `--json`; this script gathers them into one table:
figure, target, measured, ratio (measured / bound; <= 1.00 meets the target).

    .venv/bin/python -m bench.all                    # collect (scale 1, 10), rules, report, trends
    .venv/bin/python -m bench.all --only rules       # one bench
    .venv/bin/python -m bench.all --quick            # small sizes, a smoke run of the wiring
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: bench/ must not shadow the project packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.figures import Figure, read_figures  # noqa: E402

# The runs `make bench` makes: (bench, module, arguments at the default sizes).
RUNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("collect", "bench.collect", ()),
    ("collect", "bench.collect", ("--scale", "10", "--no-peer")),
    ("rules", "bench.rules", ()),
    ("report", "bench.report", ()),
    ("notify", "bench.notify", ()),
    ("trends", "bench.trends", ()),
)
QUICK: dict[str, tuple[str, ...]] = {
    "bench.collect": ("--orgs", "1", "--sites", "1"),
    "bench.rules": ("--scale", "0.01"),
    "bench.report": ("--findings", "2000"),
    "bench.notify": ("--findings", "2000", "--scans", "8", "--gap", "3"),
    "bench.trends": ("--scans", "5", "--findings", "2000"),
}


def _run(module: str, args: tuple[str, ...], out: Path, log: Path) -> tuple[int, float]:
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as sink:
        done = subprocess.run([sys.executable, "-m", module, *args, "--json", str(out)],
                              stdout=sink, stderr=subprocess.STDOUT, check=False)
    return done.returncode, time.monotonic() - started


def _table(figures: list[Figure]) -> None:
    head = ["bench", "figure", "target", "measured", "ratio", ""]
    rows = [[f.bench, f.name, f.target, f"{f.measured:g} {f.unit}",
             "" if f.ratio is None else f"{f.ratio:.2f}",
             "" if f.met is None else ("ok" if f.met else "MISSED")] for f in figures]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    """Run the benches, print each one's log path and the table of every figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted({b for b, _, _ in RUNS}), action="append")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--logs", type=Path, help="keep each bench's full output here")
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ddaudit-bench-all-") as tmp:
        logs = args.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        for index, (bench, module, extra) in enumerate(RUNS):
            if args.only and bench not in args.only:
                continue
            if args.quick:
                if "--scale" in extra and module == "bench.collect":
                    continue
                extra = extra + QUICK[module]
            out = Path(tmp) / f"{index}-{bench}.json"
            log = logs / f"{index}-{bench}.log"
            print(f"running {module} {' '.join(extra)} ...", flush=True)
            code, took = _run(module, extra, out, log)
            print(f"  {'done' if code == 0 else f'FAILED (exit {code})'} in {took:.0f} s; "
                  f"output: {log}", flush=True)
            if code != 0 or not out.exists():
                failed.append(f"{module} {' '.join(extra)}".strip())
                if not args.logs:
                    print(log.read_text(encoding="utf-8")[-3000:])
                continue
            figures.extend(read_figures(out))
    print()
    _table(figures)
    missed = [f for f in figures if f.met is False]
    print(f"\n{len(figures)} figures, {len(missed)} missed"
          + (f"; benches that failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
