"""Contract of the dispatch service, which owns the SMS, WhatsApp and Voice data plane."""
