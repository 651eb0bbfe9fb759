//! The #[server_function] attribute.
