//! Statistics over seeds (placeholder; being written).
