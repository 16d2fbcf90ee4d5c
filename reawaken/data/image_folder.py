"""Labelled images for the image classifiers: an ImageNet-style folder or synthetic shapes.

A folder is laid out as torchvision's ``ImageFolder`` reads it, ``root/<class>/<image>``
(images may sit in subfolders of a class folder). A class folder's name says its class
index in the pretrained model's 1000 outputs:

* a WordNet id (``n01440764``) is its position in ImageNet-1k's sorted list of ids, which is
  torchvision's class order (``root`` = ImageNet's ``train`` or ``val`` folder with all
  1000 classes gives exactly ``ImageFolder``'s labels; a folder with some classes keeps
  each one's true index, where ``ImageFolder`` would renumber them 0, 1, ...);
* an integer (``207`` or ``0207``) is the index itself.

Images are decoded with Pillow and prepared as torchvision's evaluation transform of both
models' weights prepares a PIL image: resize (bilinear) so the shorter side is
``resize_size`` (the longer one rounded down), centre crop ``crop_size`` (offsets rounded
half to even, as Python's ``round``), scale to [0, 1], normalise with ImageNet's mean and std.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from reawaken.data.images import POOL_SIZE, SHAPES, synthetic_image, synthetic_image_id
from reawaken.errors import ConfigError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_SUFFIXES",
    "LabelledImages",
    "centre_crop",
    "class_index",
    "imagenet_wnids",
    "list_image_folder",
    "prepare_image",
    "read_image_folder",
    "resize_shorter",
    "resized_size",
    "synthetic_labelled_images",
]

#: torchvision's ``ImageFolder`` extensions (matched case-insensitively).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WNID = re.compile(r"n\d{8}")


@cache
def imagenet_wnids() -> tuple[str, ...]:
    """ImageNet-1k's 1000 WordNet ids in class-index order (sorted).

    Examples
    --------
    >>> wnids = imagenet_wnids()
    >>> len(wnids), wnids[0], wnids[207]  # 207: golden retriever
    (1000, 'n01440764', 'n02099601')
    """
    path = resources.files("reawaken.data") / "assets" / "imagenet_wnids.txt"
    return tuple(path.read_text().split())


def class_index(folder: str, num_classes: int) -> int:
    """The class index a class folder's name stands for (see the module's docstring).

    Examples
    --------
    >>> class_index("n01443537", 1000), class_index("0207", 1000)
    (1, 207)
    """
    if WNID.fullmatch(folder):
        try:
            index = imagenet_wnids().index(folder)
        except ValueError:
            raise ConfigError(
                f"class folder {folder!r} is not one of ImageNet-1k's 1000 WordNet ids"
            ) from None
    elif folder.isdigit():
        index = int(folder)
    else:
        raise ConfigError(
            f"class folder {folder!r} is neither an ImageNet WordNet id (n01440764) nor a "
            f"class index (0..{num_classes - 1}): name each class folder by one of them"
        )
    if index >= num_classes:
        raise ConfigError(
            f"class folder {folder!r} is class {index}, but the model has {num_classes} classes"
        )
    return index


def list_image_folder(root: str | Path, num_classes: int) -> list[tuple[str, int]]:
    """Every image under ``root`` as (path relative to ``root``, class index), in
    ``ImageFolder``'s order: class folders sorted by name, files sorted within each."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise ConfigError(
            f"config key 'data.source': image folder {str(root)!r} does not exist (give an "
            "ImageNet-style folder root/<class>/<image>, e.g. ImageNet's val folder)"
        )
    classes = sorted(entry.name for entry in os.scandir(base) if entry.is_dir())
    if not classes:
        raise ConfigError(
            f"config key 'data.source': image folder {str(root)!r} has no class folders "
            "(expected root/<class>/<image>, e.g. root/n01440764/ILSVRC2012_val_00000293.JPEG)"
        )
    images = []
    for name in classes:
        label = class_index(name, num_classes)
        for folder, _, files in sorted(os.walk(base / name, followlinks=True)):
            for file in sorted(files):
                if file.lower().endswith(IMAGE_SUFFIXES):
                    images.append(((Path(folder) / file).relative_to(base).as_posix(), label))
    return images


def resized_size(width: int, height: int, shorter: int) -> tuple[int, int]:
    """(width, height) with the shorter side ``shorter`` and the longer one rounded down.

    Examples
    --------
    >>> resized_size(500, 375, 256), resized_size(375, 500, 256), resized_size(4, 4, 2)
    ((341, 256), (256, 341), (2, 2))
    """
    short, long = min(width, height), max(width, height)
    new_long = int(shorter * long / short)
    return (shorter, new_long) if width <= height else (new_long, shorter)


def resize_shorter(image: Image.Image, shorter: int) -> Image.Image:
    """Bilinear resize to :func:`resized_size` (an image already that size is kept)."""
    size = resized_size(*image.size, shorter)
    return image if size == image.size else image.resize(size, Image.Resampling.BILINEAR)


def centre_crop(image: Image.Image, side: int) -> Image.Image:
    """The centred ``side`` x ``side`` square (offsets rounded half to even)."""
    width, height = image.size
    top, left = round((height - side) / 2.0), round((width - side) / 2.0)
    return image.crop((left, top, left + side, top + side))


def prepare_image(image: Image.Image, resize_size: int, crop_size: int) -> np.ndarray:
    """RGB, resized and centre-cropped, as (3, crop, crop) uint8; normalising comes later.

    Examples
    --------
    >>> image = Image.new("RGB", (40, 30), (255, 0, 10))
    >>> pixels = prepare_image(image, resize_size=16, crop_size=8)
    >>> pixels.shape, pixels[:, 0, 0].tolist()
    ((3, 8, 8), [255, 0, 10])
    """
    square = centre_crop(resize_shorter(image.convert("RGB"), resize_size), crop_size)
    return np.asarray(square, dtype=np.uint8).transpose(2, 0, 1).copy()


@dataclass(frozen=True)
class LabelledImages:
    """``pixels`` (image, 3, crop, crop) uint8, ``labels`` (image,) and each image's id."""

    pixels: np.ndarray
    labels: np.ndarray
    ids: list[str]


def _choose(count: int, wanted: int, selection: str, seed: int) -> np.ndarray:
    if selection == "first":
        return np.arange(wanted)
    return np.random.default_rng(seed).choice(count, size=wanted, replace=False)


def read_image_folder(
    root: str | Path,
    wanted: int,
    *,
    selection: str,
    seed: int,
    num_classes: int,
    resize_size: int,
    crop_size: int,
) -> LabelledImages:
    """``wanted`` images of an ImageNet-style folder, drawn as the authors did: at random
    (seeded; the authors' ``random.sample`` was not), in the order drawn, or the first ones."""
    images = list_image_folder(root, num_classes)
    if len(images) < wanted:
        raise ConfigError(
            f"config key 'data.source': image folder {str(root)!r} has {len(images)} images; "
            f"the run needs data.num_docs x data.images_per_doc = {wanted}"
        )
    chosen = [images[int(i)] for i in _choose(len(images), wanted, selection, seed)]
    base = Path(root).expanduser()
    pixels = []
    for relative, _ in chosen:
        try:
            with Image.open(base / relative) as image:
                pixels.append(prepare_image(image, resize_size, crop_size))
        except (UnidentifiedImageError, OSError) as error:
            raise ConfigError(f"cannot read image {base / relative}: {error}") from None
    labels = np.array([label for _, label in chosen], dtype=np.int64)
    return LabelledImages(np.stack(pixels), labels, [relative for relative, _ in chosen])


def synthetic_labelled_images(
    wanted: int, *, selection: str, seed: int, size: int, resize_size: int, crop_size: int
) -> LabelledImages:
    """Seeded synthetic images (:mod:`reawaken.data.images`), labelled by their shape:
    class k = ``SHAPES[k]`` (disc 0, square 1, triangle 2, stripes 3, ring 4).

    Examples
    --------
    >>> batch = synthetic_labelled_images(
    ...     3, selection="first", seed=0, size=8, resize_size=8, crop_size=8)
    >>> batch.pixels.shape, batch.labels.tolist(), batch.ids[2]
    ((3, 3, 8, 8), [0, 1, 2], 'synthetic:00002:triangle')
    """
    chosen = [int(i) for i in _choose(POOL_SIZE, wanted, selection, seed)]
    pixels = [
        prepare_image(Image.fromarray(synthetic_image(i, size)), resize_size, crop_size)
        for i in chosen
    ]
    labels = np.array([i % len(SHAPES) for i in chosen], dtype=np.int64)  # image i's shape
    return LabelledImages(np.stack(pixels), labels, [synthetic_image_id(i) for i in chosen])
