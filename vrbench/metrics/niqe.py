"""NIQE (Mittal et al., IEEE SPL 2013) as pyiqa computes it, on the MATLAB model parameters from our cache path."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from vrbench.errors import InputError
from vrbench.metrics.learned import NIQE_BLOCK, NIQE_PARAMS, PyiqaMetric


class NiqeMetric(PyiqaMetric):
    """pyiqa's NIQE on the MATLAB model parameters from our cache path. pyiqa reads them only from a MAT file (by
    default one it downloads into its own cache), so the npz's two arrays are handed to it as a MAT file written to
    a temporary folder, read once and deleted; the npz, with its published sha256, stays the file of record."""

    def build(self, pyiqa: Any, device: Any) -> Any:
        import numpy as np
        from scipy.io import savemat

        with np.load(NIQE_PARAMS.path, allow_pickle=False) as params, tempfile.TemporaryDirectory() as folder:
            mat = Path(folder) / "niqe_pris_params.mat"
            savemat(mat, {"mu_prisparam": params["mu_pris_param"], "cov_prisparam": params["cov_pris_param"]})
            return pyiqa.create_metric(self.pyiqa_name, device=device, pretrained_model_path=str(mat), **self.options)

    def compute(self, out, gt, ref=None):
        if min(out.shape[-2:]) < NIQE_BLOCK:  # pyiqa would fail deep inside on an empty block grid
            raise InputError(f"NIQE needs frames of at least {NIQE_BLOCK}x{NIQE_BLOCK} pixels (its block size)",
                             found=f"{out.shape[-1]}x{out.shape[-2]}")
        return super().compute(out, gt, ref)
