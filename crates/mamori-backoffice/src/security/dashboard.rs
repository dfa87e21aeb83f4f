//! `GET /security`: the security dashboard. Every figure is a count from the store (ledger
//! events, alerts, CSP report aggregates, payment attempts, the staff log, the mass-read limits'
//! counters); nothing personal is read, so the page makes no gateway call and records no access.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use chrono::TimeZone as _;
use mamori_staff::Role;
use mamori_store::{BucketCount, PrincipalBucketCount, Records};
use mamori_web::{errors::AppError, page::render};
use serde::Deserialize;

use super::plots::{lines_svg, Series};
use super::{Window, Words};
use crate::{
    ctx::Ctx,
    fail,
    state::{fmt_secs, jst, BackofficeState},
};

/// Principals drawn one by one in the by-principal plot; the rest are summed as "others".
pub const TOP_PRINCIPALS: usize = 5;
/// Rows of the "customers opened today" table.
pub const TOP_OPENERS: i64 = 10;

/// The staff-log actions of a sign-in and of a failed one.
pub const SIGN_IN: &str = "auth.login";
/// See [`SIGN_IN`]: a wrong password, second factor or recovery code, or a locked or disabled
/// account (written by the sign-in pages).
pub const SIGN_IN_FAILED: &str = "auth.login_failed";

/// `GET /security?w=24h|7d`.
#[derive(Debug, Default, Deserialize)]
pub struct DashQuery {
    /// The window: `24h` (default) or `7d`.
    pub w: Option<String>,
}

/// One plot with the totals of its series (the same figures as a table).
#[derive(Clone, Debug)]
pub struct Plot {
    /// Element id.
    pub id: &'static str,
    /// Heading.
    pub title: String,
    /// The SVG (drawn by us from counts only, so rendered unescaped).
    pub svg: Option<String>,
    /// `(series, total in the window)`.
    pub totals: Vec<(String, i64)>,
}

/// A row of the "customers opened today" table.
#[derive(Clone, Debug)]
pub struct OpenerRow {
    /// Who (a staff member's name and role, a job's name, a customer or guest session).
    pub who: String,
    /// The principal's key (`staff:<id>`, ...).
    pub key: String,
    /// Distinct customers opened in plaintext today.
    pub customers: i64,
}

#[derive(Template)]
#[template(path = "security/dashboard.html")]
struct DashboardPage {
    c: Ctx,
    window: &'static str,
    from: String,
    to: String,
    today: String,
    plots: Vec<Plot>,
    openers: Vec<OpenerRow>,
}

/// Who a principal is, as the page names it: `(role-ish group, name)`.
struct Names {
    staff: HashMap<String, (String, Option<Role>)>,
}

impl Names {
    async fn load(records: &dyn Records) -> Result<Self, AppError> {
        let staff = records
            .staff_list()
            .await
            .map_err(fail("staff list"))?
            .into_iter()
            .map(|s| (s.id, (s.display_name, Role::parse(&s.role))))
            .collect();
        Ok(Names { staff })
    }

    /// The group a principal's reads are drawn under in the by-role plot.
    fn group(&self, c: Words, kind: &str, id: &str) -> String {
        match kind {
            "staff" => match self.staff.get(id) {
                Some((_, Some(role))) => {
                    format!("{}{}", c.t("スタッフ：", "Staff: "), c.role_name(*role))
                }
                _ => c.t("スタッフ（不明）", "Staff (unknown)").to_owned(),
            },
            "customer" => c.t("会員本人", "Members themselves").to_owned(),
            "guest" => c.t("ゲスト（注文手続き）", "Guests (checkout)").to_owned(),
            _ => c.t("システム", "System").to_owned(),
        }
    }

    /// A principal's own line in the by-principal plot: members and guests are each one line
    /// (each reads only their own data), staff and jobs are named.
    fn principal(&self, c: Words, kind: &str, id: &str) -> String {
        match kind {
            "staff" => match self.staff.get(id) {
                Some((name, Some(role))) => format!("{name}（{}）", c.role_name(*role)),
                Some((name, None)) => name.clone(),
                None => format!("staff:{id}"),
            },
            "system" => format!("{}{id}", c.t("システム：", "System: ")),
            _ => self.group(c, kind, id),
        }
    }

    /// The name of a principal key of the mass-read limits (`staff:<id>`, `system:<job>`,
    /// `customer:<id>`, `guest:<session>`).
    fn key(&self, c: Words, key: &str) -> String {
        match key.split_once(':') {
            Some((kind, id)) => self.principal(c, kind, id),
            None => key.to_owned(),
        }
    }
}

/// Counts per bucket of each series, series in the given `order` first, then by name.
fn by_series(
    rows: impl IntoIterator<Item = (i64, String, i64)>,
    buckets: i64,
    order: &[String],
) -> Vec<Series> {
    let n = usize::try_from(buckets).unwrap_or(0);
    let mut map: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (bucket, series, count) in rows {
        let Ok(b) = usize::try_from(bucket) else {
            continue;
        };
        if b >= n {
            continue;
        }
        let v = map.entry(series).or_insert_with(|| vec![0; n]);
        v[b] += count;
    }
    let mut out = Vec::new();
    for name in order {
        if let Some(values) = map.remove(name) {
            out.push(Series {
                name: name.clone(),
                values,
            });
        }
    }
    out.extend(
        map.into_iter()
            .map(|(name, values)| Series { name, values }),
    );
    out
}

/// The `TOP_PRINCIPALS` busiest series by total, the rest summed as one "others" line.
fn top_and_rest(mut series: Vec<Series>, others: &str) -> Vec<Series> {
    series.sort_by(|a, b| b.total().cmp(&a.total()).then(a.name.cmp(&b.name)));
    if series.len() <= TOP_PRINCIPALS + 1 {
        return series;
    }
    let rest = series.split_off(TOP_PRINCIPALS);
    let n = rest.first().map_or(0, |s| s.values.len());
    let mut values = vec![0; n];
    for s in &rest {
        for (v, x) in values.iter_mut().zip(&s.values) {
            *v += x;
        }
    }
    series.push(Series {
        name: others.to_owned(),
        values,
    });
    series
}

fn plot(id: &'static str, title: &str, labels: &[String], series: Vec<Series>) -> Plot {
    Plot {
        id,
        title: title.to_owned(),
        svg: lines_svg(labels, &series),
        totals: series.iter().map(|s| (s.name.clone(), s.total())).collect(),
    }
}

fn plain(rows: Vec<BucketCount>, name: impl Fn(&str) -> String) -> Vec<(i64, String, i64)> {
    rows.into_iter()
        .map(|r| (r.bucket, name(&r.series), r.count))
        .collect()
}

/// Start of today (JST) in Unix seconds.
fn today_start(now: i64) -> i64 {
    chrono::DateTime::from_timestamp(now, 0)
        .map(|t| t.with_timezone(&jst()).date_naive())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| jst().from_local_datetime(&t).single())
        .map_or(now - 86_400, |t| t.timestamp())
}

/// Everything the page shows, computed at `now` (Unix seconds) for `window`.
pub async fn build(
    state: &BackofficeState,
    c: Words,
    window: Window,
    now: i64,
) -> Result<(Vec<Plot>, Vec<OpenerRow>), AppError> {
    let records = state.store.as_ref();
    let names = Names::load(records).await?;
    let (from, to) = window.bounds(now);
    let width = window.bucket_secs();
    let n = window.buckets();
    let labels: Vec<String> = (0..n).map(|i| window.label(from + i * width)).collect();

    let reads: Vec<PrincipalBucketCount> = records
        .ledger_reads_by_bucket(from * 1_000_000, to * 1_000_000, width * 1_000_000)
        .await
        .map_err(fail("reads by bucket"))?;
    let role_order: Vec<String> = Role::ALL
        .iter()
        .map(|r| format!("{}{}", c.t("スタッフ：", "Staff: "), c.role_name(*r)))
        .collect();
    let by_role = by_series(
        reads.iter().map(|r| {
            (
                r.bucket,
                names.group(c, &r.principal_kind, &r.principal_id),
                r.count,
            )
        }),
        n,
        &role_order,
    );
    let by_principal = top_and_rest(
        by_series(
            reads.iter().map(|r| {
                (
                    r.bucket,
                    names.principal(c, &r.principal_kind, &r.principal_id),
                    r.count,
                )
            }),
            n,
            &[],
        ),
        c.t("その他", "Others"),
    );

    let severity = |s: &str| match s {
        "critical" => c.t("重大", "Critical").to_owned(),
        "warning" => c.t("警告", "Warning").to_owned(),
        "info" => c.t("情報", "Info").to_owned(),
        other => other.to_owned(),
    };
    let alerts = records
        .alerts_by_bucket(from, to, width)
        .await
        .map_err(fail("alerts by bucket"))?;
    let alerts = by_series(
        plain(alerts, severity),
        n,
        &[
            c.t("重大", "Critical").to_owned(),
            c.t("警告", "Warning").to_owned(),
            c.t("情報", "Info").to_owned(),
        ],
    );

    let csp_name = |s: &str| match s {
        "new" => c
            .t(
                "新しい違反（ページ・種類・送信元の初出）",
                "New violations (first report of a page, directive and origin)",
            )
            .to_owned(),
        _ => c
            .t(
                "報告が続く違反（最終報告）",
                "Violations still reported (last report)",
            )
            .to_owned(),
    };
    let csp = records
        .csp_reports_by_bucket(from, to, width)
        .await
        .map_err(fail("csp by bucket"))?;
    let csp = by_series(
        plain(csp, csp_name),
        n,
        &[csp_name("new"), csp_name("last")],
    );

    let declined = c
        .t("決済失敗（カード拒否）", "Failed payments (declined)")
        .to_owned();
    let declines = records
        .payment_failures_by_bucket(from, to, width)
        .await
        .map_err(fail("declines by bucket"))?;
    let declines = by_series(plain(declines, |_| declined.clone()), n, &[]);

    let sign_in_name = |s: &str| match s {
        SIGN_IN => c.t("サインイン成功", "Sign-ins").to_owned(),
        _ => c.t("サインイン失敗", "Failed sign-ins").to_owned(),
    };
    let sign_ins = records
        .staff_log_by_bucket(from, to, width, &[SIGN_IN, SIGN_IN_FAILED])
        .await
        .map_err(fail("sign-ins by bucket"))?;
    let sign_ins = by_series(
        plain(sign_ins, sign_in_name),
        n,
        &[sign_in_name(SIGN_IN), sign_in_name(SIGN_IN_FAILED)],
    );

    let plots = vec![
        plot(
            "reads-by-role",
            c.t(
                "個人データの閲覧（役割別、件数）",
                "Personal-data reads by role (events)",
            ),
            &labels,
            by_role,
        ),
        plot(
            "reads-by-principal",
            c.t(
                "個人データの閲覧（閲覧者別、件数）",
                "Personal-data reads by principal (events)",
            ),
            &labels,
            by_principal,
        ),
        plot(
            "alerts",
            c.t("検知アラート（重要度別、新規）", "Alerts by severity (new)"),
            &labels,
            alerts,
        ),
        plot("csp", c.t("CSP違反レポート", "CSP reports"), &labels, csp),
        plot(
            "declines",
            c.t("決済の失敗", "Declined payments"),
            &labels,
            declines,
        ),
        plot(
            "sign-ins",
            c.t("スタッフのサインイン", "Staff sign-ins"),
            &labels,
            sign_ins,
        ),
    ];

    let openers = records
        .read_opens_top(today_start(now) - 1, TOP_OPENERS)
        .await
        .map_err(fail("read opens top"))?
        .into_iter()
        .map(|(key, customers)| OpenerRow {
            who: names.key(c, &key),
            key,
            customers,
        })
        .collect();
    Ok((plots, openers))
}

/// Now for the dashboard: the later of the back office's clock and the system's (ledger events
/// and store rows are stamped by the system clock).
pub fn now(state: &BackofficeState) -> i64 {
    state.now().max(chrono::Utc::now().timestamp())
}

/// `GET /security`.
pub async fn show(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<DashQuery>,
) -> Result<Response, AppError> {
    let window = Window::parse(q.w.as_deref());
    let now = now(&state);
    let (from, to) = window.bounds(now);
    let (plots, openers) = build(&state, Words::of(&c), window, now).await?;
    Ok(render(&DashboardPage {
        c,
        window: window.as_str(),
        from: fmt_secs(from),
        to: fmt_secs(to),
        today: fmt_secs(today_start(now)),
        plots,
        openers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_ordered_and_the_rest_is_summed() {
        let rows = vec![
            (0, "b".to_owned(), 2),
            (1, "a".to_owned(), 1),
            (5, "a".to_owned(), 9), // out of the window
            (-1, "a".to_owned(), 9),
        ];
        let s = by_series(rows, 3, &["b".to_owned()]);
        assert_eq!(s[0].name, "b");
        assert_eq!(s[0].values, vec![2, 0, 0]);
        assert_eq!(s[1].values, vec![0, 1, 0]);
        let many: Vec<Series> = (0..8)
            .map(|i| Series {
                name: format!("p{i}"),
                values: vec![i, 1],
            })
            .collect();
        let top = top_and_rest(many, "others");
        assert_eq!(top.len(), TOP_PRINCIPALS + 1);
        assert_eq!(top[0].name, "p7");
        assert_eq!(top[TOP_PRINCIPALS].name, "others");
        // p0, p1, p2 left: 0+1+2 and three ones.
        assert_eq!(top[TOP_PRINCIPALS].values, vec![3, 3]);
    }
}
