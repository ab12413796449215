"""Curated-layer library of the HubSpot Glue job (shipped to Glue with --extra-py-files)."""
