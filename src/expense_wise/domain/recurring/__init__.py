"""Recurring expenses: templates from which a periodic job creates each occurrence once."""
