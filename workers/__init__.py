"""Worker processes that run the portal's workflows and activities."""
