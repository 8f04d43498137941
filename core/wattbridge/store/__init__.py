"""Storage: the narrow interface services use, and its SQLite implementation.

The control database holds projects and API keys; each environment has its own
database file (sandbox and live never share one), so isolation between the
environments is structural rather than a ``WHERE`` clause.
"""
