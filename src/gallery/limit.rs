//! Gallery entry `limit`: Finite-m convergence to the limit (placeholder).

use crate::error::Result;
use crate::gallery::{Context, Entry, EntryResult};

/// Finite-m convergence to the limit.
pub struct FiniteWidth;

impl Entry for FiniteWidth {
    fn name(&self) -> &'static str {
        "limit"
    }

    fn title(&self) -> &'static str {
        "Finite-m convergence to the limit"
    }

    fn run(&self, _ctx: &Context<'_>) -> Result<EntryResult> {
        Ok(EntryResult {
            name: self.name().into(),
            title: self.title().into(),
            figures: Vec::new(),
            numbers: Default::default(),
            checks: Vec::new(),
            seconds: 0.0,
        })
    }
}
