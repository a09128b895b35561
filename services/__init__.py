"""Local stand-ins for services other teams run: the auth-service and dispatch."""
