"""Local AWS (S3, CloudFront, KMS) for `portal up`: moto with its state kept on disk.

Plain moto keeps everything in memory, so a restart would lose the KMS keys
that wrap the Verify pepper and the Temporal payload data keys, and every
ciphertext in Redis and in Temporal histories would become unreadable. This
server snapshots moto's backends to a file and loads them again at start.
"""
