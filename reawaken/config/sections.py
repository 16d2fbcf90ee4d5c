"""The configuration sections: typed, validated pydantic models, one per config key group.

Paper symbols: T = ``data.num_docs``, C = ``data.context_length``, M =
``schedule.steps_per_doc``, E = ``schedule.num_epochs``. The defaults are the paper's default
setting (T=25, C=256, M=10, E=5, SGD at lr 1e-3, every document evaluated after each
document); the CPU demo's smaller setting is the ``default`` preset, for the built-in model.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from reawaken.config.base import Section as _Section
from reawaken.config.vision import VISION_MODELS, VisionConfig, is_vision

__all__ = [
    "BUILTIN_MODELS",
    "GENERATED_SOURCES",
    "LOCAL_DATA_SUFFIXES",
    "TOY_MODELS",
    "VISION_MODELS",
    "Architecture",
    "CheckpointConfig",
    "DataConfig",
    "EvaluationConfig",
    "LoraConfig",
    "ModelConfig",
    "NoiseConfig",
    "OptimizerConfig",
    "ProbeConfig",
    "RunConfig",
    "ScheduleConfig",
    "ToyConfig",
    "VisionConfig",
    "is_builtin",
    "stored_total_steps",
]

BUILTIN_MODELS = ("builtin:tiny-neox",)
#: Model names of the paper's linear toy model (§4.4): f_i(w) = w, or f_i(w) = y_i - w.
TOY_MODELS = ("toy:identity", "toy:inverse")
#: ``data.source`` values that name a generated (not read) data set.
GENERATED_SOURCES = ("builtin", "synthetic_images", "toy")
LOCAL_DATA_SUFFIXES = (".jsonl", ".json", ".txt")
#: Seeds are non-negative and fit numpy's and torch's generators (the sketch adds 7919).
MAX_SEED = 2**32 - 1
# Mixed into the seed so the one-off counts' random stream differs from the order's and the
# document sampling's, which draw from the same run seed.
ONE_OFF_STREAM = 0x1E7


class Architecture(_Section):
    """Overrides of the model's architecture when it is built from its config (random init)."""

    hidden_size: int | None = Field(None, ge=8, description="width d")
    num_layers: int | None = Field(None, ge=1, description="number of transformer blocks")
    num_heads: int | None = Field(None, ge=1, description="attention heads")
    intermediate_size: int | None = Field(None, ge=8, description="MLP width (Pythia: 4d)")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> Architecture:
        if self.hidden_size and self.num_heads and self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}"
            )
        return self


class LoraConfig(_Section):
    """Low-rank adapters (LoRA, via ``peft``): only the adapters train, the base stays fixed."""

    rank: int = Field(8, ge=1, description="rank r of each adapter")
    alpha: float = Field(16.0, gt=0, description="scale numerator: updates are scaled alpha / r")
    target_modules: tuple[str, ...] | None = Field(
        None, description="module names to adapt (default: peft's choice for the model type)"
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the adapter input")


def is_builtin(name: str) -> bool:
    """Whether a model name is a built-in model (built from config, no weights to load)."""
    return name.startswith("builtin:")


class ToyConfig(_Section):
    """Sizes of the linear toy model (``model.name: toy:identity`` or ``toy:inverse``).

    Task i's input x_i ~ Unif(-s, s)^N. One SGD step on task i multiplies the error along
    x_i by 1 - lr ||x_i||^2, with ||x_i||^2 about N s^2 / 3: the run diverges once
    lr N s^2 / 3 > 2 (the paper's Fig. 10a settings, N = 1000, lr 0.01, s = 1, give 3.3).
    """

    input_size: int = Field(100, ge=1, description="N, size of each task's input x_i")
    embedding_size: int = Field(
        100, ge=1, description="the paper's M (not steps_per_doc): rows of P, size of w"
    )
    input_scale: float = Field(1.0, gt=0, description="s: x_i ~ Unif(-s, s)^N")
    init_std: float | None = Field(None, gt=0, description="std of P's entries (default 1/N)")


class ModelConfig(_Section):
    name: str = Field(
        "builtin:tiny-neox",
        description="hub id (EleutherAI/pythia-1b), local directory, local .gguf file, "
        "builtin:tiny-neox, the toy model toy:identity / toy:inverse, or an image classifier "
        "torchvision:vgg19 / torchvision:vit_b_16",
    )
    revision: str = Field("main", description="hub revision, e.g. step0 for Pythia's init")
    pretrained: bool = Field(
        True,
        description="load weights; false builds from config (default: true for a named "
        "model, false for a built-in one, which has no weights)",
    )
    resize_to_tokenizer: bool = Field(
        True,
        description="resize the (un)embedding to len(tokenizer) rows, as the authors' scripts "
        "do (Pythia: 50,304 -> 50,277 logits)",
    )
    architecture: Architecture = Field(default_factory=Architecture)
    init_scheme: Literal["auto", "pythia", "default"] = Field(
        "auto",
        description="init of config-built models: Pythia's rescaling or HF default (auto: "
        "pythia for GPT-NeoX, default for other families)",
    )
    dtype: Literal["float32", "bfloat16"] = "float32"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    autocast: Literal["none", "bf16"] = Field(
        "none", description="bf16 autocast on CUDA, training and evaluation (a no-op on CPU)"
    )
    tf32: bool = Field(
        False, description="TF32 for float32 matmuls on CUDA (a no-op on CPU; paper runs: false)"
    )
    compile: bool = Field(
        False, description="torch.compile the transformer (train step and evaluation)"
    )
    disable_dropout: bool = Field(
        False, description="set every dropout probability to 0 (the paper's Image GPT runs)"
    )
    freeze_first_blocks: int = Field(0, ge=0, description="freeze the first N transformer blocks")
    freeze_last_blocks: int = Field(0, ge=0, description="freeze the last N transformer blocks")
    freeze_embeddings: bool = Field(
        False, description="freeze the input token (and position) embeddings"
    )
    lora: LoraConfig | None = Field(None, description="train LoRA adapters only (needs peft)")
    toy: ToyConfig = Field(default_factory=ToyConfig, description="the toy model's sizes")
    vision: VisionConfig = Field(
        default_factory=VisionConfig, description="the image classifiers' weights and sizes"
    )

    @property
    def is_toy(self) -> bool:
        """A toy model name (``toy:...``; unknown ones are refused by name when loading)."""
        return self.name.startswith("toy:")

    @property
    def is_vision(self) -> bool:
        """An image classifier's name (``torchvision:...``; unknown ones are refused)."""
        return is_vision(self.name)

    @model_validator(mode="before")
    @classmethod
    def _pretrained_follows_the_name(cls, data: Any) -> Any:
        """Naming a model means its weights; only an explicit ``pretrained`` says otherwise."""
        if isinstance(data, dict) and data.get("pretrained") is None:
            data = {**data, "pretrained": not is_builtin(str(data.get("name", BUILTIN_MODELS[0])))}
        return data


class DataConfig(_Section):
    source: str = Field(
        "builtin",
        description="builtin corpus, synthetic_images, toy (the toy model's tasks), a local "
        ".jsonl/.txt file or folder, or a Hugging Face dataset name such as cnn_dailymail",
    )
    dataset_config: str | None = Field(None, description="HF dataset config, e.g. 3.0.0")
    split: str = "train"
    text_field: str = Field("text", description="field holding the document text")
    num_docs: int = Field(25, ge=2, description="T, documents in the cycle")
    context_length: int = Field(256, ge=2, description="C, tokens per document (block size)")
    selection: Literal["random", "first"] = "random"
    sample_seed: int | None = Field(
        None, ge=0, le=MAX_SEED, description="seed for drawing documents (default: seed)"
    )
    heldout_field: str | None = Field(
        None, description="second field of the same documents, evaluated into heldout_loss"
    )
    image_size: int = Field(32, ge=2, le=256, description="side of synthetic images in pixels")
    images_per_doc: int = Field(
        32, ge=1, description="images in one document (one batch) of an image classifier"
    )
    documents: Literal["records", "wikitext_articles"] = Field(
        "records",
        description="records: each record (JSONL line, dataset row, blank-line-separated block "
        "of a .txt file) is a document; wikitext_articles: the records are wikitext lines, "
        "joined into one document per article (split at top-level ' = Title = ' headings)",
    )


class ScheduleConfig(_Section):
    order: Literal["cyclic", "shuffled", "fixed_permutation", "reversed"] = Field(
        "cyclic",
        description="cyclic; shuffled (new order every epoch); fixed_permutation (one seeded "
        "order every epoch); reversed (every other epoch backwards)",
    )
    fixed_prefix: int = Field(
        0, ge=0, description="the first K documents keep their places in every epoch"
    )
    shuffle_end: int | None = Field(
        None, ge=1, description="positions from here on keep their places (default: T)"
    )
    order_seed: int | None = Field(
        None, ge=0, le=MAX_SEED, description="seed of the order (default: seed)"
    )
    steps_per_doc: int = Field(10, ge=1, description="M, gradient steps per document")
    num_epochs: int = Field(5, ge=1, description="E, passes over the documents")
    one_offs: tuple[int, int] | None = Field(
        None,
        description="[low, high]: every epoch, after its T documents, a number drawn from "
        "low..high (inclusive) of fresh documents, each trained once and never evaluated "
        "(paper Fig. 18: [20, 100]); null = none",
    )

    @field_validator("one_offs")
    @classmethod
    def _one_off_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if (value is not None and not 0 <= value[0] <= value[1]) or value == (0, 0):
            raise ValueError(
                "must be [low, high] (fresh documents per epoch) with 0 <= low <= high and "
                f"high >= 1, got {list(value or ())}"
            )
        return value

    def reordered_range(self, num_docs: int) -> tuple[int, int]:
        """Positions ``[start, end)`` that the order changes (the rest stay cyclic)."""
        return self.fixed_prefix, self.shuffle_end or num_docs

    def one_off_counts(self, seed: int) -> np.ndarray:
        """Fresh (one-off) documents trained after each epoch's T documents; zeros without
        ``one_offs``. Seeded by ``order_seed`` (default ``seed``).

        Examples
        --------
        >>> ScheduleConfig(num_epochs=3).one_off_counts(seed=0).tolist()
        [0, 0, 0]
        >>> counts = ScheduleConfig(num_epochs=3, one_offs=(20, 100)).one_off_counts(seed=0)
        >>> bool(((20 <= counts) & (counts <= 100)).all()), len(counts)
        (True, 3)
        """
        if self.one_offs is None:
            return np.zeros(self.num_epochs, dtype=np.int64)
        low, high = self.one_offs
        order_seed = seed if self.order_seed is None else self.order_seed
        rng = np.random.default_rng([ONE_OFF_STREAM, order_seed])
        return rng.integers(low, high, size=self.num_epochs, endpoint=True, dtype=np.int64)

    def epoch_lengths(self, num_docs: int, seed: int) -> np.ndarray:
        """Documents trained in each epoch: T, plus that epoch's one-offs.

        Examples
        --------
        >>> ScheduleConfig(num_epochs=2).epoch_lengths(num_docs=4, seed=0).tolist()
        [4, 4]
        """
        return num_docs + self.one_off_counts(seed)


class OptimizerConfig(_Section):
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    reset_per_doc: bool = Field(False, description="fresh optimiser state for every document")
    clip_grad_norm: float | None = Field(
        None, gt=0, description="clip the gradient's global L2 norm to this (off in the paper)"
    )
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="constant, or cosine decay to min_lr over the whole run"
    )
    min_lr: float = Field(0.0, ge=0, description="lr at the end of a cosine schedule")
    warmup_steps: int = Field(
        0, ge=0, description="linear warm-up length, in units of schedule_unit"
    )
    schedule_unit: Literal["step", "doc"] = Field(
        "step", description="the lr changes every gradient step, or once per document block"
    )

    @model_validator(mode="after")
    def _min_below_lr(self) -> OptimizerConfig:
        if self.min_lr > self.lr:
            raise ValueError(f"optimizer.min_lr {self.min_lr:g} must not exceed lr {self.lr:g}")
        return self


class NoiseConfig(_Section):
    """Perturbations of the training inputs (paper Fig. 4); evaluation stays clean."""

    mask_prob: float = Field(
        0.0, ge=0, lt=1, description="fraction p of input tokens replaced at every step"
    )
    mask_token: int | None = Field(
        None, ge=0, description="id written into masked inputs (default: the pad id, Pythia 0)"
    )
    window_size: int | None = Field(
        None, ge=2, description="tokens evaluated and trained per document (default C/2)"
    )
    window_shift: int | None = Field(
        None, ge=0, description="W: train on the centre window shifted by s ~ U{-W..W}"
    )

    @property
    def windowed(self) -> bool:
        return self.window_shift is not None or self.window_size is not None


class EvaluationConfig(_Section):
    every: Literal["step", "doc"] = Field("doc", description="evaluate all documents after")
    batch_size: int | None = Field(
        None,
        ge=1,
        description="documents per forward (default: ~1,280 tokens' worth on CPU; on CUDA, as "
        "many as free memory holds)",
    )
    chunk_tokens: int | None = Field(
        None, ge=1, description="tokens per unembedding chunk (default: 256 MiB of logits)"
    )


class ProbeConfig(_Section):
    snapshot_every: Literal["doc", "epoch", "never"] = "doc"
    activation_layers: tuple[int, ...] = Field(
        (-1,), description="hidden-state layers to store (-1 = final, after the last norm)"
    )
    weights: tuple[str, ...] = Field(
        (),
        description="parameter names copied into `weight`; `unembedding` names the output "
        "embedding in every model family",
    )
    sketch_size: int = Field(256, ge=0, description="random-projection size (0 = off)")
    grad_sketch: bool = False
    token_loss: bool = Field(
        False, description="store every token's loss of every document at each snapshot"
    )


class CheckpointConfig(_Section):
    every: Literal["auto", "doc", "epoch", "never"] = Field(
        "auto",
        description="auto: at the first document boundary `interval` seconds after the last "
        "checkpoint, and at the end of the run",
    )
    interval: float = Field(300.0, gt=0, description="seconds between checkpoints with every: auto")
    keep: int = Field(2, ge=1, description="newest checkpoints kept")
    keep_epochs: tuple[int, ...] = Field(
        (),
        description="also keep the checkpoint after each of these epochs (1 = after the first), "
        "whatever `every` says: `reawaken pairwise RUN --epoch N` starts from it",
    )


class RunConfig(_Section):
    """The whole configuration of one run (see the README for every key)."""

    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of init, documents and order")
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads of torch (default: $OMP_NUM_THREADS, else the machine's cores)",
    )
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    noise: NoiseConfig = Field(default_factory=NoiseConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    probes: ProbeConfig = Field(default_factory=ProbeConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)

    @model_validator(mode="after")
    def _fits_the_documents(self) -> RunConfig:
        """Checks that need two sections: order and window against T and C."""
        num_docs, context = self.data.num_docs, self.data.context_length
        schedule = self.schedule
        if self.model.is_toy != (self.data.source == "toy"):
            raise ValueError(
                "the toy model (model.name toy:identity or toy:inverse) and data.source 'toy' "
                f"go together; got model.name {self.model.name!r} with data.source "
                f"{self.data.source!r}"
            )
        if schedule.one_offs is not None and self.model.is_toy:
            raise ValueError(
                "schedule.one_offs needs documents to draw fresh ones from; the toy model's "
                "tasks are fixed (set schedule.one_offs to null)"
            )
        if schedule.fixed_prefix >= num_docs:
            raise ValueError(
                f"schedule.fixed_prefix {schedule.fixed_prefix} must be below data.num_docs "
                f"{num_docs}"
            )
        start, end = schedule.reordered_range(num_docs)
        if not start < end <= num_docs:
            raise ValueError(
                f"schedule.shuffle_end {end} must be above schedule.fixed_prefix {start} and "
                f"at most data.num_docs {num_docs}"
            )
        noise = self.noise
        if noise.windowed:
            window = self.window_size
            if not 2 <= window <= context:
                raise ValueError(
                    f"noise.window_size {window} must be at least 2 and at most "
                    f"data.context_length {context}"
                )
            room = (context - window) // 2
            if (noise.window_shift or 0) > room:
                raise ValueError(
                    f"noise.window_shift {noise.window_shift} must be at most "
                    f"(context_length - window_size) // 2 = {room}, so every shifted window "
                    "fits in the document"
                )
        late = [e for e in self.checkpoint.keep_epochs if not 1 <= e <= schedule.num_epochs]
        if late:
            raise ValueError(
                f"checkpoint.keep_epochs {late} must lie in 1..schedule.num_epochs "
                f"{schedule.num_epochs} (N = the checkpoint after the N-th epoch)"
            )
        optimizer = self.optimizer
        units = self.total_steps
        if optimizer.schedule_unit == "doc":
            units = self.total_steps // schedule.steps_per_doc
        if optimizer.warmup_steps > units:
            raise ValueError(
                f"optimizer.warmup_steps {optimizer.warmup_steps} exceeds the run's {units} "
                f"{optimizer.schedule_unit}s (optimizer.schedule_unit)"
            )
        return self

    @property
    def window_size(self) -> int:
        """Tokens per evaluated (and trained) window: ``noise.window_size`` or C/2."""
        return self.noise.window_size or self.data.context_length // 2

    @property
    def total_steps(self) -> int:
        """Gradient steps of the run: E * T * M, plus M for every one-off document."""
        lengths = self.schedule.epoch_lengths(self.data.num_docs, self.seed)
        return int(lengths.sum()) * self.schedule.steps_per_doc

    @property
    def num_one_offs(self) -> int:
        """One-off documents over the whole run (``schedule.one_offs``; 0 without)."""
        return int(self.schedule.one_off_counts(self.seed).sum())

    @property
    def epoch_end_steps(self) -> np.ndarray:
        """The last step of each epoch (epochs differ in length with one-off documents).

        Examples
        --------
        >>> config = RunConfig.model_validate(
        ...     {"data": {"num_docs": 3}, "schedule": {"steps_per_doc": 2, "num_epochs": 2}})
        >>> config.epoch_end_steps.tolist()
        [6, 12]
        """
        lengths = self.schedule.epoch_lengths(self.data.num_docs, self.seed)
        return np.cumsum(lengths) * self.schedule.steps_per_doc

    def steps_between(self, every: str) -> int | None:
        """Steps between two events that happen every ``doc`` (M) or ``epoch`` (T*M); None
        for any other cadence (``never``, ``auto``, ...) and for ``epoch`` when one-off
        documents make epochs differ in length (use :attr:`epoch_end_steps`).

        Examples
        --------
        >>> config = RunConfig.model_validate(
        ...     {"data": {"num_docs": 3}, "schedule": {"steps_per_doc": 2}})
        >>> [config.steps_between(every) for every in ("doc", "epoch", "never")]
        [2, 6, None]
        """
        steps_per_doc = self.schedule.steps_per_doc
        if every == "epoch" and self.schedule.one_offs is not None:
            return None
        return {"doc": steps_per_doc, "epoch": steps_per_doc * self.data.num_docs}.get(every)

    def to_json(self) -> str:
        """The resolved configuration as the JSON stored in a run's attributes."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        from reawaken.config.loading import build_config  # loading builds on these sections

        return build_config(json.loads(text))


def stored_total_steps(config: dict[str, Any]) -> int:
    """Gradient steps of the run whose resolved config (a store's ``config`` attribute, as a
    dict) is ``config``: E*T*M plus M per one-off document; 0 where it lacks the sizes.

    Examples
    --------
    >>> stored_total_steps({"data": {"num_docs": 3},
    ...                     "schedule": {"steps_per_doc": 2, "num_epochs": 4}})
    24
    >>> stored_total_steps({})
    0
    """
    schedule, data = config.get("schedule", {}), config.get("data", {})
    try:
        parsed = ScheduleConfig.model_validate(schedule)
        num_docs = int(data["num_docs"])
        lengths = parsed.epoch_lengths(num_docs, int(config.get("seed", 0)))
    except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
        return 0
    return int(lengths.sum()) * parsed.steps_per_doc
