"""Input validation shared by every environment.

- :mod:`wattbridge.validation.constraints`: per-field rules (ranges, lengths) that
  models declare in their field metadata and the converter checks while structuring;
- :mod:`wattbridge.validation.scans`: the CreateScan rules, including the ones
  that relate several fields.

This package deliberately imports nothing eagerly: models import the constraints,
and the scan rules import the models.
"""
