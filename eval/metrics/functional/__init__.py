"""Pure metric maths: arrays in, numbers out. No files, no networks, no state."""
