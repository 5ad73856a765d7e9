"""Analyses on top of runs: Eq. 1, calibration, design-space exploration, the Eq. 1 check, trace statistics."""
