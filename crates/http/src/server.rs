//! The built-in HTTP/1.1 server (being written).
