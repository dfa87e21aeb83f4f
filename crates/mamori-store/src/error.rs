//! Errors of the store, the ledger and the gateway. No variant carries a personal value.

use thiserror::Error;

/// Everything that can go wrong below the web layer.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A key could not be used (wrong master key, erased customer, corrupt ciphertext).
    #[error("{0}")]
    Vault(#[from] mamori_vault::VaultError),
    /// Ledger structure or signature problem.
    #[error("ledger: {0}")]
    Ledger(#[from] mamori_ledger::LedgerError),
    /// The ledger could not record an access, so the access was refused.
    #[error("the access ledger could not record this access, so it was refused: {0}")]
    LedgerUnavailable(String),
    /// The database URL is not one we understand.
    #[error("unsupported database URL (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl,
    /// No row with that id.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for ("customer", "order", ...).
        what: &'static str,
    },
    /// The customer's data key was destroyed: their personal data is gone for good.
    #[error("customer {0} has been erased")]
    Erased(String),
    /// A member with the same email already exists.
    #[error("a member with this email address already exists")]
    DuplicateMember,
    /// A row with the same unique value exists already (a staff email, a passkey credential id).
    #[error("{what} already exists")]
    Duplicate {
        /// What clashed ("staff member", "passkey", ...).
        what: &'static str,
    },
    /// A stored value did not decode (corruption or a bug).
    #[error("stored value in {table}.{column} is malformed")]
    Malformed {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
    },
    /// File system problem (witness file, key files).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A read would have crossed its principal's read budget, or the principal is stopped: no
    /// plaintext was handed out and nothing was appended. Names the principal's key (a staff or
    /// session id, a job's name), never a value.
    #[error(
        "read refused: {principal} has opened {opened} distinct customers in {window_secs} s \
         (limit {max}); further reads stay refused until an owner lifts the stop"
    )]
    ReadBudgetExceeded {
        /// The principal's key (`staff:<id>`, `system:<job>`, `guest:<session>`).
        principal: String,
        /// The window crossed (seconds; 60, 3600 or 86400).
        window_secs: i64,
        /// Distinct customers the window would have held.
        opened: i64,
        /// Its limit.
        max: i64,
        /// This read set the stop (false: the principal was stopped before).
        new_stop: bool,
    },
    /// A customer's session asked for another customer's data: refused, nothing appended.
    #[error("read refused: a customer session may open only its own customer's data")]
    CrossCustomer,
    /// The caller's input was refused before anything was recorded or written: a missing or
    /// malformed reason, an empty selection, a negative quantity, amounts out of range. Names the
    /// input (`field`, e.g. `"reason"`, `"stock"`) and says what is wrong with it in a fixed
    /// phrase, never the value.
    #[error("{reason}")]
    BadInput {
        /// The input that was refused (a parameter or form field name).
        field: &'static str,
        /// What is wrong with it (a fixed phrase).
        reason: &'static str,
    },
    /// The request does not fit the current state of what it names: a password for a guest
    /// customer, a provider payment id that belongs to another order, a key reload or rotation
    /// while the key ring did not come from a key file. Nothing was changed.
    #[error("{what}")]
    Conflict {
        /// What clashes with the current state (a fixed phrase).
        what: &'static str,
    },
    /// The order state machine does not allow this event in the order's current state. Carries
    /// only enum values, never order contents.
    #[error("{}", .0.message_en())]
    Transition(mamori_domain::InvalidTransition),
    /// A ledger entry that is not in the log (beyond its end): nothing to prove.
    #[error("entry {index} is not in the log")]
    NotInLedger {
        /// The entry's index.
        index: u64,
    },
    /// No signed checkpoint covers this ledger entry yet, so no inclusion proof can be given.
    #[error("no checkpoint covers entry {index} yet (run `mamori ledger checkpoint`)")]
    NotCheckpointed {
        /// The entry's index.
        index: u64,
    },
    /// The stored ledger contradicts itself (a gap in its entries, a frontier that does not match
    /// its size, an entry that does not match its signed checkpoint): nothing was appended or
    /// proved. `mamori ledger verify` names where the log breaks.
    #[error("the ledger is inconsistent at entry {entry} ({what}): run `mamori ledger verify`")]
    LedgerInconsistent {
        /// The first entry concerned.
        entry: u64,
        /// What is wrong (a fixed phrase).
        what: &'static str,
    },
    /// A step inside mamori failed that is no fault of the caller's input: a blocking task was
    /// lost (shutdown or a panic), a value could not be encoded. Names the step, never a value.
    #[error("{what}")]
    Internal {
        /// The step that failed (a fixed phrase).
        what: &'static str,
    },
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
