//! Gallery entry `features`: Random features against a trained first layer (placeholder).

use crate::error::Result;
use crate::gallery::{Context, Entry, EntryResult};

/// Random features against a trained first layer.
pub struct RandomFeatures;

impl Entry for RandomFeatures {
    fn name(&self) -> &'static str {
        "features"
    }

    fn title(&self) -> &'static str {
        "Random features against a trained first layer"
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
