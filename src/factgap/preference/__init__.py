"""Study S3 (Yuan et al. 2024, APEFT): preference tuning on general and atomic preference pairs.

Modules: ``pairs`` (pure: general pairs from scored responses, atomic pairs from per-fact
sampling, mixing, the KTO unpaired conversion, RSO rejection sampling), ``losses`` (pure torch:
the per-pair DPO / IPO / hinge / CPO / KTO losses, sequence log-probabilities, implicit rewards),
``train`` (shell: LoRA preference training with TRL, per-epoch checkpoints, resume, export).
"""
