"""Reports for people and CI besides JUnit/JSON (report.py): TAP 14, a Markdown summary,
one self-contained HTML page."""
