//! Gallery entry `langevin`: Mean-field Langevin dynamics (placeholder).

use crate::error::Result;
use crate::gallery::{Context, Entry, EntryResult};

/// Mean-field Langevin dynamics.
pub struct Langevin;

impl Entry for Langevin {
    fn name(&self) -> &'static str {
        "langevin"
    }

    fn title(&self) -> &'static str {
        "Mean-field Langevin dynamics"
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
