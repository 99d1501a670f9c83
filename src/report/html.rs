//! `report.html`: one self-contained page for people (placeholder until the page lands).

use super::{Render, Report};

pub struct Page;

impl Render for Page {
    fn file_name(&self) -> &'static str {
        "report.html"
    }
    fn render(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        Ok(format!("<!doctype html><title>residual {}</title>", r.meta.scan_id).into_bytes())
    }
}
