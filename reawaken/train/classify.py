"""Image classification (paper Fig. 7b) as a workload: a document is one batch of images.

A run of ``torchvision:vgg19`` or ``torchvision:vit_b_16`` writes the same store as a language
model's: ``loss`` (step, doc) is each batch's mean cross-entropy in eval mode (as the authors
evaluated), ``train_loss`` the training forward's (train mode: VGG's dropout is on, as in the
authors' script), ``activation`` each batch's mean features at the chosen layers
(:class:`reawaken.models.vision.VGG`, :class:`~reawaken.models.vision.VisionTransformer`),
``tokens`` (doc, token) the class labels of each batch's images and ``n_tokens`` their
number; ``source_id`` lists the batch's images (paths relative to the folder), ``|``-joined.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from reawaken.config import RunConfig
from reawaken.data.image_folder import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LabelledImages,
    read_image_folder,
    synthetic_labelled_images,
)
from reawaken.errors import ConfigError
from reawaken.models.classifiers import LoadedClassifier, load_classifier
from reawaken.train.device import autocast
from reawaken.train.evaluate import Evaluation

__all__ = ["ClassifierWorkload", "normalise", "read_labelled_images"]


def normalise(pixels: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 (..., 3, H, W) -> (x / 255 - mean) / std per channel, ImageNet's mean and std.

    Examples
    --------
    >>> value = normalise(torch.full((1, 3, 1, 1), 255, dtype=torch.uint8))
    >>> [round(v, 4) for v in value.flatten().tolist()]
    [2.2489, 2.4286, 2.64]
    """
    mean = torch.tensor(IMAGENET_MEAN, device=pixels.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=pixels.device).view(3, 1, 1)
    return ((pixels.float() / 255 - mean) / std).to(dtype)


def _refuse_language_only(config: RunConfig) -> None:
    """Keys that act on token sequences or transformer blocks mean nothing here: say so."""
    model, noise = config.model, config.noise
    given = {
        "noise.mask_prob": noise.mask_prob > 0,
        "noise.window_size": noise.window_size is not None,
        "noise.window_shift": noise.window_shift is not None,
        "model.lora": model.lora is not None,
        "model.freeze_first_blocks": model.freeze_first_blocks > 0,
        "model.freeze_last_blocks": model.freeze_last_blocks > 0,
        "model.freeze_embeddings": model.freeze_embeddings,
        "model.architecture": any(v is not None for v in model.architecture.model_dump().values()),
        "data.heldout_field": config.data.heldout_field is not None,
        "probes.token_loss": config.probes.token_loss,
    }
    used = [key for key, on in given.items() if on]
    if used:
        raise ConfigError(
            f"config key {used[0]!r} does not apply to an image classifier ({model.name}); "
            "leave it unset (sizes of the classifier: model.vision)"
        )


def read_labelled_images(config: RunConfig) -> LabelledImages:
    """T x B images (``data.num_docs`` x ``data.images_per_doc``) of the configured source."""
    data, vision = config.data, config.model.vision
    options = {
        "selection": data.selection,
        "seed": config.seed if data.sample_seed is None else data.sample_seed,
        "resize_size": vision.resize_size,
        "crop_size": vision.crop_size,
    }
    wanted = data.num_docs * data.images_per_doc
    if data.source == "synthetic_images":
        return synthetic_labelled_images(wanted, size=data.image_size, **options)
    return read_image_folder(data.source, wanted, num_classes=vision.num_classes, **options)


class ClassifierWorkload:
    """T batches of B images and a classifier; one step = mean cross-entropy of a batch.

    Examples
    --------
    >>> from reawaken.config import load_config
    >>> config = load_config(overrides=[
    ...     "model.name=torchvision:vit_b_16", "model.pretrained=false",
    ...     "model.vision.width_divisor=64", "model.vision.crop_size=16",
    ...     "model.vision.resize_size=16", "data.source=synthetic_images",
    ...     "data.num_docs=2", "data.images_per_doc=3"])
    >>> work = ClassifierWorkload.build(config)
    >>> len(work), work.n_tokens.tolist(), work.token_matrix().shape, work.hidden_size
    (2, [3, 3], (2, 3), 12)
    """

    threads = None  # torch's default
    num_heldout_docs = 0

    def __init__(self, config: RunConfig, loaded: LoadedClassifier, images: LabelledImages):
        self.config = config
        self.model = loaded.model
        self.device = loaded.device
        self.info = loaded.info
        self.dtype = next(self.model.parameters()).dtype
        num_docs, per_doc = config.data.num_docs, config.data.images_per_doc
        self.pixels = torch.from_numpy(images.pixels).to(self.device)
        self.pixels = self.pixels.view(num_docs, per_doc, *self.pixels.shape[1:])
        self.labels = torch.from_numpy(images.labels).to(self.device).view(num_docs, per_doc)
        self.source_ids = [
            "|".join(images.ids[doc * per_doc : (doc + 1) * per_doc]) for doc in range(num_docs)
        ]
        self.n_tokens = np.full(num_docs, per_doc, dtype=np.int32)
        self.hidden_size = int(self.model.hidden_size)
        self.num_layers = int(self.model.num_layers)

    @classmethod
    def build(cls, config: RunConfig) -> ClassifierWorkload:
        """Read the images (a bad folder fails before the model loads), then the model."""
        _refuse_language_only(config)
        images = read_labelled_images(config)
        return cls(config, load_classifier(config.model, seed=config.seed), images)

    def __len__(self) -> int:
        return len(self.source_ids)

    def token_matrix(self) -> np.ndarray:
        return self.labels.cpu().numpy().astype(np.int32)

    def _loss(self, doc: int, layers: Sequence[int] = ()) -> tuple[torch.Tensor, Any]:
        inputs = normalise(self.pixels[doc], self.dtype)
        with autocast(self.device, self.config.model.autocast):
            logits, features = self.model.classify(inputs, layers)
        return F.cross_entropy(logits.float(), self.labels[doc]), features

    def training_loss(self, doc: int) -> torch.Tensor:
        return self._loss(doc)[0]

    def after_update(self, doc: int) -> None:
        return None

    @torch.inference_mode()
    def evaluate(self, layers: Sequence[int], *, token_losses: bool = False) -> Evaluation:
        """Every batch's mean cross-entropy in eval mode; at ``layers`` the batch's mean
        features. Images have no tokens, so ``token_losses`` gives none."""
        was_training = self.model.training
        self.model.eval()
        losses, activations = [], []
        try:
            for doc in range(len(self)):
                loss, features = self._loss(doc, layers)
                losses.append(loss)
                if layers:
                    activations.append(features.float().mean(0))  # (layer, hidden)
        finally:
            self.model.train(was_training)
        activation = torch.stack(activations) if layers else None
        return Evaluation(torch.stack(losses), activation)

    def evaluate_heldout(self) -> torch.Tensor | None:
        return None

    def document_loss(self, doc: int) -> torch.Tensor:
        return self._loss(doc)[0]

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
