//! Reduced limit equations (placeholder; being written).
