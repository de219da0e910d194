//! Gallery entry `lazy`: Lazy against mean-field training (placeholder).

use crate::error::Result;
use crate::gallery::{Context, Entry, EntryResult};

/// Lazy against mean-field training.
pub struct LazyAgainstMeanField;

impl Entry for LazyAgainstMeanField {
    fn name(&self) -> &'static str {
        "lazy"
    }

    fn title(&self) -> &'static str {
        "Lazy against mean-field training"
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
