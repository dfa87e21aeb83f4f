//! The report as a Japanese PDF: typst (through `typst-as-lib`) lays out the report's blocks
//! with the IPAex fonts (Gothic for headings, Mincho for text), which are embedded in the PDF.
//!
//! The fonts are not part of the program: they are read at run time from a directory given by
//! configuration (or [`FONT_DIR_ENV`]), else from where Debian's `fonts-ipaexfont-gothic` and
//! `fonts-ipaexfont-mincho` put them. A missing font is a clear error naming the packages.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use typst::foundations::{Array, Dict, IntoValue as _, Value};
use typst_as_lib::{TypstEngine, TypstTemplateMainFile};
use typst_layout::PagedDocument;

use super::Report;
use crate::{RespondError, Result};

/// The environment variable that names a directory holding `ipaexg.ttf` and `ipaexm.ttf`.
pub const FONT_DIR_ENV: &str = "MAMORI_REPORT_FONT_DIR";

/// IPAex Gothic's file name.
const GOTHIC: &str = "ipaexg.ttf";
/// IPAex Mincho's file name.
const MINCHO: &str = "ipaexm.ttf";

/// Where Debian's packages install the fonts (current layout first, then older ones).
const SYSTEM_DIRS: &[&str] = &[
    "/usr/share/fonts/opentype/ipaexfont-gothic",
    "/usr/share/fonts/opentype/ipaexfont-mincho",
    "/usr/share/fonts/truetype/ipaexfont-gothic",
    "/usr/share/fonts/truetype/ipaexfont-mincho",
    "/usr/share/fonts/opentype/ipaexfont",
    "/usr/share/fonts/truetype/ipaexfont",
];

static TEMPLATE: &str = include_str!("report.typ");

/// The IPAex fonts' bytes.
#[derive(Clone)]
pub struct ReportFonts {
    gothic: Vec<u8>,
    mincho: Vec<u8>,
}

impl std::fmt::Debug for ReportFonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportFonts")
            .field("gothic_bytes", &self.gothic.len())
            .field("mincho_bytes", &self.mincho.len())
            .finish()
    }
}

fn find(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
}

impl ReportFonts {
    /// Finds and reads the fonts: in `dir` when given, else in the directory [`FONT_DIR_ENV`]
    /// names, else in Debian's font directories.
    pub fn locate(dir: Option<&Path>) -> Result<Self> {
        let configured = dir
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(FONT_DIR_ENV).map(PathBuf::from));
        let dirs: Vec<PathBuf> = match &configured {
            Some(d) => vec![d.clone()],
            None => SYSTEM_DIRS.iter().map(PathBuf::from).collect(),
        };
        let (Some(g), Some(m)) = (find(GOTHIC, &dirs), find(MINCHO, &dirs)) else {
            let where_ = match &configured {
                Some(d) => format!("in {}", d.display()),
                None => format!("in {}", SYSTEM_DIRS.join(", ")),
            };
            return Err(RespondError::Render(format!(
                "the IPAex fonts ({GOTHIC}, {MINCHO}) were not found {where_}: install Debian's \
                 fonts-ipaexfont-gothic and fonts-ipaexfont-mincho, or set {FONT_DIR_ENV} to a \
                 directory holding both"
            )));
        };
        let read = |p: &Path| {
            std::fs::read(p)
                .map_err(|e| RespondError::Render(format!("reading the font {}: {e}", p.display())))
        };
        Ok(Self {
            gothic: read(&g)?,
            mincho: read(&m)?,
        })
    }
}

/// Renders reports as PDF. Built once (the fonts parsed once), used for many reports.
pub struct PdfRenderer {
    engine: TypstEngine<TypstTemplateMainFile>,
}

impl std::fmt::Debug for PdfRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfRenderer").finish_non_exhaustive()
    }
}

fn strings(it: impl IntoIterator<Item = String>) -> Value {
    Value::Array(it.into_iter().map(|s| s.into_value()).collect::<Array>())
}

impl PdfRenderer {
    /// A renderer with `fonts`.
    pub fn new(fonts: ReportFonts) -> Self {
        let engine = TypstEngine::builder()
            .main_file(TEMPLATE)
            .fonts([fonts.gothic, fonts.mincho])
            .build();
        Self { engine }
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
        let doc: PagedDocument = self
            .engine
            .compile_with_input(inputs)
            .output
            .map_err(|e| RespondError::Render(format!("typst: {e}")))?;
        typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default())
            .map_err(|e| RespondError::Render(format!("typst pdf: {e:?}")))
    }
}
