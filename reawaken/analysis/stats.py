"""Means with Student-t confidence intervals, e.g. over seeds or documents (no scipy needed).

The t quantile is exact for integer degrees of freedom (the closed-form CDF series of
Abramowitz & Stegun 26.7.3-4, inverted by bisection); above 1000 degrees of freedom the
Cornish-Fisher expansion (26.7.5) is accurate to well below 1e-10.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from statistics import NormalDist

import numpy as np
import xarray as xr

__all__ = ["interval_by", "mean_interval", "student_t_quantile"]

_SERIES_LIMIT = 1000


def _two_sided_mass(theta: float, df: int) -> float:
    """P(|T| < t) for T ~ t(df), as a function of theta = arctan(t / sqrt(df))."""
    cos2 = np.cos(theta) ** 2
    if df == 1:
        return 2 * theta / np.pi
    if df % 2 == 0:
        k = np.arange(1, df // 2)
        coefficients = np.concatenate([[1.0], np.cumprod((2 * k - 1) / (2 * k))])
        return float(np.sin(theta) * np.sum(coefficients * cos2 ** np.arange(df // 2)))
    k = np.arange(1, (df - 1) // 2)
    coefficients = np.concatenate([[1.0], np.cumprod((2 * k) / (2 * k + 1))])
    series = np.cos(theta) * np.sum(coefficients * cos2 ** np.arange((df - 1) // 2))
    return float(2 / np.pi * (theta + np.sin(theta) * series))


def _cornish_fisher(x: float, df: float) -> float:
    g1 = (x**3 + x) / 4
    g2 = (5 * x**5 + 16 * x**3 + 3 * x) / 96
    g3 = (3 * x**7 + 19 * x**5 + 17 * x**3 - 15 * x) / 384
    g4 = (79 * x**9 + 776 * x**7 + 1482 * x**5 - 1920 * x**3 - 945 * x) / 92160
    return x + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def student_t_quantile(probability: float, df: int | np.ndarray) -> np.ndarray:
    """The ``probability`` quantile of Student's t with ``df`` (integer) degrees of freedom.

    NaN where ``df`` < 1.

    Examples
    --------
    >>> student_t_quantile(0.975, np.array([1, 2, 10])).round(6).tolist()
    [12.706205, 4.302653, 2.228139]
    """
    if not 0 < probability < 1:
        raise ValueError(f"probability must be in (0, 1), got {probability}")
    df = np.asarray(df)
    result = np.full(df.shape, np.nan)
    tail = abs(probability - 0.5) * 2  # two-sided mass of the symmetric interval
    sign = 1.0 if probability >= 0.5 else -1.0
    for value in np.unique(df[np.isfinite(df) & (df >= 1)]):
        degrees = int(value)
        if degrees > _SERIES_LIMIT:
            quantile = _cornish_fisher(NormalDist().inv_cdf(0.5 + tail / 2), degrees)
        else:
            low, high = 0.0, np.pi / 2
            for _ in range(64):  # bisection: halves the bracket to below 1e-18 rad
                middle = (low + high) / 2
                if _two_sided_mass(middle, degrees) < tail:
                    low = middle
                else:
                    high = middle
            quantile = float(np.sqrt(degrees) * np.tan((low + high) / 2))
        result[df == value] = sign * quantile
    return result


def mean_interval(
    da: xr.DataArray, dim: Hashable | Sequence[Hashable], *, confidence: float = 0.95
) -> xr.Dataset:
    """Mean over ``dim`` with a two-sided Student-t confidence interval (NaN values skipped).

    lower, upper = mean -/+ t_{(1+confidence)/2, count-1} * std(ddof=1) / sqrt(count);
    NaN where fewer than 2 values are available.

    Parameters
    ----------
    da
        Values, e.g. ``summary(runs)["mean_recovery_score"]`` or a recovery score.
    dim
        Dim(s) to reduce, e.g. ``"run"`` or ``"doc"``.
    confidence
        Coverage of the interval, in (0, 1).

    Returns
    -------
    xarray.Dataset
        ``mean``, ``lower``, ``upper``, ``count``, over the dims that remain.

    Examples
    --------
    >>> da = xr.DataArray([1.0, 2.0, 3.0], dims="run")
    >>> ci = mean_interval(da, "run")  # 2 -/+ 4.302653 * 1 / sqrt(3)
    >>> round(float(ci["lower"]), 4), round(float(ci["upper"]), 4), int(ci["count"])
    (-0.4841, 4.4841, 3)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"mean_interval: confidence must be in (0, 1), got {confidence}")
    dims = [dim] if isinstance(dim, str) or not isinstance(dim, Sequence) else list(dim)
    missing = [d for d in dims if d not in da.dims]
    if missing:
        raise ValueError(f"mean_interval: {da.name!r} has no dim {missing}; dims: {da.dims}")
    count = da.count(dims).compute()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = da.mean(dims)
        spread = da.std(dims, ddof=1)
    quantile = xr.apply_ufunc(lambda n: student_t_quantile((1 + confidence) / 2, n - 1), count)
    half = (quantile * spread / np.sqrt(count)).where(count >= 2)
    attrs = {key: da.attrs[key] for key in ("long_name", "units") if key in da.attrs}
    return xr.Dataset(
        {
            "mean": mean.assign_attrs(attrs),
            "lower": (mean - half).assign_attrs(attrs),
            "upper": (mean + half).assign_attrs(attrs),
            "count": count.assign_attrs(long_name="values averaged"),
        },
        attrs={"confidence": confidence, "interval": "Student t, two-sided"},
    )


def interval_by(
    da: xr.DataArray,
    by: str | Sequence[str],
    dim: str = "run",
    *,
    confidence: float = 0.95,
) -> xr.Dataset:
    """:func:`mean_interval` over ``dim`` within each value of the coordinate(s) ``by``.

    E.g. a sweep's recovery score over seeds for each model size (paper Fig. 2a, 5):
    ``interval_by(paper_recovery_score(open_runs(...)), "model")``. With two keys the result
    has both as dims (NaN where no run has that pair).

    Returns
    -------
    xarray.Dataset
        ``mean``, ``lower``, ``upper``, ``count`` on dims ``by`` (sorted values) and the dims
        of ``da`` other than ``dim``.

    Examples
    --------
    >>> da = xr.DataArray([0.2, 0.4, 0.5, 0.7, 0.6], dims="run",
    ...     coords={"lr": ("run", [1e-3, 1e-3, 1e-4, 1e-4, 1e-4])})
    >>> ci = interval_by(da, "lr")
    >>> ci["lr"].values.tolist(), ci["mean"].round(3).values.tolist(), ci["count"].values.tolist()
    ([0.0001, 0.001], [0.6, 0.3], [3, 2])
    """
    keys = [by] if isinstance(by, str) else list(by)
    for key in keys:
        if key not in da.coords or da[key].dims != (dim,):
            raise ValueError(
                f"interval_by: {key!r} is not a coordinate on {dim!r}; choose one of "
                f"{sorted(str(c) for c in da.coords if da[c].dims == (dim,))}"
            )
    columns = [da[k].values.tolist() for k in keys]
    combos = sorted({tuple(row) for row in zip(*columns, strict=True)})
    parts = []
    for combo in combos:
        chosen = np.ones(da.sizes[dim], dtype=bool)
        for key, value in zip(keys, combo, strict=True):
            chosen &= da[key].values == value
        part = mean_interval(da.isel({dim: np.flatnonzero(chosen)}), dim, confidence=confidence)
        parts.append(part.expand_dims("group"))
    combined = xr.concat(parts, "group")
    combined = combined.assign_coords(
        {k: ("group", [c[i] for c in combos]) for i, k in enumerate(keys)}
    )
    return (
        combined.set_index(group=keys).unstack("group")
        if len(keys) > 1
        else combined.swap_dims(group=keys[0])
    )
