"""Acceptance traces: the file format, replay, synthetic generators and importers of real tools' logs."""
