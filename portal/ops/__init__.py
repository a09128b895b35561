"""On-call tools: find failed workflows, replay, reset and export their histories.

`portal ops --help` lists the commands; docs/operations.md explains when to use each.
"""
