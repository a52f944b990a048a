//! Validation errors that name their fields (rendered as DRF's `{"field": ["message"]}`).

use std::collections::BTreeMap;

/// Every problem found in one payload, by field path (`metadata`, `attachments[0].data`).
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {0:?}")]
pub struct ValidationErrors(pub BTreeMap<String, Vec<String>>);

impl ValidationErrors {
    /// One error on one field.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::default();
        e.add(field, message);
        e
    }

    /// Records an error on a field.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }

    /// Runs a field check, recording its error and returning the value on success.
    pub fn check<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        self.check_with(|| field.to_string(), r)
    }

    /// [`check`](Self::check) with a field name built only when `r` is an error (a name like
    /// `spans[3].events[1].attributes.agentsight.message.sender` costs an allocation that the
    /// valid input, the usual case, should not pay).
    pub fn check_with<T>(&mut self, field: impl FnOnce() -> String, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.add(field(), m);
                None
            }
        }
    }
}
