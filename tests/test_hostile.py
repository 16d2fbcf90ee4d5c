"""Hostile input, as a table: each case gives an exit code and the first line of the message,
and nothing outside the run's own store (``NAME.zarr``, ``NAME.ckpt``, ``NAME.lock``) changes.

Most cases run the CLI in-process on a copy of a finished tiny run or on tiny configs that
are refused before a model loads. A live owner is a sleeping child process, a dead owner the
pid of one that has exited; the race of two writers runs two real ``reawaken run`` processes
(a real ``kill -9`` and its resume are in tests/train/test_resume.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zarr

import reawaken
from reawaken.cli import main
from reawaken.errors import StoreError


@dataclass(frozen=True)
class Case:
    """``setup(ctx)`` prepares files and returns the argv; the run may change only ``own``."""

    id: str
    setup: Callable[[Context], list[str]]
    code: int
    first_line: str  # regex matched against the first line of stderr (or searched in stdout)
    stream: str = "err"
    own: tuple[str, ...] = ()


@dataclass
class Context:
    root: Path
    tiny: list[str]
    finished: Path
    live_pid: int
    dead_pid: int

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def run_copy(self, name: str = "x", **attrs: object) -> Path:
        """A copy of the finished tiny run (its checkpoints too, if any) under runs/."""
        store = self.runs / f"{name}.zarr"
        shutil.copytree(self.finished, store)
        ckpt = self.finished.with_suffix(".ckpt")
        if ckpt.is_dir():
            shutil.copytree(ckpt, store.with_suffix(".ckpt"))
        if attrs:
            zarr.open_group(str(store), mode="r+").attrs.update(attrs)
        return store

    def lock(self, name: str, pid: int) -> None:
        owner = {"pid": pid, "host": socket.gethostname(), "created": "2026-12-02T00:00:00"}
        (self.runs / f"{name}.lock").write_text(json.dumps(owner))

    def edit_config(self, store: Path, section: str, key: str, value: object) -> None:
        group = zarr.open_group(str(store), mode="r+")
        config = json.loads(group.attrs["config"])
        config[section][key] = value
        group.attrs["config"] = json.dumps(config)


def _run(ctx: Context, *extra: str, name: str = "x") -> list[str]:
    return ["run", *ctx.tiny, "--out", str(ctx.runs), "--name", name, "--quiet", *extra]


def _data(ctx: Context, filename: str, content: str | bytes) -> list[str]:
    path = ctx.write(filename, content)
    return _run(ctx, "--set", f"data.source={path}", "--set", "data.text_field=text")


def _flip_bytes(store: Path, variable: str) -> None:
    chunk = sorted(p for p in (store / variable / "c").rglob("*") if p.is_file())[0]
    data = bytearray(chunk.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(255 - b for b in data[middle : middle + 8])
    chunk.write_bytes(bytes(data))


def _truncate(store: Path, variable: str) -> None:
    chunk = sorted(p for p in (store / variable / "c").rglob("*") if p.is_file())[-1]
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])


def _interrupted(ctx: Context) -> Path:
    return ctx.run_copy(status="interrupted", completed_steps=10, reason="interrupted (SIGINT)")


def _edited(ctx: Context, key: str, value: object, section: str, *, stopped: bool) -> Path:
    """A copy of the run (stopped at step 10, or completed) whose stored config was edited."""
    store = _interrupted(ctx) if stopped else ctx.run_copy()
    ctx.edit_config(store, section, key, value)
    return store


def _dead_owner(ctx: Context) -> Path:
    store = ctx.run_copy(status="running", completed_steps=10, pid=ctx.dead_pid)
    ctx.lock("x", ctx.dead_pid)
    return store


def _live_owner(ctx: Context) -> Path:
    store = ctx.run_copy(status="running", completed_steps=10, pid=ctx.live_pid)
    ctx.lock("x", ctx.live_pid)
    return store


OWN = ("runs/x.zarr", "runs/x.ckpt", "runs/x.lock")
FLIPPED = r"variable 'loss' .*(checksum|damaged)"

# --- cases the issue lists as failing (a test of each failed before the change) -----------
FIXED = [
    Case(
        "overwrite-live-run",
        lambda c: [*_run(c, "--overwrite")] if _live_owner(c) else [],
        2,
        r"reawaken: error: .*x\.zarr is being written by process \d+ on ",
        own=OWN,
    ),
    Case(
        "name-dotdot",
        lambda c: _run(c, name="../escaped"),
        2,
        r"reawaken: error: --name '\.\./escaped' must be a single name",
    ),
    Case(
        "name-nested",
        lambda c: _run(c, name="a/b/c"),
        2,
        r"reawaken: error: --name 'a/b/c' must be a single name",
    ),
    Case(
        "name-absolute",
        lambda c: _run(c, name=str(c.root / "abs")),
        2,
        r"reawaken: error: --name '/.*abs' must be a single name",
    ),
    Case(
        "flipped-loss-bytes-check",
        lambda c: ["check", str(_flip(c.run_copy(), "loss"))],
        1,
        FLIPPED,
        stream="out",
        own=OWN,
    ),
    Case(
        "flipped-loss-bytes-show",
        lambda c: ["show", str(_flip(c.run_copy(), "loss"))],
        2,
        r"reawaken: error: .*x\.zarr .*" + FLIPPED,
        own=OWN,
    ),
    Case(
        "truncated-activation-show",
        lambda c: ["show", str(_cut(c.run_copy(), "activation"))],
        2,
        r"reawaken: error: .*variable 'activation' cannot be read",
        own=OWN,
    ),
    Case(
        "edited-config-resume",
        lambda c: [
            "run",
            "--resume",
            str(_edited(c, "lr", 0.001, "optimizer", stopped=True)),
            "--quiet",
        ],
        2,
        r"reawaken: error: .*x\.zarr: its stored config was changed after the run was created",
        own=OWN,
    ),
    Case(
        "edited-config-check",
        lambda c: ["check", str(_edited(c, "num_epochs", 5, "schedule", stopped=False))],
        1,
        r"stored config was changed after the run was created",
        stream="out",
        own=OWN,
    ),
    Case(
        "kill-9-ls",
        lambda c: ["ls", str(c.runs)] if _dead_owner(c) else [],
        0,
        r"x\s+interrupted \(owner died\)",
        stream="out",
        own=OWN,
    ),
    Case(
        "kill-9-show",
        lambda c: ["show", str(_dead_owner(c))],
        0,
        r"status: interrupted \(owner died\)",
        stream="out",
        own=OWN,
    ),
    Case(
        "kill-9-check",
        lambda c: ["check", str(_dead_owner(c))],
        0,
        r"x\.zarr: ok \(interrupted \(owner died\)",
        stream="out",
        own=OWN,
    ),
    Case(
        "txt-not-utf8",
        lambda c: _data(c, "latin.txt", "caf\xe9 au lait\n\nzweiter Absatz".encode("latin-1")),
        2,
        r"reawaken: error: .*latin\.txt is not UTF-8 text",
    ),
    Case(
        "jsonl-binary",
        lambda c: _data(c, "blob.jsonl", bytes(range(256)) * 4),
        2,
        r"reawaken: error: .*blob\.jsonl is not UTF-8 text",
    ),
    Case(
        "jsonl-line-is-a-number",
        lambda c: _data(c, "num.jsonl", '{"text": "one two three"}\n42\n'),
        2,
        r"reawaken: error: .*num\.jsonl, line 2: expected a JSON object \(\{\.\.\.\}\), got 42",
    ),
    Case(
        "json-array-file",
        lambda c: _data(c, "arr.json", json.dumps([{"text": "a b c"}, {"text": "d e f"}])),
        2,
        r"reawaken: error: .*arr\.json, line 1: expected a JSON object .*got a list",
    ),
    Case(
        "text-null",
        lambda c: _data(c, "null.jsonl", '{"text": "one two"}\n{"text": null}\n{"text": "x y"}\n'),
        2,
        r"reawaken: error: .*null\.jsonl, line 2: field 'text' is null",
    ),
    Case(
        "seed-negative",
        lambda c: _run(c, "--seed", "-1"),
        2,
        r"reawaken: error: invalid configuration: config key 'seed': Input should be greater than",
    ),
    Case(
        "out-not-writable",
        lambda c: [
            "run",
            *c.tiny,
            "--out",
            str(c.write("a-file", "x") / "sub"),
            "--name",
            "x",
            "--quiet",
        ],
        2,
        r"reawaken: error: cannot write the run store .*a-file/sub/x\.zarr",
    ),
    Case(
        "schema-version-abc-check",
        lambda c: ["check", str(c.run_copy(schema_version="abc"))],
        1,
        r"attribute 'schema_version' is 'abc', expected an integer",
        stream="out",
        own=OWN,
    ),
    Case(
        "schema-version-abc-show",
        lambda c: ["show", str(c.run_copy(schema_version="abc"))],
        2,
        r"reawaken: error: .*attribute 'schema_version' is 'abc', expected an integer",
        own=OWN,
    ),
    Case(
        "schema-version-abc-figures",
        lambda c: [
            "figures",
            str(c.run_copy(schema_version="abc")),
            "--out",
            str(c.runs / "x.zarr" / "figs"),
        ],
        2,
        r"reawaken: error: .*attribute 'schema_version' is 'abc', expected an integer",
        own=OWN,
    ),
    Case(
        "config-not-json-check",
        lambda c: ["check", str(c.run_copy(config="{lr: 0.5"))],
        1,
        r"attribute 'config' is not a valid run configuration",
        stream="out",
        own=OWN,
    ),
    Case(
        "config-not-json-show",
        lambda c: ["show", str(c.run_copy(config="{lr: 0.5"))],
        2,
        r"reawaken: error: .*attribute 'config' is not a valid run configuration",
        own=OWN,
    ),
    Case(
        "lr-inf",
        lambda c: _run(c, "--set", "optimizer.lr=.inf"),
        2,
        r"reawaken: error: invalid configuration: config key 'optimizer.lr': .* finite number",
    ),
    Case(
        "steps-per-doc-1e9",
        lambda c: _run(
            c,
            "--set",
            "schedule.steps_per_doc=1000000000",
            "--set",
            "data.num_docs=2",
            "--set",
            "schedule.num_epochs=1",
        ),
        2,
        r"reawaken: error: the run is too large: .*2,000,000,001 steps",
    ),
]


def _flip(store: Path, variable: str) -> Path:
    _flip_bytes(store, variable)
    return store


def _cut(store: Path, variable: str) -> Path:
    _truncate(store, variable)
    return store


def _sweep_with_a_live_run(ctx: Context) -> list[str]:
    sweep = f"name: s\nbase: default\ngrid:\n  seed: [0, 1]\nout: {ctx.runs}\n"
    ctx.lock("seed1", ctx.live_pid)
    return ["sweep", str(ctx.write("s.yaml", sweep))]


FIXED.append(
    Case(
        "sweep-over-a-live-run",
        _sweep_with_a_live_run,
        2,
        r"reawaken: error: runs of sweep s are being written by other processes: seed1 "
        r"\(process \d+ on ",
    )
)

# --- cases that were handled well before (kept so that they stay so) ---------------------
KEPT = [
    Case(
        "unknown-key",
        lambda c: _run(c, "--set", "optimizer.lrr=0.1"),
        2,
        r"reawaken: error: invalid configuration: unknown config key 'optimizer.lrr'",
    ),
    Case(
        "wrong-type",
        lambda c: _run(c, "--set", "schedule.steps_per_doc=many"),
        2,
        r"reawaken: error: invalid configuration: config key 'schedule.steps_per_doc'",
    ),
    Case(
        "bad-yaml",
        lambda c: ["run", str(c.write("bad.yaml", "a: [1, 2\n")), "--name", "x"],
        2,
        r"reawaken: error: config file .*bad\.yaml is not valid YAML",
    ),
    Case(
        "python-tag",
        lambda c: [
            "run",
            str(c.write("evil.yaml", "seed: !!python/object/apply:os.getpid []\n")),
            "--name",
            "x",
        ],
        2,
        r"reawaken: error: config file .*evil\.yaml is not valid YAML",
    ),
    Case(
        "missing-config-file",
        lambda c: ["run", str(c.root / "nope.yaml"), "--name", "x"],
        2,
        r"reawaken: error: config file .*nope\.yaml does not exist",
    ),
    Case(
        "missing-data-file",
        lambda c: _run(c, "--set", f"data.source={c.root / 'nope.jsonl'}"),
        2,
        r"reawaken: error: config key 'data.source': local corpus .* does not exist",
    ),
    Case(
        "unknown-preset",
        lambda c: ["run", "--preset", "paper/nope", "--name", "x"],
        2,
        r"reawaken: error: unknown preset 'paper/nope'",
    ),
    Case(
        "override-without-equals",
        lambda c: _run(c, "--set", "schedule.steps_per_doc"),
        2,
        r"reawaken: error: override .* must look like key\.path=value",
    ),
    Case(
        "too-few-documents",
        lambda c: _run(c, "--set", "data.num_docs=50"),
        2,
        r"reawaken: error: config key 'data.num_docs' asks for 50 documents",
    ),
    Case(
        "unknown-builtin-model",
        lambda c: _run(c, "--set", "model.name=builtin:huge"),
        2,
        r"reawaken: error: config key 'model.name': unknown built-in model",
    ),
    Case(
        "layer-out-of-range",  # needs the model's depth: after it loads, before any store
        lambda c: _run(c, "--set", "probes.activation_layers=[7]"),
        2,
        r"reawaken: error: config key 'probes.activation_layers': layer 7 is out of range",
    ),
    Case(
        "store-exists-without-overwrite",
        lambda c: _run(c) if c.run_copy() else [],
        2,
        r"reawaken: error: run store .*x\.zarr already exists; pass --overwrite",
        own=OWN,
    ),
    Case(
        "resume-different-config",
        lambda c: [
            "run",
            "--resume",
            str(_interrupted(c)),
            *c.tiny,
            "--set",
            "optimizer.lr=0.25",
            "--quiet",
        ],
        2,
        r"reawaken: error: cannot resume .*x\.zarr with a different config: optimizer\.lr",
        own=OWN,
    ),
    Case(
        "resume-while-owner-alive",
        lambda c: ["run", "--resume", str(_live_owner(c)), "--quiet"],
        2,
        r"reawaken: error: .*x\.zarr is (still )?being written by process \d+",
        own=OWN,
    ),
    Case(
        "show-missing-store",
        lambda c: ["show", str(c.runs / "nope.zarr")],
        2,
        r"reawaken: error: no run store at .*nope\.zarr",
    ),
    Case(
        "show-foreign-folder",
        lambda c: ["show", str(_mkdir(c.runs / "x.zarr"))],
        2,
        r"reawaken: error: .*x\.zarr is not a run store: it has no zarr\.json",
        own=OWN,
    ),
    Case(
        "check-broken-zarr-json",
        lambda c: ["check", str(_break_metadata(c.run_copy()))],
        1,
        r"is damaged: its Zarr metadata cannot be read",
        stream="out",
        own=OWN,
    ),
    Case(
        "check-missing-variable",
        lambda c: ["check", str(_remove(c.run_copy(), "train_loss"))],
        1,
        r"required variable 'train_loss' is missing",
        stream="out",
        own=OWN,
    ),
    Case(
        "check-schema-99",
        lambda c: ["check", str(c.run_copy(schema_version=99))],
        1,
        r"it has schema version 99; this reawaken reads version 1",
        stream="out",
        own=OWN,
    ),
    Case(
        "check-status-done",
        lambda c: ["check", str(c.run_copy(status="done"))],
        1,
        r"attribute 'status' is 'done', expected one of",
        stream="out",
        own=OWN,
    ),
    Case(
        "truncated-loss-check",
        lambda c: ["check", str(_cut(c.run_copy(), "loss"))],
        1,
        r"variable 'loss' cannot be read",
        stream="out",
        own=OWN,
    ),
    Case(
        "ls-missing-folder",
        lambda c: ["ls", str(c.root / "nowhere")],
        2,
        r"reawaken: error: no runs folder at .*nowhere",
    ),
    Case(
        "figures-bad-docs",
        lambda c: ["figures", str(c.run_copy()), "--docs", "one", "--out", str(c.runs / "x.zarr")],
        2,
        r"reawaken: error: --docs takes document numbers like 0,12; got 'one'",
        own=OWN,
    ),
    Case(
        "sweep-missing-file",
        lambda c: ["sweep", str(c.root / "nope.yaml"), "--dry-run"],
        2,
        r"reawaken: error: .*nope",
    ),
]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _break_metadata(store: Path) -> Path:
    (store / "zarr.json").write_text('{"zarr_format": 3, "node')
    return store


def _remove(store: Path, variable: str) -> Path:
    shutil.rmtree(store / variable)
    return store


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def _outside(files: dict[str, tuple[int, int]], own: tuple[str, ...]) -> dict[str, object]:
    return {k: v for k, v in files.items() if not any(k == o or k.startswith(o + "/") for o in own)}


@pytest.fixture(scope="module")
def pids() -> Iterator[tuple[int, int]]:
    """A live process of this host (sleeping) and the pid of one that has exited."""
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        yield live.pid, dead.pid
    finally:
        live.kill()
        live.wait()


@pytest.fixture
def context(
    tmp_path: Path,
    finished_run: Path,
    tiny_model_dir: Path,
    tiny_corpus: Path,
    pids: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> Context:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    tiny = [
        "--set", f"model.name={tiny_model_dir}", "--set", f"data.source={tiny_corpus}",
        "--set", "data.text_field=article", "--set", "data.num_docs=3",
        "--set", "data.context_length=24", "--set", "schedule.steps_per_doc=2",
        "--set", "schedule.num_epochs=2", "--set", "optimizer.name=sgd",
        "--set", "optimizer.lr=0.5", "--set", "probes.sketch_size=16",
        "--set", "model.pretrained=true", "--set", "evaluation.every=step",
        "--set", "checkpoint.every=doc",
    ]  # fmt: skip
    return Context(tmp_path, tiny, finished_run, *pids)


@pytest.mark.parametrize("case", FIXED + KEPT, ids=lambda case: case.id)
def test_hostile_input(
    case: Case,
    context: Context,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The size check compares with the memory of the machine; fix it so the case is the same
    # on every machine (the step table alone needs 48 GB here).
    monkeypatch.setattr("reawaken.train.resources.available_memory", lambda: 16 * 2**30)
    argv = case.setup(context)
    before = _outside(_files(context.root), case.own)
    code = main(argv)
    out, err = capsys.readouterr()
    text = err if case.stream == "err" else out
    assert code == case.code, text
    if case.stream == "err":
        lines = err.splitlines()
        assert lines, "no message"
        assert re.match(case.first_line, lines[0]), err
        assert "Traceback" not in err
    else:
        assert re.search(case.first_line, out), out
    assert _outside(_files(context.root), case.own) == before


def test_sigint_names_the_signal(
    context: Context, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import reawaken.train.runner as runner

    real, calls = runner.train_step, []  # the lock's content at each step

    def step(*args: object) -> object:
        calls.append(json.loads((context.runs / "x.lock").read_text()))  # held while it runs
        if len(calls) == 3:
            raise KeyboardInterrupt  # what Ctrl-C raises: no message
        return real(*args)

    monkeypatch.setattr(runner, "train_step", step)
    assert main(_run(context)) == 130
    # (the model loader's progress bar comes before the message)
    first = next(line for line in capsys.readouterr().err.splitlines() if "reawaken" in line)
    assert first.startswith("reawaken: interrupted (SIGINT) after 2 of 12 steps"), first
    assert reawaken.open_run(context.runs / "x.zarr").attrs["status"] == "interrupted"
    assert calls[0] == {**calls[0], "pid": os.getpid(), "host": socket.gethostname()}
    assert not (context.runs / "x.lock").exists()  # released when the run stopped


@pytest.mark.slow  # ~40 s on a loaded 2-core machine; the lock's cases above run in-process
def test_two_writers_with_one_name_one_is_refused(context: Context) -> None:
    """Both start before either has a store: exactly one writes it, the other is refused."""
    command = [sys.executable, "-m", "reawaken", *_run(context)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first, second = (
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    )
    results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    # Refused by the lock while the other writes, or, when the other has already finished
    # (one process can import seconds ahead of the other on 2 cores), by the finished store.
    assert re.match(
        r"reawaken: error: .*x\.zarr (is being written by process \d+|already exists; pass "
        r"--overwrite)",
        refused,
    ), refused
    ds = reawaken.open_run(context.runs / "x.zarr")
    assert ds.attrs["status"] == "completed"
    assert not (context.runs / "x.lock").exists()


def test_a_stale_lock_is_reported_and_taken_over_by_resume(
    context: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _dead_owner(context)
    assert main(["run", "--resume", str(store), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert re.search(rf"stale lock .*process {context.dead_pid} .* no longer runs", err), err
    assert reawaken.open_run(store).attrs["status"] == "completed"
    assert not (context.runs / "x.lock").exists()


def test_edited_store_is_refused_by_open_run_only_where_check_refuses(context: Context) -> None:
    store = _flip(context.run_copy(), "loss")
    with pytest.raises(StoreError, match=FLIPPED):
        reawaken.open_run(store)


def test_the_app_and_sweep_status_show_a_dead_owner(context: Context) -> None:
    from reawaken.app.data import scan_runs
    from reawaken.sweep.state import read_state

    _dead_owner(context)
    assert [e.status for e in scan_runs(context.runs)] == ["interrupted (owner died)"]
    assert read_state(str(context.runs), "x").state == "interrupted (owner died)"
