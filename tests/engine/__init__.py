"""Engine tests: a real Docker Engine, everything cleaned up by label."""
