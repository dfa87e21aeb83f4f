//! Storage for mamori: the [`Store`] interface with its SQLite and PostgreSQL backends, the access
//! [`ledger`](crate::ledger) with group commit, and the personal-data [`Gateway`].
//!
//! The invariant this crate carries: personal data is plaintext only inside the gateway, and the
//! gateway hands out plaintext only after an access event naming who read what, and why, is durable
//! in the ledger. Below the gateway everything is ciphertext (see `migrations/`).

pub mod access;
mod backend;
mod codec;
pub mod demo;
pub mod error;
pub mod gateway;
pub mod ledger;
pub mod model;
pub mod store;

pub use access::{Accessor, Action, Principal};
pub use backend::{PgStore, SqliteStore};
pub use error::StoreError;
pub use gateway::Gateway;
pub use ledger::{Ledger, LedgerConfig};
pub use model::*;
pub use store::{open_store, Backend, Store};
