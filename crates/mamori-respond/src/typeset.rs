//! What the desk's PDFs share: the IPAex fonts, read at run time, and the typst engine over a
//! template whose every value comes in as `sys.inputs` (strings, arrays, dictionaries), so that
//! nothing typed by staff or stored for a customer is ever read as typst markup.
//!
//! The fonts are not part of the program: they are read from a directory given by
//! configuration (or [`FONT_DIR_ENV`]), else from where Debian's `fonts-ipaexfont-gothic` and
//! `fonts-ipaexfont-mincho` put them. A missing font is a clear error naming the packages.
//! Used by the PPC report ([`crate::report::pdf`]) and the notices' letters
//! ([`crate::notices::letter`]).

use std::path::{Path, PathBuf};

use typst::foundations::{Array, Dict, IntoValue as _, Value};
use typst_as_lib::{TypstEngine, TypstTemplateMainFile};
use typst_layout::PagedDocument;

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

/// A typst template with the IPAex fonts, compiled again for each set of inputs. Built once (the
/// fonts parsed once), used for many documents.
pub(crate) struct Typesetter {
    engine: TypstEngine<TypstTemplateMainFile>,
}

impl Typesetter {
    /// The engine over `template` (a typst source that reads only `sys.inputs`).
    pub(crate) fn new(template: &'static str, fonts: ReportFonts) -> Self {
        let engine = TypstEngine::builder()
            .main_file(template)
            .fonts([fonts.gothic, fonts.mincho])
            .build();
        Self { engine }
    }

    /// Lays the template out with `inputs`.
    pub(crate) fn layout(&self, inputs: Dict) -> Result<PagedDocument> {
        self.engine
            .compile_with_input(inputs)
            .output
            .map_err(|e| RespondError::Render(format!("typst: {e}")))
    }

    /// A laid-out document as PDF bytes.
    pub(crate) fn pdf(doc: &PagedDocument) -> Result<Vec<u8>> {
        typst_pdf::pdf(doc, &typst_pdf::PdfOptions::default())
            .map_err(|e| RespondError::Render(format!("typst pdf: {e:?}")))
    }
}

/// An array of strings as a typst value.
pub(crate) fn strings(it: impl IntoIterator<Item = String>) -> Value {
    Value::Array(it.into_iter().map(|s| s.into_value()).collect::<Array>())
}
