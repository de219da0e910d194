//! Sweep figures (placeholder; being written).
