"""Safety rules that are about the conversation, not about stored data: scam talk (scam.py)."""
