"""Seeded, manifested Real-ESRGAN / RealBasicVSR-style degradation synthesizer.

Public API (heavy dependencies such as torch load on first use, not on import):

- `list_presets()`, `load_preset(name)`: the named, versioned YAML cards in `cards/`;
- `PRESETS`: the presets' `Registry` (the same type as methods and metrics);
- `OPS`: the operation table (name -> `Op(check, sample, apply, describe, ...)`), see ops.py;
- `degrade_clip(gt, preset=, seed=, clip_id=, scale=4, device=None, num_frames=None) -> (lq, manifest)`, the GT
  given whole, as a `Video` or as chunks; each clip's generator is seeded by `vrbench.seeds.derive_seed(seed, clip_id)`;
- `replay_manifest(gt, manifest, device=None) -> lq`: regenerate the LQ from the manifest alone, hash-checked;
- `make_preview(...)`: contact sheet PNG of GT, LQ and parameters.
"""

from __future__ import annotations

from vrbench.degrade.ops import OPS, Op
from vrbench.degrade.presets import PRESETS, Preset, list_presets, load_preset

__all__ = ["OPS", "PRESETS", "Op", "Preset", "degrade_clip", "list_presets", "load_preset", "make_preview",
           "replay_manifest"]


def __getattr__(name: str):
    # the pipeline imports torch; load it only when one of these is used
    if name in ("degrade_clip", "replay_manifest"):
        from vrbench.degrade import pipeline

        return getattr(pipeline, name)
    if name == "make_preview":
        from vrbench.degrade.preview import make_preview

        return make_preview
    raise AttributeError(f"module 'vrbench.degrade' has no attribute '{name}'")
