"""Wallet support assistant runtime."""
