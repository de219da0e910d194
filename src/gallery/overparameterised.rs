//! Gallery entry `overparameterised`: Over-parameterisation helps (placeholder).

use crate::error::Result;
use crate::gallery::{Context, Entry, EntryResult};

/// Over-parameterisation helps.
pub struct Overparameterised;

impl Entry for Overparameterised {
    fn name(&self) -> &'static str {
        "overparameterised"
    }

    fn title(&self) -> &'static str {
        "Over-parameterisation helps"
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
