"""Study S4 (Ren et al. 2024, "Learning or self-aligning?"): probe prompts, knowledge probing, the
HAR / INC / SELF training sets and the rank-correlation analysis, as pure functions.

Modules: ``prompts`` (text formats and the letter token ids), ``probe`` (per-item read-out and a
thin model runner), ``sets`` (training-set construction), ``analysis`` (rank Pearson, partial
Spearman, KL, accuracy), ``domains`` (the paper's domain -> MMLU subjects table).
"""
