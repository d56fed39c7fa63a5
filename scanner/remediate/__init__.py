"""Remediation: plans from stored findings, applied with a separate write key pair, recorded."""
