"""Operators' command line: `python -m hubspot_app.ops --help`."""
