"""Shared plumbing: the input-error type, strict config reading, bundled files and atomic output files."""
