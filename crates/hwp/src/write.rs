//! Makes documents at test time (HWP 5.0 and HWPX) for the callers'
//! integration tests and benchmarks.
