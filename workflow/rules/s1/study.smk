# Study S1 (Gekhman et al. 2024). Design: factgap.studies.s1; reports: factgap.reports.s1_*.
# S1 has no stage of its own: its training sets, runs and evaluations are the shared stages.


rule s1:
    """Study S1: fitting dynamics of Unknown examples and their cost."""
    input:
        study_figures("s1"),
    localrule: True
