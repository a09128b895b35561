"""A local issue tracker serving the subset of the GitHub Issues REST API the portal uses."""
