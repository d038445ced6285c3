"""The built-in SATB few-step restorer: SATB-VR's training recipe (SNR-aware trajectory blending + denoiser-driven
consistency, arXiv 2606.28677) on a small pixel-unshuffle model, 0-5+ step sampling, and DTG-Restore's training-free
Decoupled Time Guidance.

Modules: `schedule` (rectified flow, blend weights, released timestep rule), `nets` (predictor, denoiser, space),
`losses` (diffusion, DDC, predictor; ablation variants), `sampling` (DDIM, DDPM, DPM-Solver++(2M) SDE, CFG, DTG; the
colour fix is `vrbench.colorfix`), `restore` (chunked video restoration), `data` (demo-train split, pair cache,
patches), `train` (resumable training), `checkpoint` (safetensors with provenance), `evaluate`, `adapter` (method
cards), `cli` (`vrbench satb ...`). Importing this package imports nothing heavy.
"""
