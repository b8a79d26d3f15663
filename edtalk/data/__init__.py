"""Data layer: clips, readers, video/audio IO, mel features, the synthtalk generator."""
