"""The ``ds.reawaken`` accessor: each analysis function as a method of a run Dataset.

``ds.reawaken.recovery_score()`` is ``reawaken.recovery_score(ds)``; the functions stay the
single implementation, and each method keeps its function's name, signature and docstring
(``help(ds.reawaken.recovery_score)`` shows the function's documentation).
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Iterable
from typing import Any

import xarray as xr

__all__ = ["RunAccessor", "register_accessor", "takes_a_run"]


class RunAccessor:
    """``ds.reawaken.<function>(**options)`` for every function of :mod:`reawaken.analysis`
    whose first parameter is the run Dataset.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken.analysis
    >>> from reawaken.testing import synthetic_run
    >>> ds = synthetic_run(np.ones((5, 2)), steps_per_doc=1)
    >>> ds.reawaken.boundary_losses().dims
    ('episode', 'doc')
    """

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds


class _Delegate:
    """A method of :class:`RunAccessor` calling ``func`` with the accessor's Dataset first.

    A descriptor rather than a plain function in the class, so that the function's own
    docstring is shown by ``help`` without doctest collecting its examples a second time.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        @functools.wraps(func)
        def method(accessor: RunAccessor, *args: Any, **kwargs: Any) -> Any:
            return func(accessor._ds, *args, **kwargs)

        self.method = method

    def __get__(self, accessor: RunAccessor | None, owner: type | None = None) -> Any:
        return self.method if accessor is None else types.MethodType(self.method, accessor)


def takes_a_run(obj: object) -> bool:
    """Whether ``obj`` is a function whose first parameter is the run Dataset ``ds``.

    Examples
    --------
    >>> from reawaken.analysis import mean_interval, recovery_score
    >>> takes_a_run(recovery_score), takes_a_run(mean_interval)
    (True, False)
    """
    if not inspect.isfunction(obj):
        return False
    parameters = list(inspect.signature(obj).parameters)
    return bool(parameters) and parameters[0] == "ds"


def register_accessor(public: Iterable[object]) -> None:
    """Give :class:`RunAccessor` a method per function of ``public`` that takes a run; register
    it as ``ds.reawaken``.
    """
    for func in filter(takes_a_run, public):
        setattr(RunAccessor, func.__name__, _Delegate(func))  # type: ignore[attr-defined]
    xr.register_dataset_accessor("reawaken")(RunAccessor)
