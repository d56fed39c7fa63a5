"""Notifications: one digest per scan and `[[notify]]` sink (webhook, Slack, e-mail, Datadog).

`after_scan` is what `ddaudit scan` calls; `notify_scan` and `plan` back `ddaudit notify
--scan ID [--dry-run]`; docs/notifications.md describes the messages and the dedup rule.
"""

from reports.notify.ledger import Delivery, deliveries
from reports.notify.service import after_scan, check_sinks, notify_scan, plan

__all__ = ["Delivery", "after_scan", "check_sinks", "deliveries", "notify_scan", "plan"]
