//! Letters for the notices that bounced for good (本人通知 by post, 施行規則10条): the same
//! parts as the person's mail ([`super::sections`]: the operator's words frozen with the run,
//! the person's own items from the run's scope, the warning), laid out by typst on A4 for a
//! 長形3号 window envelope (`letter.typ` says where the window is), batched into print files.
//!
//! A print batch is at most [`LETTER_BATCH`] letters (the letters to send in run order, cut in
//! turn): one PDF and one CSV list for the print shop. Its names and addresses are read through
//! the gateway ([`mamori_store::Gateway::letter_addresses`]) in ONE ledger read event naming the
//! batch's people, by the notice job (whose read budget is sized for a run), with the incident,
//! the batch and who asked for it in its reason; the batch is noted on the incident's timeline
//! by who asked. Nothing is stored: the files are made on demand, and once downloaded
//! they are plaintext outside mamori's protection (SECURITY.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike as _, FixedOffset, Utc};
use mamori_store::gateway::{LetterAddress, NOTICE_JOB};
use mamori_store::{Accessor, Principal};
use typst::foundations::{Array, Dict, IntoValue as _, Value};

use super::{items_ja, opening, saved_people, sections, shop_name, NoticeDraft, NOTICE_TITLE};
use crate::desk::{principal_text, Desk};
use crate::kind::EntryKind;
use crate::typeset::{strings, ReportFonts, Typesetter};
use crate::{RespondError, Result};

/// Letters per print file (what a print shop takes as one job).
pub const LETTER_BATCH: usize = 1_000;
/// The purpose of a print batch's read event.
pub const LETTER_PURPOSE: &str = "incident.letters";

static TEMPLATE: &str = include_str!("letter.typ");

/// How the letters of an incident are cut into print files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LetterPlan {
    /// Letters to send (permanent bounces).
    pub letters: usize,
    /// Letters per print file.
    pub batch_size: usize,
    /// Print files.
    pub batches: usize,
}

/// The shop as the sender (差出人) of the letters, from the shop settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LetterSender {
    /// The shop's name.
    pub name: String,
    /// Its address.
    pub address: String,
    /// Its phone.
    pub phone: String,
    /// 代表者 (運営統括責任者); with it, the seal position (印) is printed beside it.
    pub representative: String,
}

/// One letter: the person's name and address as the gateway opened them, and their items.
/// Its Debug shows no value (the address parts are [`mamori_domain::Personal`]).
#[derive(Clone, Debug)]
pub struct LetterInput {
    /// Name and address.
    pub address: LetterAddress,
    /// The person's own items, in Japanese (as in their mail).
    pub items: Vec<String>,
}

/// A print batch read from the store, ready to lay out.
#[derive(Clone, Debug)]
pub struct LetterBatchInput {
    /// The incident.
    pub incident_id: i64,
    /// The batch's number (1-based).
    pub number: usize,
    /// How many batches the incident's letters make.
    pub of: usize,
    /// The date printed on the letters (`2026年12月7日`).
    pub date: String,
    /// The sender.
    pub sender: LetterSender,
    /// The run's frozen draft.
    pub draft: NoticeDraft,
    /// The letters, in run order.
    pub letters: Vec<LetterInput>,
    /// Notices of the batch whose person has no postal address (erased, or with neither an
    /// order nor an address-book entry in their own name).
    pub no_address: usize,
    /// Canaries left out.
    pub canaries: u64,
}

/// A laid-out print batch.
#[derive(Clone)]
pub struct LetterBatch {
    /// The incident.
    pub incident_id: i64,
    /// The batch's number (1-based).
    pub number: usize,
    /// How many batches there are.
    pub of: usize,
    /// Letters in it.
    pub letters: usize,
    /// Notices of the batch left without a letter (no postal address).
    pub no_address: usize,
    /// Every page, for printing.
    pub pdf: Vec<u8>,
    /// The print shop's list (UTF-8 with a BOM).
    pub csv: Vec<u8>,
}

impl std::fmt::Debug for LetterBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LetterBatch")
            .field("incident_id", &self.incident_id)
            .field("number", &self.number)
            .field("of", &self.of)
            .field("letters", &self.letters)
            .field("pdf_bytes", &self.pdf.len())
            .finish_non_exhaustive()
    }
}

impl LetterBatch {
    /// The file names' stem: `letters-<incident>-<batch>of<batches>`.
    pub fn stem(&self) -> String {
        format!(
            "letters-{}-{:03}of{:03}",
            self.incident_id, self.number, self.of
        )
    }
}

/// A date as letters print it (`2026年12月7日`, in Japan's time).
pub fn letter_date(at: DateTime<Utc>) -> String {
    // +09:00 is always a valid offset.
    let jst = FixedOffset::east_opt(9 * 3600).map_or_else(
        || at.naive_utc().date(),
        |o| at.with_timezone(&o).date_naive(),
    );
    format!("{}年{}月{}日", jst.year(), jst.month(), jst.day())
}

/// Lays out print batches. Built once (the fonts parsed once), used for many batches.
pub struct LetterRenderer {
    typesetter: Typesetter,
}

impl std::fmt::Debug for LetterRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LetterRenderer").finish_non_exhaustive()
    }
}

fn dict(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    let mut d = Dict::new();
    for (k, v) in pairs {
        d.insert(k.into(), v);
    }
    Value::Dict(d)
}

impl LetterRenderer {
    /// A renderer with `fonts`.
    pub fn new(fonts: ReportFonts) -> Self {
        Self {
            typesetter: Typesetter::new(TEMPLATE, fonts),
        }
    }

    /// One renderer for the whole process, built on first use with the fonts of
    /// [`ReportFonts::locate`]`(dir)`. A failure is not kept.
    pub fn shared(dir: Option<&Path>) -> Result<&'static LetterRenderer> {
        static SHARED: OnceLock<LetterRenderer> = OnceLock::new();
        if let Some(r) = SHARED.get() {
            return Ok(r);
        }
        let built = LetterRenderer::new(ReportFonts::locate(dir)?);
        Ok(SHARED.get_or_init(|| built))
    }

    /// The batch's PDF (each letter from a new page) and its CSV list.
    pub fn render(&self, batch: &LetterBatchInput) -> Result<LetterBatch> {
        if batch.letters.is_empty() {
            return Err(RespondError::Invalid(
                "no letter in this batch has a postal address",
            ));
        }
        let s = &batch.sender;
        let mut sender_lines = Vec::new();
        if !s.address.trim().is_empty() {
            sender_lines.push(s.address.trim().to_owned());
        }
        if !s.phone.trim().is_empty() {
            sender_lines.push(format!("電話 {}", s.phone.trim()));
        }
        let letters: Array = batch
            .letters
            .iter()
            .map(|l| {
                let a = &l.address;
                let parts: Array = sections(&l.items, &batch.draft)
                    .into_iter()
                    .map(|sec| {
                        dict([
                            ("heading", sec.heading.into_value()),
                            ("body", sec.body.into_value()),
                        ])
                    })
                    .collect();
                let name = a
                    .name
                    .as_ref()
                    .map(|n| n.expose().clone())
                    .unwrap_or_else(|| "お客様".to_owned());
                dict([
                    ("reference", a.notice_id.as_str().into_value()),
                    ("postal", a.postal_code.expose().as_str().into_value()),
                    ("locality", a.locality.expose().as_str().into_value()),
                    ("lines", strings(a.lines.iter().map(|l| l.expose().clone()))),
                    ("name", name.into_value()),
                    ("sections", Value::Array(parts)),
                ])
            })
            .collect();
        let mut inputs = Dict::new();
        inputs.insert("title".into(), NOTICE_TITLE.into_value());
        inputs.insert("date".into(), batch.date.as_str().into_value());
        inputs.insert("opening".into(), opening(&s.name).into_value());
        inputs.insert(
            "shop".into(),
            dict([
                ("name", shop_name(s.name.trim()).into_value()),
                ("lines", strings(sender_lines)),
                ("representative", s.representative.trim().into_value()),
            ]),
        );
        inputs.insert("letters".into(), Value::Array(letters));
        let doc = self.typesetter.layout(inputs)?;
        // Each letter resets the page counter: a page numbered 1 starts the next letter.
        let starts: Vec<usize> = doc
            .pages()
            .iter()
            .enumerate()
            .filter(|(_, p)| p.number == 1)
            .map(|(i, _)| i + 1)
            .collect();
        if starts.len() != batch.letters.len() {
            return Err(RespondError::Render(format!(
                "the print file has {} letter starts for {} letters",
                starts.len(),
                batch.letters.len()
            )));
        }
        let total_pages = doc.pages().len();
        let pdf = Typesetter::pdf(&doc)?;
        let csv = print_list(batch, &starts, total_pages)?;
        Ok(LetterBatch {
            incident_id: batch.incident_id,
            number: batch.number,
            of: batch.of,
            letters: batch.letters.len(),
            no_address: batch.no_address,
            pdf,
            csv,
        })
    }
}

/// The print shop's list: one row per letter with what the shop needs to match a letter to
/// its pages and mail it (batch, number in the batch, pages, postal code for the postal
/// discount's sorting, and the letter's reference printed in its footer; no name or street).
/// UTF-8 with a byte-order mark, which Japanese print shops' upload forms and Excel read as
/// UTF-8 (without it, Excel assumes Shift_JIS and garbles the Japanese header).
fn print_list(batch: &LetterBatchInput, starts: &[usize], total_pages: usize) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let err = |e: csv::Error| RespondError::Render(format!("csv: {e}"));
    w.write_record(["バッチ", "連番", "ページ", "郵便番号", "参照番号"])
        .map_err(err)?;
    for (i, l) in batch.letters.iter().enumerate() {
        let first = starts[i];
        let last = starts.get(i + 1).map_or(total_pages, |n| n - 1);
        let pages = if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        };
        w.write_record([
            format!("{}/{}", batch.number, batch.of),
            (i + 1).to_string(),
            pages,
            l.address.postal_code.expose().clone(),
            l.address.notice_id.clone(),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| RespondError::Render(format!("csv: {e}")))
}

impl Desk {
    /// How the incident's letters to send are cut into print files of `batch_size`.
    pub async fn letter_plan(&self, incident_id: i64, batch_size: usize) -> Result<LetterPlan> {
        let batch_size = batch_size.max(1);
        let letters = self.letters_to_send(incident_id).await?.len();
        Ok(LetterPlan {
            letters,
            batch_size,
            batches: letters.div_ceil(batch_size),
        })
    }

    /// Reads print batch `number` (1-based) of the incident's letters to send, cut by
    /// `batch_size`: the names and addresses through the gateway in one read event by `by`
    /// (purpose [`LETTER_PURPOSE`], the incident and batch in its reason), each person's items
    /// from the run's scope, the run's frozen draft; and notes the batch on the timeline.
    pub async fn letter_batch(
        &self,
        incident_id: i64,
        by: &Principal,
        number: usize,
        batch_size: usize,
    ) -> Result<LetterBatchInput> {
        let batch_size = batch_size.max(1);
        let records = self.gateway().records();
        let Some(run) = records.notice_run(incident_id).await? else {
            return Err(RespondError::Invalid(
                "no notice run was started for this incident",
            ));
        };
        let all = self.letters_to_send(incident_id).await?;
        let of = all.len().div_ceil(batch_size);
        if number == 0 || number > of {
            return Err(RespondError::Invalid("no such print batch"));
        }
        let chunk = all
            .chunks(batch_size)
            .nth(number - 1)
            .ok_or(RespondError::Invalid("no such print batch"))?;
        let draft: NoticeDraft = serde_json::from_str(&run.draft)
            .map_err(|_| RespondError::Invalid("the run's draft cannot be read"))?;
        let scope_row = records
            .incident_scopes(incident_id)
            .await?
            .into_iter()
            .find(|s| s.id == run.scope_id)
            .ok_or(RespondError::Invalid("the run's scope snapshot is gone"))?;
        let people: BTreeMap<String, BTreeSet<String>> = saved_people(&scope_row.content)?;
        let settings = self.shop_settings().await?;
        // Read as the notice job, which read these people for their mail already: its read
        // budget is sized for a run (a member of staff's, 120 a minute, would stop them at the
        // first print file of 1,000). Who asked is named in the reason, on the timeline and, in
        // the back office, in the staff log.
        let acc = Accessor {
            principal: Principal::System(NOTICE_JOB.to_owned()),
            purpose: LETTER_PURPOSE.to_owned(),
            request_id: format!("incident:{incident_id}"),
            channel: None,
            reason: Some(format!(
                "本人通知の郵送：インシデント {incident_id} 印刷ファイル {number}/{of}（{} 通）、依頼者 {}",
                chunk.len(),
                principal_text(by)
            )),
        };
        let read = self.gateway().letter_addresses(&acc, chunk).await?;
        let letters: Vec<LetterInput> = read
            .letters
            .into_iter()
            .map(|address| {
                let fields: Vec<String> = people
                    .get(&address.customer_id)
                    .map(|f| f.iter().cloned().collect())
                    .unwrap_or_default();
                LetterInput {
                    items: items_ja(&fields),
                    address,
                }
            })
            .collect();
        self.append(
            incident_id,
            by,
            EntryKind::StaffAction,
            &format!(
                "本人通知の郵送用印刷ファイル {number}/{of} を作成：{} 通（住所なし {} 件）、作成者 {}",
                letters.len(),
                read.no_address.len(),
                principal_text(by)
            ),
            None,
        )
        .await?;
        Ok(LetterBatchInput {
            incident_id,
            number,
            of,
            date: letter_date(Utc::now()),
            sender: LetterSender {
                name: settings.name,
                address: settings.address,
                phone: settings.phone,
                representative: settings.representative,
            },
            draft,
            letters,
            no_address: read.no_address.len(),
            canaries: read.canaries,
        })
    }
}
