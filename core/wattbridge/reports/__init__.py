"""The scan report: a self-contained HTML page with the recommendation, key figures and charts.

- :mod:`wattbridge.reports.svg`: dependency-free SVG primitives;
- :mod:`wattbridge.reports.charts`: the monthly, typical-day and payback charts;
- :mod:`wattbridge.reports.html`: the page;
- :mod:`wattbridge.reports.links`: signed, short-lived report links;
- :mod:`wattbridge.reports.service`: loads a completed scan and renders it.

See docs/report.md.
"""
