"""Student-t quantiles without scipy, and mean_interval on numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from reawaken.analysis import mean_interval, student_t_quantile

# t_{0.975, df} and t_{0.995, df}: the printed tables' 12.706, 4.303, 3.182, ... to 3
# decimals; the full digits are scipy.stats.t.ppf (scipy 1.17), which the series matches.
TABLE = {
    1: (12.706204736174694, 63.656741162871526),
    2: (4.302652729749462, 9.924843200918287),
    3: (3.1824463052837078, 5.840909309733355),
    4: (2.7764451051977934, 4.604094871349992),
    5: (2.5705818356363146, 4.032142983555228),
    9: (2.262157162798205, 3.249835541592126),
    10: (2.228138851986274, 3.16927267261695),
    30: (2.0422724563012378, 2.7499956535672254),
    100: (1.9839715185235518, 2.6258905214380173),
    1000: (1.9623390808264083, 2.580754698065951),
    1001: (1.9623367052808798, 2.5807497687505245),  # first df on the Cornish-Fisher branch
    5000: (1.9604385517065073, 2.5768129665562802),
}


@pytest.mark.parametrize("df", sorted(TABLE))
def test_t_quantile_matches_the_table(df: int) -> None:
    q975, q995 = TABLE[df]
    assert student_t_quantile(0.975, np.array([df]))[0] == pytest.approx(q975, rel=1e-11)
    assert student_t_quantile(0.995, np.array([df]))[0] == pytest.approx(q995, rel=1e-11)
    # symmetric: the lower quantile is the negative of the upper one
    assert student_t_quantile(0.025, np.array([df]))[0] == pytest.approx(-q975, rel=1e-11)


def test_t_quantile_closed_forms() -> None:
    # df=1 is Cauchy: tan(pi (p - 1/2)); df=2: t = (2p - 1) sqrt(2 / (4 p (1 - p)))
    p = 0.9
    assert student_t_quantile(p, np.array([1]))[0] == pytest.approx(np.tan(np.pi * (p - 0.5)))
    expected = (2 * p - 1) * np.sqrt(2 / (4 * p * (1 - p)))
    assert student_t_quantile(p, np.array([2]))[0] == pytest.approx(expected, rel=1e-12)
    assert np.isnan(student_t_quantile(0.975, np.array([0]))[0])
    with pytest.raises(ValueError, match="probability"):
        student_t_quantile(1.0, np.array([3]))


def test_t_quantile_agrees_with_scipy_where_available() -> None:
    stats = pytest.importorskip("scipy.stats")
    df = np.array([*range(1, 13), 20, 51, 200, 999])
    for p in (0.6, 0.95, 0.9995):
        np.testing.assert_allclose(student_t_quantile(p, df), stats.t.ppf(p, df), rtol=1e-11)


def test_mean_interval_by_hand() -> None:
    # values 1, 2, 3: mean 2, sample std 1, t_{0.975, 2} = 4.302652729749462
    # half-width 4.302652729749462 / sqrt(3) = 2.4841377...
    da = xr.DataArray([1.0, 2.0, 3.0, np.nan], dims="run", attrs={"units": "nats"})
    ci = mean_interval(da, "run")
    half = 4.302652729749462 / np.sqrt(3)
    assert float(ci["mean"]) == 2.0 and int(ci["count"]) == 3
    assert float(ci["lower"]) == pytest.approx(2 - half, rel=1e-12)
    assert float(ci["upper"]) == pytest.approx(2 + half, rel=1e-12)
    assert ci["upper"].attrs["units"] == "nats" and ci.attrs["confidence"] == 0.95


def test_mean_interval_keeps_other_dims_and_needs_two_values() -> None:
    # epoch 1: values 1, 3 -> mean 2, std sqrt 2, t_{0.995, 1} = 63.6567...; epoch 2: one value
    da = xr.DataArray([[1.0, 5.0], [3.0, np.nan]], dims=("run", "epoch"), coords={"epoch": [1, 2]})
    ci = mean_interval(da, "run", confidence=0.99)
    assert ci["mean"].dims == ("epoch",)
    half = 63.656741162871526 * np.sqrt(2) / np.sqrt(2)
    assert ci["upper"].sel(epoch=1).item() == pytest.approx(2 + half, rel=1e-12)
    assert ci["mean"].sel(epoch=2).item() == 5.0
    assert np.isnan(ci["lower"].sel(epoch=2).item())
    both = mean_interval(da, ["run", "epoch"])
    assert int(both["count"]) == 3 and float(both["mean"]) == 3.0
    with pytest.raises(ValueError, match="no dim"):
        mean_interval(da, "seed")
