"""The ``reawaken`` command line: parse, call the package, print. No logic lives here.

Heavy imports (torch, transformers) happen inside the commands that need them, so
``reawaken --help``, ``ls`` and ``show`` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from reawaken.errors import ConfigError, ExitCode, ReawakenError

__all__ = ["main"]

RUN_EXAMPLES = """examples:
  reawaken run                                   # CPU demo: built-in model and corpus, ~1 min
  reawaken run --preset paper/pythia-1b          # the paper's main run (GPU, network)
  reawaken run --set model.name=EleutherAI/pythia-410m --set data.source=cnn_dailymail \\
      --set data.text_field=article --set data.dataset_config=3.0.0   # the paper's setting
  reawaken run --set model.name=SmolLM2-135M-Instruct.Q4_1.gguf --print-config
  reawaken run my.yaml --set schedule.steps_per_doc=20 --name m20 --overwrite

A named model (hub id, folder, .gguf file) is pretrained unless model.pretrained=false, and
without a preset runs the paper's default setting (T=25, C=256, M=10, E=5, SGD lr 1e-3).
"""


def _default_name(preset: str | None, config_file: str | None) -> str:
    stem = Path(config_file).stem if config_file else Path(preset or "default").name
    return f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"


def _format_score(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _headline(path: Path) -> dict[str, Any]:
    """Headline numbers of one stored run, read through the analysis layer."""
    from reawaken.analysis import summary
    from reawaken.store import open_run

    table = summary(open_run(path))
    return {name: table[name].item() for name in table.data_vars if table[name].ndim == 0}


def _overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` overrides, with ``--threads N`` as ``threads=N``."""
    return [*args.set, *([f"threads={args.threads}"] if args.threads is not None else [])]


def command_run(args: argparse.Namespace) -> int:
    from reawaken.config import load_config
    from reawaken.config.protocol import protocol_line

    if args.quiet:  # nor the model loader's bars: an error is then the only line on stderr
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    if args.resume:
        return _resume(args)
    from reawaken.store.lock import check_run_name

    if args.name is not None:
        check_run_name(args.name)
    config = load_config(
        args.config, preset=args.preset, overrides=_overrides(args), seed=args.seed
    )
    name = args.name or _default_name(args.preset, args.config)
    if args.smoke:
        from reawaken.smoke import smoke_config

        config = smoke_config(config)
        name = args.name or f"{name}-smoke"
    if args.print_config:
        import yaml

        print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), end="")
        return ExitCode.OK
    print(protocol_line(config), flush=True)
    store_path = Path(args.out) / f"{name}.zarr"
    from reawaken.train import run_experiment

    result = run_experiment(
        config,
        store_path,
        overwrite=args.overwrite,
        progress=not args.quiet,
        preset=args.preset or ("" if args.config else "default"),
    )
    _print_result(result)
    return ExitCode.OK


def _resume(args: argparse.Namespace) -> int:
    from reawaken.config import load_config
    from reawaken.train import resume_experiment

    given = args.config or args.preset or args.set or args.seed is not None or args.threads
    config = (
        load_config(args.config, preset=args.preset, overrides=_overrides(args), seed=args.seed)
        if given
        else None
    )
    result = resume_experiment(args.resume, config, progress=not args.quiet)
    if result.wall_seconds == 0:
        print(f"{result.path} is already completed; nothing to resume")
        return ExitCode.OK
    _print_result(result)
    return ExitCode.OK


def _print_result(result: Any) -> None:
    from reawaken.analysis.summary import HEADLINE

    numbers = _headline(result.path)
    print(f"\nrun completed in {result.wall_seconds:.0f} s: {result.path}")
    print("next:")
    print(f"  reawaken show {result.path}")
    print("  panel serve apps/            # then open http://localhost:5006/apps")
    print(f"  python -c \"import reawaken; print(reawaken.open_run('{result.path}'))\"")
    print(
        f"{HEADLINE} = {_format_score(numbers.get(HEADLINE))}  (the paper's recovery score at "
        f"the last epoch; mean per-document recovery score: "
        f"{_format_score(numbers.get('mean_recovery_score'))})"
    )


def command_pairwise(args: argparse.Namespace) -> int:
    from reawaken.train.pairwise import run_pairwise

    change = run_pairwise(args.run, args.epoch, progress=not args.quiet)
    diagonal = float(change.values.diagonal().mean())
    print(
        f"pairwise_loss_change ({change.sizes['source_doc']} x {change.sizes['doc']}) from the "
        f"checkpoint after epoch {args.epoch} (step {change.attrs['step']}) added to {args.run}"
    )
    print(f"  mean change of the trained document itself: {diagonal:+.4f} nats")
    print(f"  mean change of the others: {_off_diagonal_mean(change.values):+.4f} nats")
    print(f"see it: reawaken figures {args.run} --what matrix   (or the app's recovery page)")
    return 0


def _off_diagonal_mean(matrix: Any) -> float:
    import numpy as np

    mask = ~np.eye(len(matrix), dtype=bool)
    return float(matrix[mask].mean()) if mask.any() else float("nan")


def command_presets(args: argparse.Namespace) -> int:
    from reawaken.config import available_presets, preset_description

    names = available_presets()
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {preset_description(name)}")
    return ExitCode.OK


def _run_row(path: Path) -> list[str]:
    from reawaken.analysis.summary import HEADLINE
    from reawaken.store.lock import display_status
    from reawaken.store.reader import read_attrs, run_config

    try:
        attrs = read_attrs(path)
        config = run_config(attrs)
        numbers = _headline(path)
    except (ReawakenError, ValueError) as error:
        return [path.stem, "damaged", "", str(error)[:60], "", ""]
    schedule, data = config.get("schedule", {}), config.get("data", {})
    shape = f"{data.get('num_docs')}/{schedule.get('steps_per_doc')}/{schedule.get('num_epochs')}"
    return [
        path.stem,
        display_status(path, attrs),
        f"{100 * numbers.get('progress', 0):.0f}%",
        str(config.get("model", {}).get("name")),
        shape,
        _format_score(numbers.get(HEADLINE)),
    ]


def command_ls(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if not folder.is_dir():
        raise ConfigError(f"no runs folder at {folder}")
    stores = sorted(folder.glob("*.zarr"))
    if not stores:
        print(f"no runs in {folder}; start one with: reawaken run")
        return ExitCode.OK
    from reawaken.analysis.summary import HEADLINE

    rows = [["run", "status", "progress", "model", "T/M/E", HEADLINE]]
    rows += [_run_row(path) for path in stores]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return ExitCode.OK


def command_show(args: argparse.Namespace) -> int:
    import yaml

    from reawaken.analysis.summary import HEADLINE
    from reawaken.store.lock import display_status
    from reawaken.store.reader import read_attrs, run_config

    path = Path(args.run)
    attrs = read_attrs(path)
    numbers = _headline(path)
    config = run_config(attrs)
    attrs["status"] = display_status(path, attrs)
    print(f"run: {path}")
    print(
        f"  {HEADLINE}: {_format_score(numbers.get(HEADLINE))} (the paper's RS at the last epoch)"
    )
    for key in (
        "status",
        "reason",
        "completed_steps",
        "created",
        "finished",
        "device",
        "model_source",
        "model_type",
        "vocab_rows",
        "model_file",
        "model_file_sha256",
        "model_revision",
        "num_parameters",
        "threads",
    ):
        if attrs.get(key) not in (None, ""):
            print(f"  {key}: {attrs[key]}")
    print("summary:")
    for key, value in numbers.items():
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    print("config:")
    print("  " + yaml.safe_dump(config, sort_keys=False).replace("\n", "\n  ").rstrip())
    return ExitCode.OK


def command_check(args: argparse.Namespace) -> int:
    from reawaken.store.check import check_run
    from reawaken.store.lock import OWNER_DIED, display_status
    from reawaken.store.reader import read_attrs

    failures = 0
    for run in args.runs:
        problems = check_run(run)
        failures += bool(problems)
        if problems:
            print(f"{run}: {len(problems)} problem(s)")
            for problem in problems:
                print(f"  - {problem}")
            continue
        status = display_status(run, read_attrs(run))
        hint = f"; continue with: reawaken run --resume {run}" if status == OWNER_DIED else ""
        print(f"{run}: ok ({status}{hint})")
    return ExitCode.FAILED if failures else ExitCode.OK


def command_sweep(args: argparse.Namespace) -> int:
    from reawaken.sweep import (
        describe_runs,
        expand,
        format_table,
        load_sweep,
        run_sweep,
        sweep_states,
    )

    spec = load_sweep(args.sweep)
    if args.dry_run:
        print(describe_runs(spec, expand(spec)))
        return ExitCode.OK
    if args.status:
        print(format_table(sweep_states(spec)))
        return ExitCode.OK
    result = run_sweep(spec, executor=args.executor, jobs=args.jobs, address=args.address)
    print(f"\n{result.summary()}")
    return ExitCode.FAILED if result.failed else ExitCode.OK


def command_figures(args: argparse.Namespace) -> int:
    from reawaken.plots.export import DEFAULT_FIGURE_SETS, write_figures

    try:
        docs = [int(doc) for doc in args.docs.split(",")]
    except ValueError:
        raise ConfigError(f"--docs takes document numbers like 0,12; got {args.docs!r}") from None
    written = write_figures(
        args.runs,
        args.out,
        formats=[f.strip() for f in args.format.split(",") if f.strip()],
        what=[w.strip() for w in args.what.split(",") if w.strip()]
        if args.what is not None
        else DEFAULT_FIGURE_SETS,
        docs=docs,
        dpi=args.dpi,
    )
    for path in written:
        print(path)
    print(f"{len(written)} file(s) written to {args.out}")
    return ExitCode.OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reawaken",
        description="Anticipatory recovery in cyclic fine-tuning (Yang et al. 2024).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run one cyclic fine-tuning experiment into runs/NAME.zarr",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("config", nargs="?", help="YAML config file (default: the CPU demo preset)")
    run.add_argument("--preset", help="a shipped preset (see `reawaken presets`)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. schedule.steps_per_doc=10 (repeatable)",
    )
    run.add_argument("--out", default="runs", help="folder for the run store (default: runs/)")
    run.add_argument("--name", help="store name: OUT/NAME.zarr (default: preset + timestamp)")
    run.add_argument("--seed", type=int, help="seed for init, document choice and order")
    run.add_argument("--overwrite", action="store_true", help="replace an existing store")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--smoke",
        action="store_true",
        help="check the preset in seconds on a CPU, offline: tiny model of the same family, "
        "local data, T<=4, M<=2, E<=2, C<=32",
    )
    run.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads of torch (config key threads; default: $OMP_NUM_THREADS, else all "
        "cores); on a loaded machine fewer threads can be much faster",
    )
    run.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config (YAML) and exit, loading no model",
    )
    run.add_argument(
        "--resume",
        metavar="RUN.zarr",
        help="continue an interrupted or failed run from its last checkpoint",
    )
    run.set_defaults(func=command_run)

    check = commands.add_parser("check", help="validate a run store and report its problems")
    check.add_argument("runs", nargs="+", metavar="RUN", help="path(s) to RUN.zarr")
    check.set_defaults(func=command_check)

    pairwise = commands.add_parser(
        "pairwise",
        help="the authors' pairwise recovery (Fig. 8b, 23): train each document alone from "
        "the checkpoint after an epoch; adds pairwise_loss_change to the store",
    )
    pairwise.add_argument("run", help="path to RUN.zarr (kept that epoch's checkpoint)")
    pairwise.add_argument(
        "--epoch",
        type=int,
        required=True,
        help="start from the checkpoint after this epoch (1 = after the first; the paper: 4)",
    )
    pairwise.add_argument("--quiet", action="store_true", help="no progress bar")
    pairwise.set_defaults(func=command_pairwise)

    presets = commands.add_parser("presets", help="list the shipped presets")
    presets.set_defaults(func=command_presets)

    ls = commands.add_parser("ls", help="list runs with status, progress, model and score")
    ls.add_argument("dir", nargs="?", default="runs", help="runs folder (default: runs/)")
    ls.set_defaults(func=command_ls)

    show = commands.add_parser("show", help="print one run's config and summary")
    show.add_argument("run", help="path to RUN.zarr")
    show.set_defaults(func=command_show)

    sweep = commands.add_parser(
        "sweep",
        help="run a grid of runs from a sweep file, skipping completed ones (docs/sweeps.md)",
    )
    sweep.add_argument("sweep", metavar="SWEEP", help="sweep YAML file, or a shipped sweep name")
    sweep.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local processes (default) or Ray tasks",
    )
    sweep.add_argument("--jobs", type=int, default=1, help="local runs at a time (default 1)")
    sweep.add_argument("--address", help="Ray cluster: auto, HEAD:6379 (default: a local one)")
    sweep.add_argument("--status", action="store_true", help="print the runs' states and exit")
    sweep.add_argument(
        "--dry-run", action="store_true", help="list the runs and their config overrides and exit"
    )
    sweep.set_defaults(func=command_sweep)

    figures = commands.add_parser(
        "figures",
        help="write paper-sized figures of runs (PNG/SVG/PDF; see docs/app.md)",
    )
    figures.add_argument("runs", nargs="+", metavar="RUN", help="path(s) to RUN.zarr")
    figures.add_argument("--out", default="figures", help="output folder (default: figures/)")
    figures.add_argument(
        "--format", default="png", help="comma-separated: png, svg, pdf (default: png)"
    )
    figures.add_argument(
        "--what",
        default=None,
        help="comma-separated figure sets: recovery, matrix, similarity, trajectory (the "
        "default), and points (Fig. 11), mechanism (Fig. 8a, 8c, 22)",
    )
    figures.add_argument(
        "--docs", default="0", help="documents for single-document figures, e.g. 0,12 (default: 0)"
    )
    figures.add_argument("--dpi", type=int, default=300, help="resolution of PNG files")
    figures.set_defaults(func=command_figures)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reawaken`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ReawakenError as error:
        print(f"reawaken: {error.heading}{error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("reawaken: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
