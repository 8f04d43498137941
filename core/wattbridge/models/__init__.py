"""The domain models: plain frozen ``attrs`` classes, one module per resource.

Models hold data and domain helpers only; their wire form (camelCase keys,
strict input) belongs to :mod:`wattbridge.serialization`.
"""
