//! Mass-read limits and canary customers, enforced where plaintext leaves: in the gateway.
//!
//! Every [`Action::Read`] (plaintext handed out) is charged to its principal's read budget: the
//! distinct customers the principal opened in the last minute, hour and day, counted in
//! `read_opens` inside the ledger's append transaction ([`crate::Ledger::record_charged`]), so the
//! count, the decision and the access event are one step under the ledger's lock, and several
//! processes on one PostgreSQL count together. The read that would cross a limit is refused
//! before anything is decrypted ([`StoreError::ReadBudgetExceeded`]), the principal is stopped
//! (`read_principals`; every later read is refused until an owner lifts the stop), a member of
//! staff's account is disabled (their sessions end at their next request) and a
//! [`ReadAlarm`] is raised. Masked reads ([`Action::ReadMasked`]) hand out no plaintext and are
//! not charged; a signed-in customer's reads are not counted (they may open only themselves: a
//! read naming another customer is refused and raised, [`StoreError::CrossCustomer`]).
//!
//! Canary customers ([`Gateway::plant_canary`]) are marked in `canary_marks`, each id sealed under
//! a system key: a copy of the database does not tell which customers they are. Any plaintext read
//! naming one raises [`ReadAlarmEvent::CanaryRead`] at once (the read itself goes on, so a thief's
//! tool sees nothing unusual).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::*;
use crate::access::Principal;
use crate::model::{BudgetLimit, ReadBudget};

/// The one minute, one hour and one day of the budgets.
pub const WINDOWS: [i64; 3] = [60, 3600, 86_400];

/// How many distinct customers one principal of a role may open in plaintext per window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct RoleBudget {
    /// In any minute.
    pub per_minute: i64,
    /// In any hour.
    pub per_hour: i64,
    /// In any day (24 hours).
    pub per_day: i64,
}

impl RoleBudget {
    /// A budget of `m` a minute, `h` an hour, `d` a day.
    pub const fn new(m: i64, h: i64, d: i64) -> Self {
        Self {
            per_minute: m,
            per_hour: h,
            per_day: d,
        }
    }
}

/// The system job that queues an incident's notices to individuals.
pub const NOTICE_JOB: &str = "incident-notice";
/// Its budget's role key.
const NOTICE_JOB_ROLE: &str = "job:incident-notice";

/// The budgets of every kind of principal, the absolute daily ceiling and the approved jobs.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadBudgets {
    /// False turns the counting off (benchmarks; never in a shop).
    pub enabled: bool,
    /// Per role: `owner`, `manager`, `operator`, `support`, `auditor` (staff), `system` (jobs and
    /// commands), `guest` (a checkout session without sign-in).
    pub roles: HashMap<String, RoleBudget>,
    /// No principal opens more than this share of the (not erased) customers in a day...
    pub ceiling_percent: f64,
    /// ...or this many, whichever is larger (a small shop's 1% is a handful).
    pub ceiling_floor: i64,
    /// System jobs the owner approved to exceed the ceiling (the mail worker writes to every
    /// customer who gets mail); their role budget still applies.
    pub approved_jobs: Vec<String>,
}

impl Default for ReadBudgets {
    /// The defaults: see SECURITY.md ("Mass-read limits") for why these numbers.
    fn default() -> Self {
        let roles = [
            ("owner", RoleBudget::new(120, 1_000, 3_000)),
            ("manager", RoleBudget::new(120, 1_000, 3_000)),
            ("operator", RoleBudget::new(120, 600, 2_000)),
            ("support", RoleBudget::new(60, 300, 1_000)),
            ("auditor", RoleBudget::new(10, 30, 100)),
            ("system", RoleBudget::new(1_000, 20_000, 100_000)),
            ("guest", RoleBudget::new(5, 10, 20)),
            // The incident desk's notice run: every affected person once (280,052 in minutes),
            // started by an owner or manager with a step-up, on the incident's timeline.
            (
                NOTICE_JOB_ROLE,
                RoleBudget::new(100_000, 1_000_000, 3_000_000),
            ),
        ]
        .into_iter()
        .map(|(r, b)| (r.to_owned(), b))
        .collect();
        Self {
            enabled: true,
            roles,
            ceiling_percent: 1.0,
            ceiling_floor: 100,
            approved_jobs: vec!["mail-worker".to_owned(), NOTICE_JOB.to_owned()],
        }
    }
}

impl ReadBudgets {
    /// No counting at all (for benchmarks that measure its cost).
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
}

/// What the gateway raises through its [`ReadAlarm`]. Ids and codes only, never a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadAlarmEvent {
    /// A read crossed a budget: the principal is stopped (a member of staff is disabled).
    BudgetStop {
        /// Who.
        principal: Principal,
        /// Their budget key (`staff:<id>`, ...).
        key: String,
        /// The window crossed (seconds).
        window_secs: i64,
        /// Distinct customers the window would have held.
        opened: i64,
        /// Its limit.
        max: i64,
        /// The refused read's purpose.
        purpose: String,
        /// Its request id.
        request_id: String,
        /// Whether a staff account was disabled.
        staff_disabled: bool,
    },
    /// A customer's session asked for another customer's data.
    CrossCustomer {
        /// The signed-in customer.
        customer: String,
        /// The other customers the read named.
        others: Vec<String>,
        /// The read's purpose.
        purpose: String,
        /// Its request id.
        request_id: String,
    },
    /// A canary customer was read in plaintext.
    CanaryRead {
        /// Who read it.
        principal: Principal,
        /// The canary's customer id.
        canary: String,
        /// The read's purpose.
        purpose: String,
        /// Its request id.
        request_id: String,
        /// The fields read.
        fields: Vec<String>,
    },
}

/// Where the gateway's detections become alerts: implemented by `mamori_guard` over its one
/// `Alerts::raise` (the guard sits above the store, so the store names only this trait). Given
/// the gateway at each call, so it holds none (no reference cycle keeps the ledger alive).
#[async_trait]
pub trait ReadAlarm: Send + Sync {
    /// Raises `event`. Errors are the alarm's to log: the gateway's refusal stands either way.
    async fn raise(&self, gateway: &Gateway, event: ReadAlarmEvent);
}

/// How long a staff member's role, the customer count and the canary set are kept in memory.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// How long the count of customers (for the ceiling) is kept.
const COUNT_TTL: Duration = Duration::from_secs(60);
/// The canary system key's purpose.
const CANARY_KEY: &str = "guard.canaries";
/// Table and column the canary marks are sealed at.
const CANARY_TABLE: &str = "canary_marks";

/// The gateway's shared state for the limits and canaries (one per gateway and its clones).
pub(crate) struct ReadGuard {
    budgets: ReadBudgets,
    alarm: OnceLock<Arc<dyn ReadAlarm>>,
    roles: Mutex<HashMap<String, (Option<String>, Instant)>>,
    customers: Mutex<Option<(i64, Instant)>>,
    canaries: Mutex<Option<(Arc<HashSet<String>>, Instant)>>,
}

impl ReadGuard {
    pub(crate) fn new(budgets: ReadBudgets) -> Self {
        Self {
            budgets,
            alarm: OnceLock::new(),
            roles: Mutex::new(HashMap::new()),
            customers: Mutex::new(None),
            canaries: Mutex::new(None),
        }
    }
}

/// The budget key of a principal.
pub fn principal_key(p: &Principal) -> String {
    match p {
        Principal::Customer(id) => format!("customer:{id}"),
        Principal::Guest(id) => format!("guest:{id}"),
        Principal::Staff(id) => format!("staff:{id}"),
        Principal::System(job) => format!("system:{job}"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Gateway {
    /// The same gateway with these budgets (a fresh shared state: set the alarm afterwards).
    pub fn with_read_budgets(mut self, budgets: ReadBudgets) -> Self {
        self.reads = Arc::new(ReadGuard::new(budgets));
        self
    }

    /// The budgets in force.
    pub fn read_budgets(&self) -> &ReadBudgets {
        &self.reads.budgets
    }

    /// Sets where detections are raised (once; later calls are ignored and return false).
    pub fn set_read_alarm(&self, alarm: Arc<dyn ReadAlarm>) -> bool {
        self.reads.alarm.set(alarm).is_ok()
    }

    async fn alarm(&self, event: ReadAlarmEvent) {
        match self.reads.alarm.get() {
            Some(a) => a.raise(self, event).await,
            None => tracing::error!(?event, "read alarm with no alarm set: not raised"),
        }
    }

    /// The role whose budget a member of staff spends (None: unknown member, refused).
    async fn staff_role(&self, id: &str) -> Result<Option<String>> {
        if let Some((role, at)) = lock(&self.reads.roles).get(id) {
            if at.elapsed() < CACHE_TTL {
                return Ok(role.clone());
            }
        }
        let role = self.store.staff_by_id(id).await?.map(|s| s.role);
        lock(&self.reads.roles).insert(id.to_owned(), (role.clone(), Instant::now()));
        Ok(role)
    }

    /// The absolute daily ceiling now.
    async fn ceiling(&self) -> Result<i64> {
        if let Some((n, at)) = *lock(&self.reads.customers) {
            if at.elapsed() < COUNT_TTL {
                return Ok(self.ceiling_of(n));
            }
        }
        let n = self.store.customers_live_count().await?;
        *lock(&self.reads.customers) = Some((n, Instant::now()));
        Ok(self.ceiling_of(n))
    }

    fn ceiling_of(&self, customers: i64) -> i64 {
        let b = &self.reads.budgets;
        let share = (customers as f64 * b.ceiling_percent / 100.0).ceil() as i64;
        share.max(b.ceiling_floor)
    }

    /// What a plaintext read by `p` is charged to; None when it is not counted.
    async fn read_budget(&self, p: &Principal) -> Result<Option<ReadBudget>> {
        let b = &self.reads.budgets;
        if !b.enabled {
            return Ok(None);
        }
        let (role, approved) = match p {
            // May open only itself (checked before): nothing to count.
            Principal::Customer(_) => return Ok(None),
            Principal::Guest(_) => ("guest".to_owned(), false),
            // A job may have a budget of its own (`job:<name>`), else the role `system`'s.
            Principal::System(job) => {
                let own = format!("job:{job}");
                let role = if b.roles.contains_key(&own) {
                    own
                } else {
                    "system".to_owned()
                };
                (role, b.approved_jobs.contains(job))
            }
            Principal::Staff(id) => match self.staff_role(id).await? {
                Some(r) => (r, false),
                // Not (or no longer) in the staff table: the budget of support, the smallest
                // of the roles that read customers.
                None => ("support".to_owned(), false),
            },
        };
        let rb = b
            .roles
            .get(&role)
            .copied()
            .unwrap_or(RoleBudget::new(0, 0, 0));
        let mut limits = vec![
            BudgetLimit {
                window_secs: WINDOWS[0],
                max: rb.per_minute,
                ceiling: false,
            },
            BudgetLimit {
                window_secs: WINDOWS[1],
                max: rb.per_hour,
                ceiling: false,
            },
            BudgetLimit {
                window_secs: WINDOWS[2],
                max: rb.per_day,
                ceiling: false,
            },
        ];
        if !approved {
            limits.push(BudgetLimit {
                window_secs: WINDOWS[2],
                max: self.ceiling().await?,
                ceiling: true,
            });
        }
        Ok(Some(ReadBudget {
            principal: principal_key(p),
            limits,
            at: now(),
        }))
    }

    /// Records an access the way every gateway call does, enforcing the limits on reads: a
    /// customer's session naming another customer is refused; a plaintext read is charged to its
    /// principal's budget in the append's transaction; a refused read stops the principal,
    /// disables a member of staff and raises the alarm; a plaintext read of a canary raises it
    /// too (and goes on).
    pub(super) async fn record_checked(
        &self,
        acc: &Accessor,
        action: Action,
        customers: Vec<String>,
        f: &[&str],
    ) -> Result<u64> {
        let opens = matches!(action, Action::Read | Action::ReadMasked);
        if let (true, Principal::Customer(own)) = (opens, &acc.principal) {
            let others: Vec<String> = customers.iter().filter(|c| *c != own).cloned().collect();
            if !others.is_empty() {
                self.alarm(ReadAlarmEvent::CrossCustomer {
                    customer: own.clone(),
                    others,
                    purpose: acc.purpose.clone(),
                    request_id: acc.request_id.clone(),
                })
                .await;
                return Err(StoreError::CrossCustomer);
            }
        }
        let budget = if action == Action::Read && !customers.is_empty() {
            self.read_budget(&acc.principal).await?
        } else {
            None
        };
        let event = AccessEvent::new(acc, action, customers, f);
        match self.ledger.record_charged(&event, budget).await {
            Ok(seq) => {
                if action == Action::Read {
                    self.check_canaries(acc, &event.customers, f).await;
                }
                Ok(seq)
            }
            Err(StoreError::ReadBudgetExceeded {
                principal,
                window_secs,
                opened,
                max,
                new_stop,
            }) => {
                if new_stop {
                    self.on_stop(acc, &principal, window_secs, opened, max)
                        .await;
                }
                Err(StoreError::ReadBudgetExceeded {
                    principal,
                    window_secs,
                    opened,
                    max,
                    new_stop,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// A principal was stopped: a member of staff's account is disabled (the back office checks
    /// it on every request, so their sessions end), and the alarm is raised.
    async fn on_stop(&self, acc: &Accessor, key: &str, window_secs: i64, opened: i64, max: i64) {
        let mut staff_disabled = false;
        if let Principal::Staff(id) = &acc.principal {
            match self.store.staff_by_id(id).await {
                Ok(Some(mut row)) => {
                    row.state = "disabled".to_owned();
                    row.updated_at = now();
                    match self.store.staff_update(&row).await {
                        Ok(()) => staff_disabled = true,
                        Err(e) => tracing::error!(error = %e, staff = %id,
                            "could not disable a member of staff stopped by their read budget"),
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, staff = %id,
                    "could not load a member of staff stopped by their read budget"),
            }
        }
        tracing::warn!(principal = %key, window_secs, opened, max, "read budget crossed: stopped");
        self.alarm(ReadAlarmEvent::BudgetStop {
            principal: acc.principal.clone(),
            key: key.to_owned(),
            window_secs,
            opened,
            max,
            purpose: acc.purpose.clone(),
            request_id: acc.request_id.clone(),
            staff_disabled,
        })
        .await;
    }

    /// Lifts a principal's stop (an owner's decision, recorded in the ledger as
    /// [`Action::Approve`] with the reason): reads are allowed again with a fresh count. A
    /// disabled member of staff is enabled by the staff page, which calls this. False when the
    /// principal was not stopped.
    pub async fn lift_read_stop(&self, acc: &Accessor, principal: &str) -> Result<bool> {
        let stopped = self.store.read_principal(principal).await?;
        if stopped.is_none_or(|p| p.stopped_at.is_none()) {
            return Ok(false);
        }
        let by = match &acc.principal {
            Principal::Staff(id) => id.clone(),
            other => principal_key(other),
        };
        let mut ev = acc.clone();
        ev.purpose = "reads.lift_stop".to_owned();
        ev.channel = Some(principal.to_owned());
        self.ledger
            .record(&AccessEvent::new(&ev, Action::Approve, Vec::new(), &[]))
            .await?;
        self.store.read_stop_lift(principal, &by, now()).await
    }

    /// Lifts the absolute daily ceiling for `principal` until `until` (Unix seconds): an owner
    /// approved the job. Recorded as [`Action::Approve`] with the reason.
    pub async fn approve_mass_read(
        &self,
        acc: &Accessor,
        principal: &str,
        until: i64,
    ) -> Result<()> {
        let by = match &acc.principal {
            Principal::Staff(id) => id.clone(),
            other => principal_key(other),
        };
        let mut ev = acc.clone();
        ev.purpose = "reads.approve".to_owned();
        ev.channel = Some(principal.to_owned());
        self.ledger
            .record(&AccessEvent::new(&ev, Action::Approve, Vec::new(), &[]))
            .await?;
        self.store.read_approve(principal, &by, until).await
    }

    // ---- Canaries ----

    /// The canary customers' ids (opened from their sealed marks; cached for a few seconds, so a
    /// canary planted by another process is watched within that time).
    pub async fn canary_ids(&self) -> Result<Arc<HashSet<String>>> {
        if let Some((set, at)) = &*lock(&self.reads.canaries) {
            if at.elapsed() < CACHE_TTL {
                return Ok(set.clone());
            }
        }
        let set: HashSet<String> = self
            .canaries_planted()
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let set = Arc::new(set);
        *lock(&self.reads.canaries) = Some((set.clone(), Instant::now()));
        Ok(set)
    }

    /// Every canary with the time it was planted (Unix seconds), oldest first: ids only, no
    /// value, so nothing is recorded (the back office's canary page lists them; it must not open
    /// them, as any plaintext read of a canary raises `canary.read`).
    pub async fn canaries_planted(&self) -> Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        for (id, sealed, at) in self.store.canary_marks().await? {
            // Marks sealed before a key rotation open under the older master key.
            let plain = self.open_system(CANARY_KEY, CANARY_TABLE, "sealed", &id, &sealed)?;
            out.push((String::from_utf8_lossy(&plain).into_owned(), at));
        }
        Ok(out)
    }

    /// Whether a customer is a canary.
    pub async fn is_canary(&self, customer_id: &str) -> Result<bool> {
        Ok(self.canary_ids().await?.contains(customer_id))
    }

    /// Marks an existing customer as a canary (its id sealed under the canary key). Records
    /// nothing personal: the mark names no value and the customer was written through the
    /// gateway already.
    pub async fn mark_canary(&self, customer_id: &str) -> Result<()> {
        let key = self.keys.load().system_data_key(CANARY_KEY)?;
        let id = new_id();
        let sealed = codec::seal(&key, CANARY_TABLE, "sealed", &id, customer_id.as_bytes())?;
        self.store.canary_insert(&id, &sealed, now()).await?;
        *lock(&self.reads.canaries) = None;
        Ok(())
    }

    async fn check_canaries(&self, acc: &Accessor, customers: &[String], f: &[&str]) {
        let set = match self.canary_ids().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "could not open the canary marks");
                return;
            }
        };
        for c in customers.iter().filter(|c| set.contains(*c)) {
            self.alarm(ReadAlarmEvent::CanaryRead {
                principal: acc.principal.clone(),
                canary: c.clone(),
                purpose: acc.purpose.clone(),
                request_id: acc.request_id.clone(),
                fields: f.iter().map(|s| (*s).to_owned()).collect(),
            })
            .await;
        }
    }
}
