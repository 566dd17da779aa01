"""Validation-only studies behind docs/experiments.md; run each from the repository root as
`python3 -m experiments.NAME --help`."""
