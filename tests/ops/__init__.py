"""Tests of operations: run lock, history and retention, resume, shards, both backends."""
