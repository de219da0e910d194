//! Gallery entry `separation`: Scale separation of the two layers (placeholder).

use crate::error::Result;
use crate::gallery::{Context, Entry, EntryResult};

/// Scale separation of the two layers.
pub struct ScaleSeparation;

impl Entry for ScaleSeparation {
    fn name(&self) -> &'static str {
        "separation"
    }

    fn title(&self) -> &'static str {
        "Scale separation of the two layers"
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
