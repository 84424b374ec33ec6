"""Notifications: alert state changes to Slack, email and webhooks (one module per channel).

`port.py` holds the event and the Notifier protocol; each channel adapter sends one AlertEvent and says how
it went, so the notify function can retry, remember where a message went (to update it when the alert
resolves) and never lose an alert.
"""
