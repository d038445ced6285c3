"""Metric families and the engine that computes them over clips."""
