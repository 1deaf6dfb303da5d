"""Backups of the database and receipts, verified restores and retention (`expense-wise backup`).

A backup is three objects side by side in a target (an S3 prefix or a local directory):
`<id>.dump` (a stock `pg_dump -Fc` archive), `<id>.receipts.tar` (local receipt storage only)
and `<id>.json`, the manifest. The manifest is written last: a backup without one is
unfinished and is never listed, verified or restored.
"""
