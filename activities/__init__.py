"""Activities, one module per external system the portal calls."""
