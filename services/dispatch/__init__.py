"""Local dispatch server: the dispatch.v1 contract with faults and inboxes set at run time."""
