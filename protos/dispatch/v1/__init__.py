"""dispatch.v1: send a message on a channel and read its delivery status."""
