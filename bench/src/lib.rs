//! `ferrobench`: a load generator for the memcached text protocol, and the two foundation
//! measurements that compare ferrocache with memcached (RSS of a full cache, latency stalls
//! across `flush_all` and a mass expiry).

pub mod conn;
pub mod fill;
pub mod keys;
pub mod load;
pub mod proto;
pub mod reply;
pub mod soak;
pub mod stall;
