"""Tests of the rule engine and the built-in rule pack."""
