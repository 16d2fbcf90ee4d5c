"""Read a few variables of a run store straight from its chunk files, for many stores at once.

``xr.open_zarr`` costs ~50 ms a store (every array's metadata, indexes) and zarr ~1 ms a
chunk (stores written before the step chunks grew to ~1 MiB hold a paper-size ``loss`` in 126
chunks, one per document block). For the runs table of a 200-run sweep that is tens of
seconds. Here one store's metadata is read once, the requested
arrays are decoded chunk file by chunk file (plain ``bytes`` + ``zstd``/``crc32c`` codecs;
anything else goes through zarr), and every other array is a zero-cost placeholder of the
right shape, so the reader's checks see the whole store's structure.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr

from reawaken.store.schema import V1_INDEX_COORDINATES

__all__ = ["read_lean"]


def _fill(meta: dict[str, Any], dtype: np.dtype) -> Any:
    value = meta.get("fill_value")
    if isinstance(value, str) and dtype.kind == "f":
        return float(value)  # "NaN", "Infinity"
    return value


def _decode(raw: bytes, codecs: list[dict[str, Any]], dtype: np.dtype, size: int) -> Any:
    """A chunk's flat values, or None when a codec is not one this reader knows."""
    for codec in reversed(codecs[1:]):
        if codec["name"] == "zstd":
            from numcodecs.zstd import decompress

            raw = decompress(raw)
        elif codec["name"] == "crc32c":
            import google_crc32c

            raw, stored = raw[:-4], int.from_bytes(raw[-4:], "little")
            if google_crc32c.value(raw) != stored:
                raise ValueError("chunk checksum (crc32c) does not match its data")
        else:
            return None
    first = codecs[0]
    if first["name"] == "vlen-utf8":
        return _vlen_utf8(raw, size)
    if first["name"] != "bytes":
        return None
    endian = first.get("configuration", {}).get("endian", "little")
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<" if endian == "little" else ">"))


def _vlen_utf8(raw: bytes, size: int) -> np.ndarray:
    """zarr's vlen-utf8 layout: a uint32 count, then (uint32 length, bytes) per item."""
    items, offset = [], 4
    for _ in range(int.from_bytes(raw[:4], "little")):
        length = int.from_bytes(raw[offset : offset + 4], "little")
        items.append(raw[offset + 4 : offset + 4 + length].decode())
        offset += 4 + length
    return np.asarray(items + [""] * (size - len(items)), dtype=object)


def _read_array(folder: str, meta: dict[str, Any]) -> np.ndarray:
    """The whole array at ``folder``, assembled from its chunk files."""
    shape = list(meta["shape"])
    grid, encoding = meta["chunk_grid"], meta["chunk_key_encoding"]
    known = ("bytes", "vlen-utf8", "zstd", "crc32c")
    if (
        grid["name"] != "regular"
        or encoding["name"] != "default"
        or not all(c["name"] in known for c in meta["codecs"])
    ):
        return np.asarray(zarr.open_array(folder, mode="r", zarr_format=3)[...])
    text = meta["data_type"] == "string"
    dtype = np.dtype(object) if text else np.dtype(meta["data_type"])
    chunk = grid["configuration"]["chunk_shape"]
    separator = encoding.get("configuration", {}).get("separator", "/")
    counts = [-(-n // c) for n, c in zip(shape, chunk, strict=True)]
    size = math.prod(chunk)
    fill = _fill(meta, dtype)
    pieces: dict[tuple[int, ...], np.ndarray] = {}
    for index in np.ndindex(*counts):
        file = os.path.join(folder, separator.join(["c", *map(str, index)]))
        try:
            with open(file, "rb") as stream:
                raw = stream.read()
        except FileNotFoundError:
            continue  # never written: the fill value
        values = _decode(raw, meta["codecs"], dtype, size)
        if values is None:
            return np.asarray(zarr.open_array(folder, mode="r", zarr_format=3)[...])
        pieces[index] = values.reshape(chunk)
    if len(pieces) == math.prod(counts) and all(c == 1 for c in counts[1:]):
        # Chunked along the first axis only (a run's steps): one concatenation.
        whole = np.concatenate([pieces[i] for i in np.ndindex(*counts)]) if pieces else None
        if whole is not None:
            return np.ascontiguousarray(whole[tuple(slice(0, n) for n in shape)])
    out = np.full(shape, fill, dtype=dtype)
    for index, block in pieces.items():
        region = tuple(
            slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(index, chunk, shape, strict=True)
        )
        out[region] = block[tuple(slice(0, r.stop - r.start) for r in region)]
    return out


def _placeholder(meta: dict[str, Any]) -> np.ndarray:
    """An array of the right shape and dtype that takes no memory (never read)."""
    dtype = np.dtype("O") if meta["data_type"] == "string" else np.dtype(meta["data_type"])
    return np.broadcast_to(np.zeros((), dtype=dtype), tuple(meta["shape"]))


def _is_placeholder(values: np.ndarray) -> bool:
    return values.ndim > 0 and values.strides == (0,) * values.ndim


def read_lean(path: str | Path, variables: Collection[str]) -> xr.Dataset:
    """The store at ``path`` with ``variables`` and all coordinates read, the rest placeholders.

    Placeholders have the stored shape and dims and zero values: select the variables you
    asked for before computing anything else. Values decode as ``xr.open_zarr`` decodes them
    (an integer variable with a ``_FillValue`` becomes float with NaN there).
    """
    path = Path(path)
    root = json.loads((path / "zarr.json").read_text())
    root_attrs = root.get("attributes", {})
    consolidated = (root.get("consolidated_metadata") or {}).get("metadata")
    if consolidated and root_attrs.get("status") == "completed":
        # Written when the run completed; nothing changes a completed store afterwards.
        found = consolidated.items()
    else:
        found = (
            (child.name, json.loads((child / "zarr.json").read_text()))
            for child in path.iterdir()
            if (child / "zarr.json").is_file()
        )
    metas = {name: meta for name, meta in found if meta.get("node_type") == "array"}
    # xarray names a coordinate in the attributes of the arrays on its dims, or, when no data
    # variable has its dims (e.g. `one_off_source_id`), in the group's own.
    root_attrs = {k: v for k, v in root_attrs.items() if k != "coordinates"}
    coordinate_names = {
        name
        for meta in [*metas.values(), root]
        for name in meta.get("attributes", {}).get("coordinates", "").split()
    }
    if root_attrs.get("schema_version") == 1:  # schema v2 drops these (large) indexes
        metas = {k: v for k, v in metas.items() if k not in V1_INDEX_COORDINATES}
    dims = {name for meta in metas.values() for name in meta.get("dimension_names") or ()}
    coords: dict[str, xr.Variable] = {}
    data: dict[str, xr.Variable] = {}
    for name, meta in sorted(metas.items()):
        attrs = {k: v for k, v in meta.get("attributes", {}).items() if not k.startswith("_")}
        attrs.pop("coordinates", None)
        is_coord = name in dims or name in coordinate_names
        wanted = is_coord or name in variables
        values = _read_array(os.path.join(path, name), meta) if wanted else None
        if values is None:
            values = _placeholder(meta)
        fill = meta.get("attributes", {}).get("_FillValue")
        if fill is not None and values.dtype.kind in "iu" and not _is_placeholder(values):
            floats = values.astype(np.float32 if values.dtype.itemsize <= 2 else np.float64)
            values = np.where(values == fill, np.nan, floats)
        variable = xr.Variable(tuple(meta["dimension_names"]), values, attrs)
        (coords if is_coord else data)[name] = variable
    return xr.Dataset(data, coords=coords, attrs=root_attrs)
