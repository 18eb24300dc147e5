//! Listening sockets (owned by the config author; placeholder).
