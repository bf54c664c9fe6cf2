"""The campaign directory is the store: atomic shards, per-record journals, Parquet."""
