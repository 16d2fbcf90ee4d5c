"""Sweeps: grid expansion and validation, store states, and both executors end to end."""

from __future__ import annotations

import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
import zarr

import reawaken
from reawaken.cli import main
from reawaken.config import available_presets
from reawaken.errors import ConfigError
from reawaken.sweep import (
    _local_command,
    _run_one,
    available_sweeps,
    expand,
    load_sweep,
    parse_sweep,
    read_state,
    run_sweep,
    sweep_states,
)


@pytest.fixture
def tiny_set(tiny_model_dir: Path, tiny_corpus: Path) -> dict[str, Any]:
    """Fixed overrides of a tiny run (T=3, C=24, M=2, E=2) on the local model and corpus."""
    return {
        "model.name": str(tiny_model_dir),
        "model.pretrained": True,
        "data.source": str(tiny_corpus),
        "data.text_field": "article",
        "data.num_docs": 3,
        "data.context_length": 24,
        "schedule.steps_per_doc": 2,
        "schedule.num_epochs": 2,
        "optimizer.name": "sgd",
        "probes.sketch_size": 8,
    }


@pytest.fixture
def tiny_sweep(tiny_set: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """A 2x2 sweep (two learning rates x two seeds) writing to tmp_path/runs."""
    grid = {"optimizer.lr": [0.5, 0.1], "seed": [0, 1]}
    return {"name": "tiny", "set": tiny_set, "grid": grid, "out": str(tmp_path / "runs")}


def fake_store(path: Path, config_json: str, **attrs: Any) -> None:
    """A store holding only root attributes: enough for the state logic."""
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.attrs.update({"config": config_json, **attrs})


# --- expansion and validation --------------------------------------------------------------


def test_expand_is_the_grid_product_with_readable_names_and_overrides() -> None:
    spec = parse_sweep(
        {
            "name": "sizes",
            "set": {"data": {"num_docs": 4}, "optimizer.lr": 1e-5},
            "grid": {"model.name": ["EleutherAI/pythia-160m", "EleutherAI/pythia-410m"],
                     "seed": [0, 1, 2]},
        }
    )  # fmt: skip
    runs = expand(spec)
    assert [run.name for run in runs] == [
        f"pythia-{size}_seed{seed}" for size in ("160m", "410m") for seed in (0, 1, 2)
    ]
    assert runs[4].overrides == (
        "data.num_docs=4",
        "optimizer.lr=1e-05",
        "model.name=EleutherAI/pythia-410m",
        "seed=1",
    )
    config = runs[4].config
    assert (config.model.name, config.seed, config.data.num_docs) == (
        "EleutherAI/pythia-410m",
        1,
        4,
    )
    assert config.optimizer.lr == 1e-5
    assert spec.out == "runs/sizes"


def test_override_values_come_back_with_their_types() -> None:
    spec = parse_sweep(
        {
            "name": "types",
            "set": {"data.dataset_config": "3.0.0", "model.revision": "true"},
            "grid": {"probes.activation_layers": [[-1], [0, -1]], "model.pretrained": [False]},
        }
    )
    runs = expand(spec)
    assert [run.name for run in runs] == [
        "activation_layers-1_pretrained-false",
        "activation_layers0--1_pretrained-false",
    ]
    config = runs[1].config
    assert config.data.dataset_config == "3.0.0"
    assert config.model.revision == "true"
    assert config.probes.activation_layers == (0, -1)
    assert config.model.pretrained is False


def test_clashing_names_are_qualified_then_numbered() -> None:
    qualified = parse_sweep({"name": "q", "grid": {"model.name": ["org1/m", "org2/m"]}})
    assert [run.name for run in expand(qualified)] == ["org1-m", "org2-m"]
    numbered = parse_sweep({"name": "n", "grid": {"model.name": ["a/b/c", "a-b/c"]}})
    assert [run.name for run in expand(numbered)] == ["a-b-c_0", "a-b-c_1"]
    single = parse_sweep({"name": "one", "set": {"seed": 3}})
    assert [(run.name, run.config.seed) for run in expand(single)] == [("one", 3)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "s", "gird": {}}, "unknown sweep key 'gird'"),
        ({"name": "s", "grid": {"seed": 3}}, "sweep key 'grid.seed'"),
        ({"name": "s", "grid": {"seed": []}}, "grid key 'seed' has no values"),
        ({"name": "s", "grid": {"seed": [1, 1]}}, "grid key 'seed' lists a value twice"),
        ({"name": "a b"}, "sweep key 'name'"),
        ({"name": "s", "num_gpus": -1}, "sweep key 'num_gpus'"),
        ({"name": "s", "set": {"seed": 1}, "grid": {"seed": [2]}}, "in both 'set' and 'grid'"),
    ],
)
def test_bad_sweep_files_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_sweep(data)


def test_bad_grid_values_fail_before_anything_runs_naming_run_and_key(tmp_path: Path) -> None:
    spec = parse_sweep(
        {"name": "s", "out": str(tmp_path), "grid": {"optimizer.lr": [0.1, -1], "seed": [0, 1]}}
    )
    with pytest.raises(ConfigError) as error:
        run_sweep(spec)
    assert "run lr-1_seed0, lr-1_seed1:" in str(error.value)
    assert "config key 'optimizer.lr'" in str(error.value)
    typo = parse_sweep({"name": "s", "grid": {"optimiser.lr": [0.1]}})
    with pytest.raises(ConfigError, match="unknown config key 'optimiser'"):
        expand(typo)
    assert list(tmp_path.iterdir()) == []


def test_shipped_sweeps_expand_and_are_not_presets() -> None:
    assert set(available_sweeps()) >= {"tiny-demo", "model-sizes"}
    assert not any(name.startswith("sweeps/") for name in available_presets())
    sizes = expand(load_sweep("model-sizes"))
    assert len(sizes) == 12 and sizes[0].name == "pythia-160m_seed0"
    assert {run.config.data.source for run in sizes} == {"cnn_dailymail"}
    assert len(expand(load_sweep("tiny-demo"))) == 4


def test_a_base_config_file_is_found_next_to_the_sweep_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "base.yaml").write_text("schedule:\n  steps_per_doc: 7\n")
    (folder / "s.yaml").write_text("name: s\nbase: base.yaml\ngrid:\n  seed: [0, 1]\n")
    monkeypatch.chdir(tmp_path)
    spec = load_sweep(folder / "s.yaml")
    assert spec.base == str(folder / "base.yaml")
    assert {run.config.schedule.steps_per_doc for run in expand(spec)} == {7}
    with pytest.raises(ConfigError, match=r"shipped sweeps: .*tiny-demo"):
        load_sweep("no-such-sweep")


# --- states from the stores ----------------------------------------------------------------


def test_states_come_from_the_stores(tmp_path: Path) -> None:
    spec = parse_sweep({"name": "s", "out": str(tmp_path), "grid": {"seed": [0, 1, 2, 3, 4, 5]}})
    runs = expand(spec)
    config = runs[0].config.to_json()  # T=10, M=5, E=5: 250 steps
    fake_store(tmp_path / "seed1.zarr", config, status="completed", completed_steps=250)
    fake_store(tmp_path / "seed2.zarr", config, status="running", completed_steps=25)
    fake_store(tmp_path / "seed3.zarr", config, status="interrupted", completed_steps=125,
               reason="interrupted (SIGTERM) after 125 of 250 steps")  # fmt: skip
    fake_store(tmp_path / "seed4.zarr", config, status="failed", completed_steps=0)
    (tmp_path / "seed5.zarr").mkdir()  # no zarr.json
    states = {s.name: s for s in sweep_states(spec)}
    assert {name: s.state for name, s in states.items()} == {
        "seed0": "pending",
        "seed1": "completed",
        "seed2": "running",
        "seed3": "interrupted",
        "seed4": "failed",
        "seed5": "damaged",
    }
    assert states["seed2"].progress == 0.1 and states["seed3"].progress == 0.5
    assert "SIGTERM" in states["seed3"].reason and "zarr.json" in states["seed5"].reason

    # what the local executor would start for each: new, resumed, or rewritten
    def command(name: str) -> list[str]:
        return _local_command(spec, next(r for r in runs if r.name == name), tmp_path)

    assert "--resume" not in command("seed0") and "--overwrite" not in command("seed0")
    for name in ("seed2", "seed3", "seed4"):
        assert command(name)[-3:] == ["--resume", str(tmp_path / f"{name}.zarr"), "--quiet"]
    assert command("seed5")[-1] == "--overwrite"


def test_completed_stores_are_skipped_and_stale_ones_refused(tmp_path: Path) -> None:
    spec = parse_sweep({"name": "s", "out": str(tmp_path), "grid": {"seed": [0, 1]}})
    for run in expand(spec):
        fake_store(tmp_path / f"{run.name}.zarr", run.config.to_json(), status="completed",
                   completed_steps=250)  # fmt: skip
    printed: list[str] = []
    result = run_sweep(spec, echo=printed.append)
    assert result.executed == () and not result.failed
    assert "2 runs, 2 completed, 0 to run" in printed[0]
    other = parse_sweep({"name": "s", "out": str(tmp_path), "set": {"optimizer.lr": 0.1},
                         "grid": {"seed": [0, 1]}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"seed0, seed1 .* another config"):
        run_sweep(other)


def test_ray_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    spec = parse_sweep({"name": "s", "out": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"pip install 'reawaken\[ray\]'"):
        run_sweep(spec, executor="ray")


# --- executors end to end --------------------------------------------------------------------


def test_local_sweep_reruns_only_what_is_unfinished_and_survives_a_failing_run(
    tiny_set: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    sweep_file = tmp_path / "layers.yaml"
    grid = {"probes.activation_layers": [[-1], [0], [1], [9]]}  # 2 layers: 9 fails at start
    sweep_file.write_text(yaml.safe_dump({"name": "layers", "set": tiny_set, "grid": grid,
                                          "out": str(out)}))  # fmt: skip
    assert main(["sweep", str(sweep_file), "--dry-run"]) == 0
    assert "activation_layers9: probes.activation_layers=[9]" in capsys.readouterr().out

    # A first pass, in this process with the function a Ray task runs: three stores complete
    runs = {run.name: run for run in expand(load_sweep(sweep_file))}
    for name in ("activation_layers-1", "activation_layers0", "activation_layers1"):
        assert _run_one(runs[name].config.to_json(), "", name, str(out))["status"] == "completed"
    # ... then one is stopped mid-way (what Ctrl-C or SIGTERM leaves) and one is lost
    zarr.open_group(str(out / "activation_layers1.zarr"), mode="r+").attrs.update(
        status="interrupted", completed_steps=4
    )
    shutil.rmtree(out / "activation_layers0.zarr")
    kept = out / "activation_layers-1.zarr"
    kept_stamp = (
        (kept / "zarr.json").stat().st_mtime_ns,
        reawaken.open_run(kept).attrs["finished"],
    )

    assert main(["sweep", str(sweep_file), "--jobs", "3"]) == 1  # one run failed
    printed = capsys.readouterr().out
    assert "4 runs, 1 completed, 3 to run (local)" in printed
    assert "3 of 4 runs completed (3 run now)" in printed
    assert "activation_layers9: failed" in printed and "out of range" in printed
    assert "out of range" in (out / "activation_layers9.log").read_text()
    assert not (out / "activation_layers-1.log").exists()  # skipped: never started
    assert ((kept / "zarr.json").stat().st_mtime_ns, reawaken.open_run(kept).attrs["finished"]) == (
        kept_stamp
    )
    for name in ("activation_layers-1", "activation_layers0", "activation_layers1"):
        ds = reawaken.open_run(out / f"{name}.zarr")
        assert (ds.attrs["status"], ds.attrs["completed_steps"]) == ("completed", 12)

    assert main(["sweep", str(sweep_file), "--status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "state", "progress", "RS", "note"]
    rs = reawaken.paper_recovery_score(reawaken.open_run(kept)).isel(presentation=-1).item()
    assert lines[1].split()[3] == ("n/a" if np.isnan(rs) else f"{rs:.3f}")
    rows = [line.split()[:3] for line in lines[1:]]
    assert rows == [
        ["activation_layers-1", "completed", "100%"],
        ["activation_layers0", "completed", "100%"],
        ["activation_layers1", "completed", "100%"],
        ["activation_layers9", "pending", "0%"],
    ]


def test_a_run_to_a_url_uploads_its_store(tiny_set: dict[str, Any]) -> None:
    fsspec = pytest.importorskip("fsspec")
    url = f"memory://sweep-{secrets.token_hex(4)}/runs"
    spec = parse_sweep({"name": "s", "set": tiny_set, "grid": {"seed": [0]}, "out": url})
    (run,) = expand(spec)
    assert read_state(url, run.name).state == "pending"
    for _ in range(2):  # the second time the remote store is replaced, not nested
        outcome = _run_one(run.config.to_json(), "", run.name, url)
        assert outcome == {"status": "completed", "reason": ""}
    fs = fsspec.filesystem("memory")
    root = url.removeprefix("memory://")
    assert fs.exists(f"{root}/seed0.zarr/zarr.json")
    assert not fs.exists(f"{root}/seed0.zarr/seed0.zarr")
    state = read_state(url, run.name)
    assert (state.state, state.progress) == ("completed", 1.0)
    fs.rm(url.rsplit("/", 1)[0], recursive=True)


# One throwaway token per test process: Ray reads the token once per process, so a second
# local cluster started with a new token would reject the driver (InvalidAuthToken).
RAY_TEST_TOKEN = secrets.token_hex(16)


@pytest.fixture
def ray_cluster_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Ray's token auth (on by default for local clusters since 2.59) with a throwaway token in
    the environment, so nothing is written to ~/.ray; Ray is always shut down afterwards."""
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)  # ray.init sets it: restored after
    monkeypatch.setenv("RAY_AUTH_TOKEN", RAY_TEST_TOKEN)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray")
    yield ray
    if ray.is_initialized():
        ray.shutdown()


def test_ray_sweep_on_a_local_cluster_completes_four_stores(
    ray_cluster_env: Any, tiny_sweep: dict[str, Any]
) -> None:
    spec = parse_sweep(tiny_sweep)
    printed: list[str] = []
    result = run_sweep(spec, executor="ray", address="local", echo=printed.append,
                       ray_init={"num_cpus": 2})  # fmt: skip
    assert not ray_cluster_env.is_initialized()  # the executor shut down what it started
    assert len(result.executed) == 4 and not result.failed, result.summary()
    combined = reawaken.open_runs(str(Path(spec.out) / "*.zarr"))
    assert combined.sizes["run"] == 4
    assert set(combined["status"].values) == {"completed"}
    assert sorted(combined["completed_steps"].values) == [12, 12, 12, 12]
    assert sorted(float(lr) for lr in combined["optimizer_lr"].values) == [0.1, 0.1, 0.5, 0.5]
    assert sum("completed" in line for line in printed[-1].splitlines()) == 4


# --- packing runs on GPUs ------------------------------------------------------------------


class FakeProcess:
    """Stands in for a ``reawaken run`` process: finishes after a few polls."""

    def __init__(self, command: list[str], *, env: dict[str, str] | None, **_: Any) -> None:
        self.env, self.polls, self.returncode = env, 0, None

    def poll(self) -> int | None:
        self.polls += 1
        if self.polls > 2:
            self.returncode = 0
        return self.returncode

    def wait(self) -> int:
        return 0


@pytest.mark.parametrize(
    ("visible", "share", "jobs", "most_per_gpu", "most_at_once"),
    [("0,1", 0.25, 8, 4, 8), ("0,1", 0.5, 8, 2, 4), ("3", 0.25, 2, 2, 2), ("0,1,2", 2, 4, 1, 1)],
)
def test_local_runs_share_the_visible_gpus(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tiny_set: dict[str, Any],
    visible: str,
    share: float,
    jobs: int,
    most_per_gpu: int,
    most_at_once: int,
) -> None:
    import reawaken.sweep.local as local

    started: list[FakeProcess] = []
    peak: dict[str, int] = {}

    def popen(command: list[str], **kwargs: Any) -> FakeProcess:
        process = FakeProcess(command, **kwargs)
        alive = [p for p in started if p.returncode is None] + [process]
        devices = [d for p in alive for d in p.env["CUDA_VISIBLE_DEVICES"].split(",")]
        for device in set(devices):
            peak[device] = max(peak.get(device, 0), devices.count(device))
        peak["all"] = max(peak.get("all", 0), len(alive))
        started.append(process)
        return process

    monkeypatch.setattr(local.subprocess, "Popen", popen)
    monkeypatch.setattr(local.time, "sleep", lambda _: None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    grid = {"seed": list(range(10))}
    spec = parse_sweep({"name": "p", "set": tiny_set, "grid": grid, "out": str(tmp_path),
                        "gpus_per_run": share})  # fmt: skip
    finished: list[str] = []
    local._run_local(spec, expand(spec), jobs, lambda name, failure: finished.append(name))
    assert len(finished) == 10
    gpus = visible.split(",")
    assert {p.env["CUDA_VISIBLE_DEVICES"] for p in started} <= {
        ",".join(gpus[i : i + int(max(share, 1))]) for i in range(len(gpus))
    }
    assert max(peak[g] for g in gpus if g in peak) == most_per_gpu
    assert peak["all"] == most_at_once


def test_a_gpu_share_needs_visible_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    from reawaken.sweep.local import GpuSlots

    with pytest.raises(ConfigError, match="sees no GPU"):
        GpuSlots([], 0.5)
    with pytest.raises(ConfigError, match="only 1 GPU"):
        GpuSlots(["0"], 2)
    with pytest.raises(ConfigError, match="whole number of GPUs"):
        parse_sweep({"name": "s", "gpus_per_run": 1.5})
    old = parse_sweep({"name": "s", "num_gpus": 0.5, "num_cpus": 2})  # the former names
    assert (old.gpus_per_run, old.cpus_per_run) == (0.5, 2)


def test_ray_packs_fractional_gpu_runs(ray_cluster_env: Any, tmp_path: Path) -> None:
    """A custom resource stands in for one GPU: at 0.25 a run, four run at once, never five."""
    from reawaken.sweep.ray_executor import task_options

    ray = ray_cluster_env
    ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
             num_cpus=8, resources={"fake_gpu": 1})  # fmt: skip
    spec = parse_sweep({"name": "p", "gpus_per_run": 0.25, "gpu_resource": "fake_gpu"})

    def probe(folder: str, name: str) -> int:
        import time
        from pathlib import Path

        mark = Path(folder) / name
        mark.touch()
        deadline = time.monotonic() + 60
        seen = 0
        while time.monotonic() < deadline:  # wait for the others that fit beside this one
            seen = max(seen, len(list(Path(folder).iterdir())))
            if seen >= 4:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        seen = max(seen, len(list(Path(folder).iterdir())))
        mark.unlink()
        return seen

    task = ray.remote(**task_options(spec))(probe)
    seen = ray.get([task.remote(str(tmp_path), f"run{i}") for i in range(5)])
    assert max(seen) == 4, seen
