"""ImageNet-style folders: class indices from folder names, torchvision's preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reawaken.cli import main
from reawaken.data.image_folder import (
    centre_crop,
    class_index,
    imagenet_wnids,
    list_image_folder,
    prepare_image,
    read_image_folder,
    resize_shorter,
    resized_size,
)
from reawaken.errors import ConfigError
from reawaken.train.classify import normalise


def save(path: Path, size: tuple[int, int] = (6, 4), colour: tuple[int, int, int] = (1, 2, 3)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_wordnet_ids_follow_torchvisions_class_order() -> None:
    wnids = imagenet_wnids()
    assert len(set(wnids)) == 1000 and list(wnids) == sorted(wnids)
    # ImageNet-1k indices every torchvision user knows: 0 tench, 1 goldfish, 207 golden
    # retriever, 281 tabby cat, 999 toilet tissue.
    known = {0: "n01440764", 1: "n01443537", 207: "n02099601", 281: "n02123045", 999: "n15075141"}
    assert {index: wnids[index] for index in known} == known
    assert [class_index(w, 1000) for w in known.values()] == list(known)
    assert class_index("0281", 1000) == 281 and class_index("3", 5) == 3


@pytest.mark.parametrize(
    ("folder", "classes", "problem"),
    [
        ("cats", 1000, "neither an ImageNet WordNet id"),
        ("n00000001", 1000, "not one of ImageNet-1k's 1000 WordNet ids"),
        ("1000", 1000, "is class 1000, but the model has 1000 classes"),
        ("n01443537", 1, "is class 1, but the model has 1 classes"),
    ],
)
def test_bad_class_folders_are_named(folder: str, classes: int, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        class_index(folder, classes)


def test_folder_lists_images_in_imagefolders_order_with_true_class_indices(tmp_path: Path) -> None:
    save(tmp_path / "n01443537" / "b.png")
    save(tmp_path / "n01443537" / "a.PNG")  # extensions match in any case
    save(tmp_path / "n01440764" / "deeper" / "c.jpg")
    save(tmp_path / "0207" / "d.bmp")
    (tmp_path / "0207" / "notes.txt").write_text("not an image")
    assert list_image_folder(tmp_path, 1000) == [
        ("0207/d.bmp", 207),  # sorted folder names: "0207" < "n0144..." < "n0144...7"
        ("n01440764/deeper/c.jpg", 0),
        ("n01443537/a.PNG", 1),  # ImageFolder would say 2: it numbers the folders it finds
        ("n01443537/b.png", 1),
    ]


def test_missing_empty_or_small_folders_are_one_line_errors(tmp_path: Path) -> None:
    for root, problem in ((tmp_path / "nope", "does not exist"), (tmp_path, "no class folders")):
        with pytest.raises(ConfigError, match=problem) as caught:
            list_image_folder(root, 1000)
        assert "\n" not in str(caught.value)
    save(tmp_path / "3" / "a.png")
    with pytest.raises(ConfigError, match=r"has 1 images; the run needs .* = 2"):
        read_image_folder(tmp_path, 2, selection="first", seed=0, num_classes=10,
                          resize_size=4, crop_size=4)  # fmt: skip


def test_cli_names_a_missing_image_folder_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["run", "--preset", "paper/image-classification", "--out", str(tmp_path)]
    arguments += ["--set", f"data.source={tmp_path}/imagenet/train", "--name", "x", "--quiet"]
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert "image folder" in error and "does not exist" in error and len(error.splitlines()) == 1
    assert not (tmp_path / "x.zarr").exists()


def test_resize_keeps_the_aspect_and_rounds_the_longer_side_down() -> None:
    # torchvision: new_long = int(size * long / short); 500x375 -> 341.33 -> 341
    assert resized_size(500, 375, 256) == (341, 256)
    assert resized_size(375, 500, 256) == (256, 341)
    assert resized_size(300, 200, 256) == (384, 256)  # upscaling too
    image = Image.new("RGB", (30, 20), (200, 100, 50))
    assert resize_shorter(image, 10).size == (15, 10)
    assert np.asarray(resize_shorter(image, 10)).reshape(-1, 3).tolist()[0] == [200, 100, 50]


def test_centre_crop_takes_the_middle_with_half_to_even_offsets() -> None:
    # Each pixel holds its own (row, column): the crop shows which ones it kept.
    rows, cols = np.mgrid[0:5, 0:7]
    coded = np.stack([rows, cols, np.zeros_like(rows)], -1).astype(np.uint8)
    crop = np.asarray(centre_crop(Image.fromarray(coded), 3))
    # top = round((5 - 3) / 2) = 1, left = round((7 - 3) / 2) = 2
    assert crop[..., 0].tolist() == [[1, 1, 1], [2, 2, 2], [3, 3, 3]]
    assert crop[..., 1].tolist() == [[2, 3, 4]] * 3
    # (3 - 2) / 2 = 0.5 rounds to 0 (Python's round, as torchvision), (6 - 3) / 2 = 1.5 to 2
    narrow = np.asarray(centre_crop(Image.fromarray(coded[:3, :6]), 2))
    assert narrow[0, 0, :2].tolist() == [0, 2]


def test_prepare_and_normalise_match_a_hand_computation() -> None:
    # 8x4 image: left half (255, 0, 128), right half (0, 255, 51). Shorter side 4 is the
    # resize size, so only the crop acts: columns round((8 - 4) / 2) = 2 .. 5.
    pixels = np.zeros((4, 8, 3), dtype=np.uint8)
    pixels[:, :4] = (255, 0, 128)
    pixels[:, 4:] = (0, 255, 51)
    prepared = prepare_image(Image.fromarray(pixels), resize_size=4, crop_size=4)
    assert prepared.shape == (3, 4, 4)
    assert prepared[:, 0, :].T.tolist() == [[255, 0, 128]] * 2 + [[0, 255, 51]] * 2
    value = normalise(torch.from_numpy(prepared))
    by_hand = [
        (1.0 - 0.485) / 0.229,  # red 255
        (0.0 - 0.456) / 0.224,  # green 0
        (128 / 255 - 0.406) / 0.225,  # blue 128
    ]
    assert value[:, 0, 0].tolist() == pytest.approx(by_hand, abs=1e-6)
    assert value[:, 3, 3].tolist() == pytest.approx(
        [(0 - 0.485) / 0.229, (1 - 0.456) / 0.224, (51 / 255 - 0.406) / 0.225], abs=1e-6
    )


def test_random_selection_is_seeded_and_first_takes_the_folders_order(tmp_path: Path) -> None:
    for k in range(6):
        save(tmp_path / str(k % 3) / f"{k}.png", colour=(10 * k, 0, 0))
    options = {"num_classes": 3, "resize_size": 4, "crop_size": 4}
    first = read_image_folder(tmp_path, 4, selection="first", seed=0, **options)
    assert first.ids == ["0/0.png", "0/3.png", "1/1.png", "1/4.png"]
    assert first.labels.tolist() == [0, 0, 1, 1]
    assert first.pixels[:, 0, 0, 0].tolist() == [0, 30, 10, 40]
    drawn = read_image_folder(tmp_path, 4, selection="random", seed=3, **options)
    again = read_image_folder(tmp_path, 4, selection="random", seed=3, **options)
    assert drawn.ids == again.ids and len(set(drawn.ids)) == 4
    assert drawn.labels.tolist() == [int(name.split("/")[0]) for name in drawn.ids]
