"""Messages between the functions and the one way every SQS queue is consumed.

- `retry`: the retry policy (jittered exponential backoff, capped) for every queue and for
  in-process HTTP retries: one table, one formula.
- `dead_letter`: the one dead-letter writer; every DLQ message carries the same attributes.
- `consumer`: one SQS consumer: record handlers raise `errors.Transient` / `errors.Permanent`,
  the consumer answers Lambda's partial batch response.
"""
