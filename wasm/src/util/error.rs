//! Decode errors: what failed, which field, why — reported, never fatal.

/// One decode failure; `what` names the object and field, `why` the violated rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub what: &'static str,
    pub why: &'static str,
    /// The offending value (a length, a type code...), 0 when not meaningful.
    pub got: u64,
}

impl DecodeError {
    /// A new error.
    pub const fn new(what: &'static str, why: &'static str, got: u64) -> Self {
        DecodeError { what, why, got }
    }
}

/// Result alias used by every checked view.
pub type Result<T> = core::result::Result<T, DecodeError>;
