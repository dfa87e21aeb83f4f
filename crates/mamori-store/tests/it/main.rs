//! Integration tests of the store, the gateway and the ledger, each on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_testkit::both_backends;

mod alerts;
mod backoffice;
mod catalogue;
mod common;
mod csp_reports;
mod gateway;
mod gifts;
mod incident_reports;
mod inquiries;
mod ledger;
mod multinode;
mod observations;
mod plaintext;
mod public_notices;
mod scripts;
mod shop;
mod storefront;
