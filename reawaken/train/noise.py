"""Seeded perturbations of training inputs: random token masking and shifted windows (Fig. 4).

Both draw from one CPU ``torch.Generator`` seeded from the run seed, independent of the device
and of torch's global stream; its state goes into every checkpoint, so a resumed run draws
the same masks and shifts as an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import torch

from reawaken.config import RunConfig

__all__ = ["TrainingNoise", "centre_window"]

NOISE_SEED_OFFSET = 15_485_863  # the noise stream differs from the run's, yet follows from it


def centre_window(length: int, size: int) -> tuple[int, int]:
    """``(start, stop)`` of the centre ``size`` tokens of a ``length``-token document.

    For C = 512 and size 256 this is the paper's evaluation window [C/4, 3C/4).

    Examples
    --------
    >>> centre_window(512, 256)
    (128, 384)
    >>> centre_window(10, 256)  # a short document is used whole
    (0, 10)
    """
    size = min(size, length)
    start = (length - size) // 2
    return start, start + size


class TrainingNoise:
    """Applies ``config.noise`` to one training example per call, drawing fresh randomness.

    * Window (``window_shift`` set): train on the centre window moved by s ~ U{-W..W}
      (limited to shifts that keep the window inside the document); inputs and labels are
      cut the same way.
    * Masking (``mask_prob`` p > 0): each input position independently becomes ``mask_token``
      with probability p. Labels keep the original ids, so the model still predicts the true
      next token from a corrupted context (the authors' ``_randommask.py``).

    Examples
    --------
    >>> from reawaken.config import load_config
    >>> config = load_config(overrides=["noise.mask_prob=0.5", "data.context_length=8"])
    >>> noise = TrainingNoise(config, pad_id=0)
    >>> inputs, labels = noise(torch.arange(1, 9)[None])
    >>> labels.tolist()
    [[1, 2, 3, 4, 5, 6, 7, 8]]
    >>> sorted(set(inputs[0].tolist()) - set(labels[0].tolist()))  # masked positions
    [0]
    """

    def __init__(self, config: RunConfig, *, pad_id: int) -> None:
        noise = config.noise
        self.mask_prob = noise.mask_prob
        self.mask_token = pad_id if noise.mask_token is None else noise.mask_token
        self.window_shift = noise.window_shift
        self.window_size = config.window_size if noise.windowed else None
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(config.seed + NOISE_SEED_OFFSET)

    @property
    def active(self) -> bool:
        """Whether training inputs differ from the stored documents at all."""
        return self.mask_prob > 0 or self.window_size is not None

    def shift(self, length: int) -> tuple[int, int]:
        """Draw the training window ``(start, stop)`` of a ``length``-token document."""
        assert self.window_size is not None
        start, stop = centre_window(length, self.window_size)
        reach = self.window_shift or 0
        low, high = max(-reach, -start), min(reach, length - stop)
        offset = low + int(torch.randint(high - low + 1, (1,), generator=self.generator))
        return start + offset, stop + offset

    def __call__(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs, labels)`` for one step on ``input_ids`` of shape (1, tokens)."""
        labels = input_ids
        if self.window_size is not None:
            start, stop = self.shift(input_ids.shape[1])
            labels = input_ids[:, start:stop]
        inputs = labels
        if self.mask_prob > 0:
            draw = torch.rand(labels.shape, generator=self.generator)
            masked = (draw < self.mask_prob).to(labels.device)
            inputs = labels.masked_fill(masked, self.mask_token)
        return inputs, labels

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
