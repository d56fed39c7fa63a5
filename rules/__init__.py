"""The rule engine and the built-in rule pack of ddaudit."""

from rules.engine import evaluate_scan
from rules.loader import load_rulepack
from rules.model import Finding, Rule, RulePack, RuleSettings, fingerprint
from rules.suppressions import Suppression, Suppressions, SuppressionUsage, load_suppressions

__all__ = [
    "Finding",
    "Rule",
    "RulePack",
    "RuleSettings",
    "Suppression",
    "SuppressionUsage",
    "Suppressions",
    "evaluate_scan",
    "fingerprint",
    "load_rulepack",
    "load_suppressions",
]
