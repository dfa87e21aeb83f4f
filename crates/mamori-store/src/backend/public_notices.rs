//! [`PublicNoticeStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::incidents::with_next_number;
use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::store::{
    PublicNoticeStateRow, PublicNoticeStore, PublicNoticeVersionRow, PublishedNoticeRow,
};

/// The columns of [`PublicNoticeVersionRow`], in its field order.
macro_rules! version_columns {
    () => {
        "incident_id, version, saved_at, saved_by, reason, scope_id, title_ja, body_ja, title_en, \
         body_en, content_sha256"
    };
}

macro_rules! impl_public_notice_store {
    ($store:ty) => {
        #[async_trait]
        impl PublicNoticeStore for $store {
            async fn public_notice_save(&self, r: &PublicNoticeVersionRow) -> Result<i64> {
                with_next_number(|| {
                    sqlx::query_scalar(
                        "INSERT INTO public_notice_versions (incident_id, version, saved_at, \
                         saved_by, reason, scope_id, title_ja, body_ja, title_en, body_en, \
                         content_sha256) \
                         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, \
                         $9, $10 FROM public_notice_versions WHERE incident_id = $1 \
                         RETURNING version",
                    )
                    .bind(r.incident_id)
                    .bind(r.saved_at)
                    .bind(&r.saved_by)
                    .bind(&r.reason)
                    .bind(&r.scope_id)
                    .bind(&r.title_ja)
                    .bind(&r.body_ja)
                    .bind(&r.title_en)
                    .bind(&r.body_en)
                    .bind(&r.content_sha256)
                    .fetch_one(self.pool())
                })
                .await
            }

            async fn public_notice_versions(
                &self,
                incident_id: i64,
            ) -> Result<Vec<PublicNoticeVersionRow>> {
                Ok(sqlx::query_as::<_, PublicNoticeVersionRow>(concat!(
                    "SELECT ",
                    version_columns!(),
                    " FROM public_notice_versions WHERE incident_id = $1 ORDER BY version"
                ))
                .bind(incident_id)
                .fetch_all(self.pool())
                .await?)
            }

            async fn public_notice_set_shown(
                &self,
                incident_id: i64,
                version: Option<i64>,
                at: i64,
                by: &str,
            ) -> Result<bool> {
                let done = match version {
                    Some(v) => {
                        sqlx::query(
                            "INSERT INTO public_notices (incident_id, version, changed_at, \
                             changed_by, first_published_at) \
                             SELECT incident_id, version, $3, $4, $3 FROM public_notice_versions \
                             WHERE incident_id = $1 AND version = $2 \
                             ON CONFLICT (incident_id) DO UPDATE SET version = excluded.version, \
                             changed_at = excluded.changed_at, changed_by = excluded.changed_by",
                        )
                        .bind(incident_id)
                        .bind(v)
                        .bind(at)
                        .bind(by)
                        .execute(self.pool())
                        .await?
                    }
                    None => {
                        sqlx::query(
                            "UPDATE public_notices SET version = NULL, changed_at = $2, \
                             changed_by = $3 WHERE incident_id = $1 AND version IS NOT NULL",
                        )
                        .bind(incident_id)
                        .bind(at)
                        .bind(by)
                        .execute(self.pool())
                        .await?
                    }
                };
                Ok(done.rows_affected() == 1)
            }

            async fn public_notice_state(
                &self,
                incident_id: i64,
            ) -> Result<Option<PublicNoticeStateRow>> {
                Ok(sqlx::query_as::<_, PublicNoticeStateRow>(
                    "SELECT incident_id, version, changed_at, changed_by, first_published_at \
                     FROM public_notices WHERE incident_id = $1",
                )
                .bind(incident_id)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn public_notices_published(&self) -> Result<Vec<PublishedNoticeRow>> {
                Ok(sqlx::query_as::<_, PublishedNoticeRow>(
                    "SELECT p.incident_id, v.version, p.changed_at, p.first_published_at, \
                     v.title_ja, v.body_ja, v.title_en, v.body_en \
                     FROM public_notices p JOIN public_notice_versions v \
                     ON v.incident_id = p.incident_id AND v.version = p.version \
                     WHERE p.version IS NOT NULL \
                     ORDER BY p.first_published_at DESC, p.incident_id DESC",
                )
                .fetch_all(self.pool())
                .await?)
            }
        }
    };
}

impl_public_notice_store!(SqliteStore);
impl_public_notice_store!(PgStore);
