"""HubSpot association labels, which the Airbyte connector drops: our own reader.

- `pairs`: which (from, to) object pairs are read, and the scopes each needs.
- `crm`: the two HubSpot calls it makes (CRM v3 objects list for ids, v4 associations batch
  read), rate-limited and classified (429, 5xx, missing scopes).
- `snapshot`: one account's snapshot, read in steps that fit a Lambda invocation: gzip JSON Lines
  chunks, then the manifest, under the lake's raw prefix (the contract: glue/README.md,
  "Association labels").
- `queue`: the daily fan-out, the queue's message and its record handler (continuations,
  revoked tokens).
"""
