"""Verify: one-time codes over WhatsApp, SMS and Voice, safe against Redis breaches and storms."""
