//! Gallery entry `convergence`: Global convergence in the mean-field regime (placeholder).

use crate::error::Result;
use crate::gallery::{Context, Entry, EntryResult};

/// Global convergence in the mean-field regime.
pub struct GlobalConvergence;

impl Entry for GlobalConvergence {
    fn name(&self) -> &'static str {
        "convergence"
    }

    fn title(&self) -> &'static str {
        "Global convergence in the mean-field regime"
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
