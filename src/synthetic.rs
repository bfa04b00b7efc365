//! A synthetic log for benchmarks and tests (being written).
