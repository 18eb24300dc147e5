//! Differential harness (see tests/).
