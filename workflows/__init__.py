"""Durable processes of the portal, one module per workflow."""
