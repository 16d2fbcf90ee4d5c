"""Variant keys: validated against each other before any work, errors name the keys."""

from __future__ import annotations

import pytest

from reawaken.config import load_config
from reawaken.errors import ConfigError

BAD = [
    (["schedule.order=sorted"], "'cyclic', 'shuffled', 'fixed_permutation' or 'reversed'"),
    (["data.num_docs=4", "schedule.fixed_prefix=4"], "schedule.fixed_prefix 4 must be below"),
    (["data.num_docs=4", "schedule.shuffle_end=6"], "schedule.shuffle_end 6 must be above"),
    (["schedule.fixed_prefix=3", "schedule.shuffle_end=2"], "schedule.shuffle_end 2 must be"),
    (["noise.mask_prob=1.0"], "config key 'noise.mask_prob': Input should be less than 1"),
    (
        ["data.context_length=64", "noise.window_shift=20"],
        "noise.window_shift 20 must be at most (context_length - window_size) // 2 = 16",
    ),
    (
        ["data.context_length=64", "noise.window_size=80"],
        "noise.window_size 80 must be at least 2 and at most",
    ),
    (["optimizer.min_lr=0.1", "optimizer.lr=0.01"], "optimizer.min_lr 0.1 must not exceed lr"),
    (["optimizer.warmup_steps=1000"], "optimizer.warmup_steps 1000 exceeds the run's 250 steps"),
    (["model.lora.rnak=4"], "unknown config key 'model.lora.rnak'; allowed here: rank, alpha"),
    (["model.freeze_first_blocks=-1"], "config key 'model.freeze_first_blocks'"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD)
def test_bad_variant_settings_name_the_keys(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(overrides=overrides)
    assert message in str(error.value)


def test_variant_keys_round_trip_and_defaults_keep_the_plain_run() -> None:
    plain = load_config()
    assert plain.schedule.order == "cyclic" and plain.noise.mask_prob == 0
    assert plain.optimizer.lr_schedule == "constant" and plain.model.lora is None
    config = load_config(
        overrides=[
            "schedule.order=shuffled",
            "schedule.fixed_prefix=1",
            "noise.window_shift=16",
            "model.lora.rank=4",
            "optimizer.lr_schedule=cosine",
        ]
    )
    assert config.model.lora is not None and config.model.lora.rank == 4
    assert config.window_size == config.data.context_length // 2
    assert type(config).from_json(config.to_json()) == config
