"""ddaudit's scanner: configuration, Datadog client, collectors, snapshot store and pipeline."""

__version__ = "0.1.0"
