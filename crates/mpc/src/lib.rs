//! Sanctuary's three-party matching protocols over a two-method transport.

pub mod transport;
