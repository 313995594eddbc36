"""Natural-language understanding: normalisation, intent classification, entity extraction."""
