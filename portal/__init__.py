"""Core of the developer portal: settings, Temporal client, logging, metrics and the CLI."""
