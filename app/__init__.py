"""Partnership engagement pulse API."""
