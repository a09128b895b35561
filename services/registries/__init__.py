"""Local stand-ins for the SDK registries: pypiserver, Verdaccio and a bare git repository."""
