//! memcached's command-line flags (owned by the config author; placeholder).
