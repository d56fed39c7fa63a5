"""The rule engine and the built-in rule pack of ddaudit."""

from rules.evaluate import evaluate_scan
from rules.loader import load_rulepack
from rules.model import Finding, Rule, RulePack, RuleSettings, fingerprint
from rules.results import Evaluated, RuleRun
from rules.suppressions import (
    Suppression,
    Suppressions,
    SuppressionTracker,
    SuppressionUsage,
    describe_usage,
    load_suppressions,
)

__all__ = [
    "Evaluated",
    "Finding",
    "Rule",
    "RulePack",
    "RuleRun",
    "RuleSettings",
    "Suppression",
    "SuppressionTracker",
    "SuppressionUsage",
    "Suppressions",
    "describe_usage",
    "evaluate_scan",
    "fingerprint",
    "load_rulepack",
    "load_suppressions",
]
