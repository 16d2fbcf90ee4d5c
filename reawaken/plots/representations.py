"""Representations: similarity between documents or over time, and the documents' PCA.

Draws :func:`reawaken.analysis.representation_similarity` results (paper Fig. 8d): a
(doc x doc) matrix at one snapshot, or one document's (snapshot x snapshot) matrix whose
blocks show its representation settling epoch by epoch; and
:func:`reawaken.analysis.representation_pca` at one snapshot (paper Fig. 11: the toy's
points on a circle in task order).
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import xarray as xr

from reawaken.plots.style import DOC, image, styled

__all__ = ["document_points", "document_similarity", "snapshot_similarity"]

_SIMILARITY = hv.Dimension("similarity", label="similarity")


def _styled_matrix(element: hv.Image | hv.QuadMesh, title: str, method: str) -> hv.Element:
    label = f"{method} similarity" if method else "similarity"
    return styled(
        element,
        common={"cmap": "viridis", "colorbar": True},
        bokeh={"tools": ["hover"], "clabel": label, "title": title},
        matplotlib={"clabel": label},
    )


def document_similarity(similarity: xr.DataArray, *, method: str = "") -> hv.Element:
    """Document-by-document similarity of representations at one snapshot.

    Parameters
    ----------
    similarity
        (``doc``, ``other_doc``); a ``snapshot_step`` scalar coordinate, if present, goes in
        the title.
    method
        Name of the measure for the colour bar ("cosine", "cka").

    Examples
    --------
    >>> import numpy as np
    >>> s = xr.DataArray(np.eye(3), dims=("doc", "other_doc"),
    ...     coords={"doc": [0, 1, 2], "other_doc": [0, 1, 2]})
    >>> len(document_similarity(s).dimension_values(2))
    9
    """
    similarity = similarity.transpose("doc", "other_doc")
    title = "Similarity between documents"
    if "snapshot_step" in similarity.coords and similarity["snapshot_step"].ndim == 0:
        title += f" after step {int(similarity['snapshot_step'])}"
    element = image(
        similarity["other_doc"].values,
        similarity["doc"].values,
        similarity.values,
        kdims=[hv.Dimension("other_doc", label="document"), DOC],
        vdim=_SIMILARITY,
    )
    return _styled_matrix(element, title, method)


def snapshot_similarity(
    similarity: xr.DataArray,
    *,
    steps_per_epoch: int | None = None,
    method: str = "",
    mark_step: int | None = None,
) -> hv.Element:
    """One document's representation compared across snapshots (paper Fig. 8d).

    Parameters
    ----------
    similarity
        (``snapshot``, ``other_snapshot``), with ``snapshot_step`` coordinates if available.
    steps_per_epoch
        T*M; with ``snapshot_step`` coordinates, axes are drawn in epochs.
    method
        Name of the measure for the colour bar.
    mark_step
        Mark the snapshot taken after this step with a cross of lines (e.g. the one shown
        beside it); needs ``snapshot_step`` coordinates.

    Examples
    --------
    >>> import numpy as np
    >>> s = xr.DataArray(np.eye(4), dims=("snapshot", "other_snapshot"))
    >>> snapshot_similarity(s).dimension_values(2, flat=False).shape
    (4, 4)
    >>> s = s.assign_coords(snapshot_step=("snapshot", [0, 2, 4, 6]))
    >>> marked = snapshot_similarity(s, steps_per_epoch=4, mark_step=4)
    >>> [float(line.data) for line in marked.traverse(lambda e: e, [hv.VLine, hv.HLine])]
    [1.0, 1.0]
    """
    similarity = similarity.transpose("snapshot", "other_snapshot")
    axis = similarity["snapshot"].values
    dims = [hv.Dimension("other_snapshot", label="snapshot"), hv.Dimension("snapshot")]
    if steps_per_epoch and "snapshot_step" in similarity.coords:
        axis = similarity["snapshot_step"].values / steps_per_epoch
        dims = [
            hv.Dimension("other_progress", label="training progress", unit="epochs"),
            hv.Dimension("progress", label="training progress", unit="epochs"),
        ]
    title = "Similarity of one document over training"
    if "doc" in similarity.coords and similarity["doc"].ndim == 0:
        title = f"Similarity of doc {int(similarity['doc'])} over training"
    element = _styled_matrix(
        image(axis, axis, similarity.values, kdims=dims, vdim=_SIMILARITY), title, method
    )
    if mark_step is None or "snapshot_step" not in similarity.coords:
        return element
    at = mark_step / steps_per_epoch if steps_per_epoch else mark_step
    if not steps_per_epoch:
        at = int(np.searchsorted(similarity["snapshot_step"].values, mark_step))
    lines = [
        styled(
            kind(at),
            common={"color": "white"},
            bokeh={"line_width": 1.5, "line_dash": "dashed"},
            matplotlib={"linewidth": 0.8, "linestyle": "dashed"},
        )
        for kind in (hv.VLine, hv.HLine)
    ]
    return styled(element * lines[0] * lines[1], bokeh={"title": title})


def document_points(pca: xr.Dataset) -> hv.Overlay:
    """The documents in the plane of their top two principal components, joined in order.

    A closed path visits the documents in index order (the cycle), over points coloured by
    document: on a circle in order, the path is a ring; out of order, it criss-crosses.

    Parameters
    ----------
    pca
        :func:`reawaken.analysis.representation_pca` at one snapshot: ``projection``
        (``doc``, ``component``) with at least two components.

    Examples
    --------
    >>> import numpy as np
    >>> angle = np.arange(5) * 2 * np.pi / 5
    >>> pca = xr.Dataset({"projection": (("doc", "component"),
    ...     np.stack([np.cos(angle), np.sin(angle)], axis=1))},
    ...     coords={"doc": np.arange(5), "component": [1, 2]})
    >>> overlay = document_points(pca)
    >>> len(overlay.Points.I), len(overlay.Path.I.data[0])
    (5, 6)
    """
    projection = pca["projection"].transpose("doc", "component").values
    docs = pca["doc"].values
    x, y = projection[:, 0], projection[:, 1]
    first, second = hv.Dimension("pc1", label="PC 1"), hv.Dimension("pc2", label="PC 2")
    ring = hv.Path([np.stack([np.r_[x, x[:1]], np.r_[y, y[:1]]], axis=1)], kdims=[first, second])
    points = hv.Points({"pc1": x, "pc2": y, "doc": docs}, kdims=[first, second], vdims=[DOC])
    title = "Documents' PCA"
    if "snapshot_step" in pca.coords and pca["snapshot_step"].ndim == 0:
        title += f", step {int(pca['snapshot_step'])}"
    ring = styled(ring, common={"color": "#999999"}, bokeh={"line_width": 1})
    points = styled(
        points,
        common={"color": "doc", "cmap": "twilight", "colorbar": True},
        bokeh={"size": 8, "tools": ["hover"], "clabel": "document"},
        matplotlib={"s": 30, "clabel": "document"},
    )
    return styled(ring * points, common={"title": title})
