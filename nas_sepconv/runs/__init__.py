"""A search as files on disk: the search job, the run directory, trial records, and the frontier
report (figures and pages)."""
