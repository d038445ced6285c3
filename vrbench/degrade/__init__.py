"""Seeded, manifested Real-ESRGAN / RealBasicVSR-style degradation synthesizer.

Public API (heavy dependencies such as torch load on first use, not on import):

- `list_presets()`, `load_preset(name)`: the named, versioned YAML cards in `cards/`;
- `clip_seed(seed, clip_id)`: the per-clip seed derived with sha256;
- `degrade_clip(gt, preset=, seed=, clip_id=, scale=4, device=None) -> (lq, manifest)`;
- `replay_manifest(gt, manifest, device=None) -> lq`: regenerate the LQ from the manifest alone, hash-checked;
- `make_preview(...)`: contact sheet PNG of GT, LQ and parameters.
"""

from __future__ import annotations

from vrbench.degrade.presets import Preset, list_presets, load_preset
from vrbench.degrade.sampling import clip_seed

__all__ = ["Preset", "clip_seed", "degrade_clip", "list_presets", "load_preset", "make_preview", "replay_manifest"]


def __getattr__(name: str):
    # the pipeline imports torch; load it only when one of these is used
    if name in ("degrade_clip", "replay_manifest"):
        from vrbench.degrade import pipeline

        return getattr(pipeline, name)
    if name == "make_preview":
        from vrbench.degrade.preview import make_preview

        return make_preview
    raise AttributeError(f"module 'vrbench.degrade' has no attribute '{name}'")
