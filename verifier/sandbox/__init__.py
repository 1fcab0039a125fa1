"""Process isolation for untrusted code: namespaces, limits, scrubbed environment, private channel."""
