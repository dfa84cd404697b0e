"""The shell: load rows, call the pure core, stage writes (flush, never commit)."""
