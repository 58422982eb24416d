"""Does the engine scale? Train on 1,000,000 ticket rows, quote 100,000 items; write SCALE.md.

Why this exists: the engine is meant for histories "from a few thousand to millions of rows"
(:class:`eta.model.Settings`) and for batch quoting (checkout pages, nightly re-quotes of every
open ticket). Targets: training on 1M rows in under 5 minutes and 4 GB peak memory; quoting
100,000 items in under 10 seconds.

How it measures:

* the history (synthetic tickets over three years, :func:`eta.synthetic.tickets`) is generated
  once and cached as Parquet under ``/tmp/eta-bench/scale``;
* training runs in a **child process** that loads and validates the Parquet file
  (:func:`eta.data.load_history`), fits :class:`eta.model.EtaModel` and saves it; its wall times
  come back as JSON, and its peak resident memory is read with
  ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after it exits (the peak of the whole child:
  Python, pandas, LightGBM, the data and the model, everything);
* quoting runs in this process: the saved model is loaded and 100,000 new tickets (created after
  the training window) go through :func:`eta.quote.prepare_items` and
  :func:`eta.quote.quote_items`. The floor is the bare LightGBM prediction of the same items
  (both boosters, on already computed and encoded features): the ratio says how much the rest of
  quoting (features, calibration, calendar arithmetic, risk notes, messages) costs on top.

Usage::

    python benchmarks/scale.py                     # 1M rows, 100k quotes, writes SCALE.md
    python benchmarks/scale.py --rows 200000 --out /tmp/scale.md
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("ETA_BENCH_CACHE", "/tmp/eta-bench")) / "scale"
TRAIN_TARGET_S = 300.0
MEMORY_TARGET_GB = 4.0
QUOTE_TARGET_S = 10.0
HISTORY_START = "2025-01-01"


def history_path(rows: int, days: int, seed: int) -> Path:
    """Synthetic ticket history of ``rows`` rows over ``days`` days, cached as Parquet."""
    path = CACHE / f"tickets_{rows}_{days}d_seed{seed}.parquet"
    if not path.exists():
        from eta import synthetic

        sim = synthetic.tickets(rows, seed=seed, start=HISTORY_START, days=days)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.parquet")
        sim.history.to_parquet(tmp, index=False)
        tmp.replace(path)
        (path.with_suffix(".as_of")).write_text(sim.as_of.isoformat(), encoding="utf-8")
    return path


def quote_items_path(rows: int, seed: int, after_days: int) -> Path:
    """``rows`` new tickets created in the 60 days after the training window (raw columns)."""
    path = CACHE / f"quote_items_{rows}_seed{seed}.parquet"
    if not path.exists():
        import pandas as pd

        from eta import synthetic

        start = (pd.Timestamp(HISTORY_START) + pd.Timedelta(days=after_days)).date().isoformat()
        sim = synthetic.tickets(rows, seed=seed + 1, start=start, days=60)
        items = sim.history.drop(columns=[sim.spec.end])
        path.parent.mkdir(parents=True, exist_ok=True)
        items.to_parquet(path, index=False)
    return path


def child_train(history: Path, model_dir: Path, threads: int) -> None:
    """In the child: load + validate, fit, save; print timings as JSON on the last line."""
    from threadpoolctl import threadpool_limits

    from eta.data import load_history
    from eta.model import EtaModel
    from eta.synthetic import load_spec

    limits = threadpool_limits(limits=threads, user_api="openmp") if threads > 0 else None
    spec = load_spec("tickets")
    as_of = history.with_suffix(".as_of").read_text(encoding="utf-8").strip()
    t0 = time.perf_counter()
    loaded = load_history(history, spec, as_of=as_of)
    t1 = time.perf_counter()
    model = EtaModel(spec).fit(loaded)
    t2 = time.perf_counter()
    model.save(model_dir)
    t3 = time.perf_counter()
    if limits is not None:
        limits.restore_original_limits()
    result = {
        "rows": len(loaded.frame),
        "open_share": loaded.open_share,
        "load_s": t1 - t0,
        "fit_s": t2 - t1,
        "save_s": t3 - t2,
        "files_mb": {f.name: f.stat().st_size / 1e6 for f in sorted(model_dir.iterdir())},
        "maxrss_kb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    print(json.dumps(result))


def measure_training(history: Path, model_dir: Path, threads: int) -> dict:
    """Run :func:`child_train` in a fresh interpreter; add wall time and its peak memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    began = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child-train",
            str(history),
            str(model_dir),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"training child failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result.update(
        child_wall_s=wall,
        peak_gb=peak_kb / 1024**2,
        peak_is_this_child=peak_kb > before,
    )
    return result


def measure_quoting(model_dir: Path, items_path: Path, threads: int) -> dict:
    """Quote the items with the saved model; time the bare LightGBM prediction as a floor."""
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from eta.model import EtaModel
    from eta.quote import prepare_items, quote_items

    limits = threadpool_limits(limits=threads, user_api="openmp") if threads > 0 else None
    model = EtaModel.load(model_dir)
    raw = pd.read_parquet(items_path)

    began = time.perf_counter()
    items, errors = prepare_items(raw, model.spec)
    prepared = time.perf_counter()
    quotes = quote_items(model, items)
    quoted = time.perf_counter()

    profile = cProfile.Profile()
    profile.enable()
    quote_items(model, items)
    profile.disable()

    f0 = time.perf_counter()
    features = model.features(items)
    f1 = time.perf_counter()
    x = model._encode(features)
    f2 = time.perf_counter()
    for booster in model.boosters_.values():
        booster.predict(x)
    f3 = time.perf_counter()
    if limits is not None:
        limits.restore_original_limits()
    return {
        "items": len(raw),
        "bad_rows": int((errors != "").sum()),
        "quoted": int(quotes["promise_at"].notna().sum()),
        "prepare_s": prepared - began,
        "quote_s": quoted - prepared,
        "features_s": f1 - f0,
        "encode_s": f2 - f1,
        "predict_s": f3 - f2,
        "profile": _profile_lines(profile),
    }


def _profile_lines(profile: cProfile.Profile, limit: int = 14) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(limit)
    text = out.getvalue()
    start = text.find("   ncalls")
    lines = text[start:].rstrip().splitlines()
    return "\n".join(line.replace(str(ROOT) + "/", "") for line in lines)


def _load_average() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def _mark(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def write_report(path: Path, args: argparse.Namespace, train: dict, quote: dict, ctx: dict) -> str:
    import lightgbm

    train_s = train["load_s"] + train["fit_s"]
    quote_s = quote["prepare_s"] + quote["quote_s"]
    files = ", ".join(f"{name} {mb:.1f} MB" for name, mb in train["files_mb"].items() if mb > 0.1)
    ratio = quote_s / max(quote["predict_s"], 1e-9)
    threads = "all cores (library default)" if args.threads <= 0 else f"{args.threads}"
    text = "\n".join(
        [
            "# ETA engine at scale",
            "",
            "Generated by `benchmarks/scale.py`; do not edit by hand.",
            "",
            f"- command: `{ctx['command']}`",
            f"- date: {ctx['date']}",
            f"- machine: {os.cpu_count()} CPUs (`nproc`), {platform.platform()}, Python "
            f"{platform.python_version()}, LightGBM {lightgbm.__version__}; OpenMP threads: "
            f"{threads}",
            f"- engine: eta {ctx['eta_version']}, source hash {ctx['engine']} (sha256 of "
            "src/eta/*.py; other engineers edit the engine in parallel)",
            f"- load average (1/5/15 min): at start {ctx['load_start']}, at end {ctx['load_end']}",
            f"- data: {train['rows']:,} synthetic tickets over {args.days} days "
            f"({100 * train['open_share']:.1f}% open at export); {quote['items']:,} new tickets "
            "to quote",
            "",
            "## Verdict",
            "",
            f"- {_mark(train_s < TRAIN_TARGET_S)} train < 5 min: {train_s:.1f} s "
            f"(load + validate {train['load_s']:.1f} s, fit {train['fit_s']:.1f} s; the child "
            f"process took {train['child_wall_s']:.1f} s including interpreter start and "
            f"saving the model, {train['save_s']:.1f} s).",
            f"- {_mark(train['peak_gb'] < MEMORY_TARGET_GB)} peak memory < 4 GB: "
            f"{train['peak_gb']:.2f} GB (max RSS of the training child process).",
            f"- {_mark(quote_s < QUOTE_TARGET_S)} quote 100k < 10 s: {quote_s:.2f} s "
            f"(prepare_items {quote['prepare_s']:.2f} s, quote_items {quote['quote_s']:.2f} s).",
            f"- model files (no target): {sum(train['files_mb'].values()):.1f} MB ({files}).",
            "",
            "## Quoting against the bare LightGBM floor",
            "",
            "| step | seconds |",
            "| --- | ---: |",
            f"| prepare_items (parse, validate) | {quote['prepare_s']:.2f} |",
            f"| quote_items (everything) | {quote['quote_s']:.2f} |",
            f"| features alone (recent history, calendar) | {quote['features_s']:.2f} |",
            f"| encoding categoricals alone | {quote['encode_s']:.2f} |",
            f"| bare LightGBM predict, both boosters (the floor) | {quote['predict_s']:.2f} |",
            "",
            f"Quoting costs **{ratio:.1f}x** the bare LightGBM prediction "
            f"({quote_s:.2f} s vs {quote['predict_s']:.2f} s for {quote['items']:,} items).",
            "",
            "<details><summary>Profile of one quote_items call (cumulative)</summary>",
            "",
            "```",
            quote["profile"],
            "```",
            "",
            "</details>",
            "",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child-train":
        child_train(Path(argv[1]), Path(argv[2]), int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3 * 365)
    parser.add_argument("--quote", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="OpenMP threads (0 = default)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "SCALE.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from benchmarks import engine_fingerprint
    from eta import __version__

    ctx = {
        "engine": engine_fingerprint(),
        "eta_version": __version__,
        "command": shlex.join(["python", "benchmarks/scale.py", *argv]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": _load_average(),
    }
    t0 = time.perf_counter()
    history = history_path(args.rows, args.days, args.seed)
    items = quote_items_path(args.quote, args.seed, args.days)
    print(f"data ready in {time.perf_counter() - t0:.0f}s: {history}", flush=True)
    model_dir = CACHE / f"model_{args.rows}"
    train = measure_training(history, model_dir, args.threads)
    print(
        f"trained in {train['load_s'] + train['fit_s']:.1f}s "
        f"(load {train['load_s']:.1f}s, fit {train['fit_s']:.1f}s), peak {train['peak_gb']:.2f} GB",
        flush=True,
    )
    quote = measure_quoting(model_dir, items, args.threads)
    print(
        f"quoted {quote['items']:,} in {quote['prepare_s'] + quote['quote_s']:.2f}s; "
        f"bare predict {quote['predict_s']:.2f}s",
        flush=True,
    )
    ctx["load_end"] = _load_average()
    print(write_report(args.out, args, train, quote, ctx))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
