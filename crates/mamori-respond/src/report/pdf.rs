//! The report as a Japanese PDF: typst (through `typst-as-lib`) lays out the report's blocks
//! with the IPAex fonts (Gothic for headings, Mincho for text), which are embedded in the PDF.
//!
//! The fonts are not part of the program: they are read at run time from a directory given by
//! configuration (or [`FONT_DIR_ENV`]), else from where Debian's `fonts-ipaexfont-gothic` and
//! `fonts-ipaexfont-mincho` put them. A missing font is a clear error naming the packages.

use std::path::Path;
use std::sync::OnceLock;

use typst::foundations::{Array, Dict, IntoValue as _, Value};

use super::Report;
use crate::typeset::{strings, Typesetter};
use crate::Result;

pub use crate::typeset::{ReportFonts, FONT_DIR_ENV};

static TEMPLATE: &str = include_str!("report.typ");

/// Renders reports as PDF. Built once (the fonts parsed once), used for many reports.
pub struct PdfRenderer {
    typesetter: Typesetter,
}

impl std::fmt::Debug for PdfRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfRenderer").finish_non_exhaustive()
    }
}

impl PdfRenderer {
    /// A renderer with `fonts`.
    pub fn new(fonts: ReportFonts) -> Self {
        Self {
            typesetter: Typesetter::new(TEMPLATE, fonts),
        }
    }

    /// One renderer for the whole process, built on first use with the fonts of
    /// [`ReportFonts::locate`]`(dir)`. A failure is not kept: fonts installed later are found
    /// by the next call.
    pub fn shared(dir: Option<&Path>) -> Result<&'static PdfRenderer> {
        static SHARED: OnceLock<PdfRenderer> = OnceLock::new();
        if let Some(r) = SHARED.get() {
            return Ok(r);
        }
        let built = PdfRenderer::new(ReportFonts::locate(dir)?);
        Ok(SHARED.get_or_init(|| built))
    }

    /// The report as PDF bytes.
    pub fn render(&self, report: &Report) -> Result<Vec<u8>> {
        let mut inputs = Dict::new();
        inputs.insert("title".into(), report.title_ja().into_value());
        inputs.insert("header".into(), strings(report.header_lines()));
        let blocks: Array = report
            .blocks()
            .into_iter()
            .map(|b| {
                let mut d = Dict::new();
                d.insert("heading".into(), b.heading.into_value());
                d.insert("body".into(), b.body.into_value());
                Value::Dict(d)
            })
            .collect();
        inputs.insert("blocks".into(), Value::Array(blocks));
        let doc = self.typesetter.layout(inputs)?;
        Typesetter::pdf(&doc)
    }
}
