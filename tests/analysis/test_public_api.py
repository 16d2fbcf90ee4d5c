"""One public list: every analysis function is at top level and on ``ds.reawaken``, documented."""

from __future__ import annotations

import inspect
import pydoc
import subprocess
import sys

import numpy as np
import pytest

import reawaken
from reawaken import analysis
from reawaken.analysis.accessor import takes_a_run
from reawaken.testing import synthetic_run

FUNCTIONS = [name for name in analysis.__all__ if inspect.isfunction(getattr(analysis, name))]


def test_the_list_holds_every_public_function_of_the_analysis_modules() -> None:
    modules = [
        module
        for module in vars(analysis).values()
        if inspect.ismodule(module)
        and module.__name__.startswith("reawaken.analysis.")
        and not module.__name__.rsplit(".", 1)[1].startswith("_")
        and module.__name__ != "reawaken.analysis.accessor"
    ]
    defined = {
        name
        for module in modules
        for name in module.__all__
        if inspect.isfunction(getattr(module, name))
    }
    assert defined <= set(FUNCTIONS)
    assert {"mean_prequential_loss", "mean_recovery_score", "block_table"} <= set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_listed_function_is_at_top_level_and_takes_a_run_on_the_accessor(name: str) -> None:
    func = getattr(analysis, name)
    assert getattr(reawaken, name) is func and name in reawaken.__all__
    ds = synthetic_run(np.ones((5, 2)), steps_per_doc=1)
    if takes_a_run(func):
        method = getattr(ds.reawaken, name)
        assert method.__doc__ == func.__doc__
        assert (
            list(inspect.signature(method).parameters)
            == list(inspect.signature(func).parameters)[1:]
        )
    else:
        assert not hasattr(ds.reawaken, name)


def test_help_on_an_accessor_method_shows_the_functions_documentation() -> None:
    ds = synthetic_run(np.ones((5, 2)), steps_per_doc=1)
    text = pydoc.render_doc(ds.reawaken.recovery_score, renderer=pydoc.plaintext)
    assert "Fraction of a document's forgetting undone before it returns" in text
    assert "min_forgetting" in text and "Delegate" not in text
    assert ds.reawaken.mean_prequential_loss().item() == reawaken.mean_prequential_loss(ds).item()


def test_import_reawaken_does_not_import_torch() -> None:
    code = "import sys, reawaken; print('torch' in sys.modules, len(reawaken.__all__))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    torch_loaded, count = result.stdout.split()
    assert torch_loaded == "False" and int(count) == len(analysis.__all__) + 4
