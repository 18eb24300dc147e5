//! The ferrocache server: accepts connections and speaks memcached's protocols.

pub mod config;
pub mod listen;

pub use config::Config;
pub use listen::Listener;
