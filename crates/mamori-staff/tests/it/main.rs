//! Integration tests of the staff service, each on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_testkit::both_backends;

mod common;
mod enrolment;
mod login;
mod management;
mod passkey;
