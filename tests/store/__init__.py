"""Tests of the snapshot store: migrations, writer, both backends."""
