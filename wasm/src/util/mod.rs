//! Small panic-free building blocks shared by every decoder module.
pub mod bounded;
pub mod bytes;
pub mod error;
pub mod index_map;
pub mod json;
