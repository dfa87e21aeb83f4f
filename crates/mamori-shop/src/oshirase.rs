//! The public notice (公表, お詫びとお知らせ) after an incident, and MyPage's "was my data
//! affected?".
//!
//! | route | what it does |
//! |---|---|
//! | `GET /oshirase/{incident}` | the published version of the incident's notice (404 when none is published) |
//! | `GET /oshirase/{incident}/inquiry` | the inquiry desk's form ([`crate::inquiry`]), linked from the notice |
//! | `GET /mypage/affected` | for the signed-in member: for each published notice, whether the incident's latest scope snapshot names them, with the kinds of their items |
//!
//! While a notice is published, every storefront page carries a banner linking it
//! ([`banner`], read into [`crate::ctx::Ctx`]); unpublishing ends it. The banner is kept in
//! memory ([`NoticeBoard`]) and read again from the store at each poll (`mamori serve`: every
//! 500 ms, as the incident switches), so a storefront request never reads the store for it and a
//! publish or withdrawal through any process shows on every process within one poll. The texts are staff's
//! words and the scope's counts (written by the back office through `mamori-respond`); the
//! storefront only reads the store's published rows, so it does not depend on the incident desk.
//! The member's answer is read from the scope snapshot (ids and field codes, never a value) and
//! recorded in the ledger as the member's own read (purpose `mypage.affected`).

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use mamori_store::{
    access::AccessEvent, scope_fields_of, Action, PublishedNoticeRow, Records, StoreError,
};
use mamori_web::{errors::AppError, labels::item_kinds, page::render};

use crate::{ctx::Ctx, fail, mypage::Member, state::ShopState};

/// The banner of a published notice (the newest first publication, when several are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeBanner {
    /// The incident (the page is `/oshirase/{id}`).
    pub id: i64,
    /// Japanese title.
    pub title_ja: String,
    /// English title.
    pub title_en: String,
}

/// The published notice's banner as this process knows it, shared by clones: every storefront
/// page reads it from memory, never the database. [`NoticeBoard::spawn_refresh`] reads the store
/// again every interval (`mamori serve` uses the incident switches' `REFRESH`), so a notice
/// published or withdrawn through any process on the same database shows on every process at
/// its next refresh, as the switches do. Until its first successful read, the board reads the
/// store on each request; after that a failed refresh keeps the last banner and is logged.
#[derive(Clone)]
pub struct NoticeBoard {
    store: Arc<dyn Records>,
    /// `None` until the first successful read; then the banner, if any.
    shown: Arc<RwLock<Option<Option<NoticeBanner>>>>,
}

impl std::fmt::Debug for NoticeBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeBoard")
            .field("shown", &self.current())
            .finish()
    }
}

impl NoticeBoard {
    /// A board over `store`, not read yet.
    pub fn new(store: Arc<dyn Records>) -> Self {
        Self {
            store,
            shown: Arc::new(RwLock::new(None)),
        }
    }

    fn current(&self) -> Option<Option<NoticeBanner>> {
        match self.shown.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn put(&self, banner: Option<NoticeBanner>) {
        match self.shown.write() {
            Ok(mut s) => *s = Some(banner),
            Err(p) => *p.into_inner() = Some(banner),
        }
    }

    /// Reads the published notices from the store and keeps the banner.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let rows = self.store.public_notices_published().await?;
        self.put(rows.into_iter().next().map(|r| NoticeBanner {
            id: r.incident_id,
            title_ja: r.title_ja,
            title_en: r.title_en,
        }));
        Ok(())
    }

    /// The banner to show now. Before the first successful read the store is read here; a
    /// failure then shows none (logged): the shop's pages stay up.
    pub async fn banner(&self) -> Option<NoticeBanner> {
        if let Some(shown) = self.current() {
            return shown;
        }
        match self.refresh().await {
            Ok(()) => self.current().flatten(),
            Err(err) => {
                tracing::warn!(error = %err, "published notices unavailable");
                None
            }
        }
    }

    /// Refreshes every `every` until the handle is aborted (the first read at once), as the
    /// incident switches are polled. A failed read keeps the last banner and is logged.
    pub fn spawn_refresh(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let board = self.clone();
        mamori_web::poll::spawn_every("the published notices", every, move || {
            let board = board.clone();
            async move { board.refresh().await }
        })
    }
}

/// The banner to show now, if a notice is published, from the shop's [`NoticeBoard`].
pub async fn banner(state: &ShopState) -> Option<NoticeBanner> {
    state.notices.banner().await
}

fn paragraphs(text: &str) -> Vec<Vec<String>> {
    text.split("\n\n")
        .map(|p| {
            p.lines()
                .map(|l| l.trim_end().to_owned())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

fn jst_date(unix: i64) -> (String, String) {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| {
            let t = crate::state::to_jst(t);
            (
                t.format("%Y年%-m月%-d日").to_string(),
                t.format("%-d %B %Y").to_string(),
            )
        })
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "oshirase.html")]
struct NoticePage {
    c: Ctx,
    id: i64,
    title: String,
    other_title: String,
    paragraphs: Vec<Vec<String>>,
    other_paragraphs: Vec<Vec<String>>,
    version: i64,
    published: String,
    updated: String,
}

/// The published notice of incident `id`, if its notice is published.
pub(crate) async fn published(
    state: &ShopState,
    id: i64,
) -> Result<Option<PublishedNoticeRow>, AppError> {
    Ok(state
        .store
        .public_notices_published()
        .await
        .map_err(fail("published notices"))?
        .into_iter()
        .find(|r| r.incident_id == id))
}

/// `GET /oshirase/{incident}`: the published version, in the page's language first and the other
/// language after it.
pub async fn show(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let row = published(&state, id).await?.ok_or(AppError::NotFound)?;
    let (first_ja, first_en) = jst_date(row.first_published_at);
    let (upd_ja, upd_en) = jst_date(row.changed_at);
    let (title, body, other_title, other_body) = if c.en() {
        (row.title_en, row.body_en, row.title_ja, row.body_ja)
    } else {
        (row.title_ja, row.body_ja, row.title_en, row.body_en)
    };
    Ok(render(&NoticePage {
        published: if c.en() { first_en } else { first_ja },
        updated: if c.en() { upd_en } else { upd_ja },
        c,
        id,
        title,
        other_title,
        paragraphs: paragraphs(&body),
        other_paragraphs: paragraphs(&other_body),
        version: row.version,
    }))
}

/// One published incident as the member's answer names it.
#[derive(Clone, Debug)]
pub struct AffectedLine {
    /// The incident (its notice is `/oshirase/{id}`).
    pub id: i64,
    /// The notice's title.
    pub title: String,
    /// Whether the latest scope names the member.
    pub affected: bool,
    /// The kinds of the member's items concerned (in the page's language).
    pub kinds: Vec<String>,
}

#[derive(Template)]
#[template(path = "mypage/affected.html")]
struct AffectedPage {
    c: Ctx,
    lines: Vec<AffectedLine>,
}

/// `GET /mypage/affected`: あなたの情報は影響を受けましたか.
pub async fn affected(
    State(state): State<Arc<ShopState>>,
    m: Member,
) -> Result<Response, AppError> {
    let notices = state
        .store
        .public_notices_published()
        .await
        .map_err(fail("published notices"))?;
    let mut lines = Vec::with_capacity(notices.len());
    let mut fields_read: Vec<String> = Vec::new();
    for n in notices {
        let scope = state
            .store
            .incident_scopes(n.incident_id)
            .await
            .map_err(fail("incident scopes"))?
            .pop();
        let fields = scope
            .map(|s| scope_fields_of(&s.content, &m.id))
            .unwrap_or_default();
        let kinds = item_kinds(fields.iter().map(String::as_str))
            .into_iter()
            .map(|(ja, en)| if m.c.en() { en } else { ja }.to_owned())
            .collect();
        fields_read.extend(fields.iter().cloned());
        lines.push(AffectedLine {
            id: n.incident_id,
            title: if m.c.en() { n.title_en } else { n.title_ja },
            affected: !fields.is_empty(),
            kinds,
        });
    }
    if !lines.is_empty() {
        // The member's own read of what the scopes say about them (field codes, no value).
        fields_read.sort();
        fields_read.dedup();
        let codes: Vec<&str> = fields_read.iter().map(String::as_str).collect();
        let event = AccessEvent::new(
            &m.c.accessor("mypage.affected"),
            Action::Read,
            vec![m.id.clone()],
            &codes,
        );
        state
            .gateway
            .ledger()
            .record(&event)
            .await
            .map_err(fail("ledger"))?;
    }
    Ok(render(&AffectedPage { c: m.c, lines }))
}
