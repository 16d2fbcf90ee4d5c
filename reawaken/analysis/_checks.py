"""Input checks shared by the analysis functions: clear errors for missing variables and dims.

Every public function calls :func:`require` first, so a run without, say, activations fails
with a message that names the function, the variable it needs and what the dataset has.
"""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

from reawaken.errors import StoreError

__all__ = [
    "RecoveryUndefinedWarning",
    "activation_at_layer",
    "describe",
    "require",
    "require_dataset",
]


class RecoveryUndefinedWarning(RuntimeWarning):
    """Recovery needs a document to come back (two epochs or more); the result holds NaN."""


def describe(ds: xr.Dataset) -> str:
    """``name(dims)`` of every data variable, for error messages.

    Examples
    --------
    >>> describe(xr.Dataset({"loss": (("step", "doc"), [[1.0]])}))
    'loss(step, doc)'
    """
    parts = [f"{name}({', '.join(map(str, var.dims))})" for name, var in ds.data_vars.items()]
    return ", ".join(parts) or "no data variables"


def require_dataset(ds: object, func: str) -> xr.Dataset:
    """Refuse anything but a Dataset, naming what to pass instead."""
    if not isinstance(ds, xr.Dataset):
        raise TypeError(
            f"{func} takes a run Dataset (from reawaken.open_run or reawaken.open_runs), "
            f"got {type(ds).__name__}"
        )
    return ds


def require(
    ds: xr.Dataset, func: str, name: str, dims: Sequence[str], *, hint: str = ""
) -> xr.DataArray:
    """``ds[name]`` if it exists and has at least ``dims``; otherwise a :class:`StoreError`.

    Extra dims (such as ``run`` from :func:`reawaken.open_runs`) are allowed.

    Examples
    --------
    >>> ds = xr.Dataset({"loss": (("step",), [1.0])})
    >>> require(ds, "recovery_score", "loss", ("step", "doc"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    reawaken.errors.StoreError: recovery_score needs 'loss' with dims ('step', 'doc'); this ...
    """
    require_dataset(ds, func)
    dims = tuple(dims)
    if name not in ds.variables or not set(dims) <= set(ds[name].dims):
        message = f"{func} needs {name!r} with dims {dims}; this dataset has: {describe(ds)}"
        if name in ds.coords:
            message += f" (coordinate {name!r} has dims {tuple(ds[name].dims)})"
        raise StoreError(message + (f"; {hint}" if hint else ""))
    return ds[name]


def activation_at_layer(ds: xr.Dataset, func: str, layer: int) -> xr.DataArray:
    """The stored ``activation`` at one layer (by position, -1 = last), or a clear error.

    Examples
    --------
    >>> ds = xr.Dataset({"activation": (("snapshot", "doc", "layer", "hidden"),
    ...                                 [[[[1.0], [2.0]]]])}, coords={"layer": [0, 3]})
    >>> activation_at_layer(ds, "f", -1).values.tolist()
    [[[2.0]]]
    """
    activation = require(
        ds,
        func,
        "activation",
        ("snapshot", "doc", "layer", "hidden"),
        hint="store activations with probes.activation_layers and snapshots on",
    )
    layers = activation.sizes["layer"]
    if not -layers <= layer < layers:
        raise StoreError(
            f"{func}: layer={layer} is out of range; this run stored {layers} layer(s) "
            f"{activation['layer'].values.tolist()} (layer selects by position, -1 = last)"
        )
    return activation.isel(layer=layer)
