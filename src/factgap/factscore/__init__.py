"""FActScore for study S3: people with a knowledge source, atomic facts, retrieval,
verification, scores and per-fact knowledge detection (pure cores; I/O at the edges)."""
