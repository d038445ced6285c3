"""Blur kernels against their closed forms [BSR degradations.py formulas]."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from vrbench.degrade import kernels
from vrbench.errors import InputError

SHAPES = [
    {"kind": "iso", "size": 21, "sigma_x": 2.0},
    {"kind": "aniso", "size": 21, "sigma_x": 2.5, "sigma_y": 0.7, "theta": 0.6},
    {"kind": "generalized_iso", "size": 15, "sigma_x": 1.5, "beta": 0.7},
    {"kind": "generalized_aniso", "size": 13, "sigma_x": 1.0, "sigma_y": 2.0, "theta": -1.2, "beta": 3.0},
    {"kind": "plateau_iso", "size": 11, "sigma_x": 1.2, "beta": 1.5},
    {"kind": "plateau_aniso", "size": 19, "sigma_x": 0.4, "sigma_y": 2.8, "theta": 2.9, "beta": 1.0},
    {"kind": "sinc", "size": 21, "omega": 1.0},
    {"kind": "sinc", "size": 7, "omega": math.pi},
]


@pytest.mark.parametrize("params", SHAPES, ids=lambda p: p["kind"])
def test_kernels_sum_to_one_and_are_point_symmetric(params):
    k = kernels.kernel_from_params(params)
    assert k.shape == (params["size"], params["size"])
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)  # so correlation == convolution


@pytest.mark.parametrize("kind", ["iso", "generalized_iso", "plateau_iso", "sinc"])
def test_isotropic_kernels_are_symmetric_under_transpose_and_flips(kind):
    params = {"kind": kind, "size": 13, "sigma_x": 1.7, "beta": 1.3, "omega": 1.4}
    k = kernels.kernel_from_params(params)
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    np.testing.assert_allclose(k, k[::-1], atol=1e-15)


@pytest.mark.parametrize(("sx", "sy", "theta"), [(1.5, 1.5, 0.0), (2.0, 0.8, 0.5), (0.9, 2.2, -2.0), (3.0, 1.0, 1.2)])
def test_gaussian_covariance_from_second_moments(sx, sy, theta):
    # a 41 x 41 support is > 6 sigma, so truncation is negligible and sum K p p^T = Sigma
    k = kernels.gaussian_kernel(41, sx, sy, theta)
    np.testing.assert_allclose(kernels.second_moments(k), kernels.covariance(sx, sy, theta), atol=1e-6)


def test_covariance_is_rotated_diagonal():
    sigma = kernels.covariance(2.0, 0.5, math.pi / 2)  # rotating by 90 degrees swaps the axes
    np.testing.assert_allclose(sigma, np.diag([0.25, 4.0]), atol=1e-12)


def test_generalized_gaussian_with_beta_one_is_gaussian():
    a = kernels.generalized_gaussian_kernel(17, 2.0, 1.0, 0.4, 1.0)
    np.testing.assert_allclose(a, kernels.gaussian_kernel(17, 2.0, 1.0, 0.4), atol=1e-15)


def test_plateau_closed_form_at_grid_points():
    k = kernels.plateau_kernel(9, 1.5, 1.5, 0.0, 2.0)
    q = lambda x, y: (x * x + y * y) / 1.5**2  # noqa: E731
    unnorm = lambda x, y: 1 / (1 + q(x, y) ** 2)  # noqa: E731
    assert k[4, 4] / k[4, 7] == pytest.approx(unnorm(0, 0) / unnorm(3, 0))
    assert k[2, 6] / k[4, 4] == pytest.approx(unnorm(2, -2) / unnorm(0, 0))


def test_sinc_closed_form_and_centre_value():
    omega, size = 1.3, 15
    k = kernels.sinc_kernel(size, omega)
    r = math.hypot(3, 4)  # pixel (7 + 4, 7 + 3)
    closed = omega * special.j1(omega * r) / (2 * math.pi * r)
    centre = omega**2 / (4 * math.pi)
    assert k[11, 10] / k[7, 7] == pytest.approx(closed / centre, rel=1e-12)


def test_sinc_zero_padding_keeps_the_kernel_centred():
    small, padded = kernels.sinc_kernel(7, 2.0), kernels.sinc_kernel(7, 2.0, pad_to=21)
    assert padded.shape == (21, 21)
    np.testing.assert_array_equal(padded[7:14, 7:14], small)
    assert padded.sum() == pytest.approx(1.0)


def test_usm_kernel_matches_opencv_sigma_zero():
    import cv2

    assert kernels.opencv_gaussian_sigma(51) == pytest.approx(8.0)
    np.testing.assert_allclose(kernels.gaussian_kernel_1d(51), cv2.getGaussianKernel(51, 0).ravel(), atol=1e-7)


@pytest.mark.parametrize("bad", [{"kind": "iso", "size": 4, "sigma_x": 1.0}, {"kind": "iso", "size": 0, "sigma_x": 1},
                                 {"kind": "blob", "size": 7}, {"kind": "iso", "size": 7, "sigma_x": -1.0},
                                 {"kind": "sinc", "size": 7, "omega": 4.0},
                                 {"kind": "plateau_iso", "size": 7, "sigma_x": 1.0, "beta": 0.0}])
def test_bad_kernel_parameters_raise_input_error(bad):
    with pytest.raises(InputError):
        kernels.kernel_from_params(bad)


def test_sinc_accepts_the_published_upper_bound_and_rejects_more():
    """RealBasicVSR's configs write pi as 3.1416; drift clipped to that bound must not be rejected."""
    from vrbench.degrade.kernels import sinc_kernel
    from vrbench.errors import InputError

    k = sinc_kernel(13, 3.1416)
    assert abs(float(k.sum()) - 1.0) < 1e-9
    with pytest.raises(InputError, match="omega"):
        sinc_kernel(13, 3.2)
