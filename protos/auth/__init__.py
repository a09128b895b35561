"""gRPC contracts and their generated Python code."""
