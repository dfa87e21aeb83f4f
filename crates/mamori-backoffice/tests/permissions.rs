//! The permission test, generated from the route table: for every route and every role, a
//! signed-in member of that role gets 403 exactly when the role lacks the route's permission,
//! and a visitor who is not signed in is sent to the login page. A route added to
//! `mamori_backoffice::ROUTES` is covered without touching this file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{BoClient, TestBackoffice};
use mamori_backoffice::{Access, RouteMethod, RouteSpec, ROUTES};
use mamori_staff::Role;
use mamori_store::Backend;
use mamori_testkit::both_backends;

/// A concrete path for a route pattern: parameters get values that name nothing (so a handler
/// that is reached answers 404 or a message, never a change).
fn concrete(path: &str) -> String {
    path.replace("{id}", "0190a0a0-0000-7000-8000-000000000000")
        .replace("{image}", "0190a0a0-0000-7000-8000-000000000001")
        .replace("{file}", "nothing.js")
        .replace("{code}", "ja")
}

async fn call(client: &BoClient, spec: &RouteSpec) -> mamori_testkit::web::Resp {
    let path = concrete(spec.path);
    match spec.method {
        RouteMethod::Get => client.get(&path).await,
        RouteMethod::Post => client.post_form(&path, &[]).await,
    }
}

/// Routes in table order, logout last (it ends the session the others need).
fn ordered() -> Vec<&'static RouteSpec> {
    let mut all: Vec<&'static RouteSpec> = ROUTES.iter().collect();
    all.sort_by_key(|s| s.path == "/logout");
    all
}

async fn every_route_checks_every_role(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    // An owner exists first, as in a real shop (some pages list staff).
    let _ = bo.staff(Role::Owner, "first-owner@staff.example.jp").await;
    let mut checked = 0;
    for role in Role::ALL {
        let (staff, client) = bo.member(role).await;
        for spec in ordered() {
            let res = call(&client, spec).await;
            let allowed = spec.access.allows(role);
            let what = format!("{:?} {} as {}", spec.method, spec.path, role.as_str());
            if allowed {
                assert_ne!(
                    res.status, 403,
                    "{what}: refused although allowed: {}",
                    res.text
                );
                let loc = res.location.clone().unwrap_or_default();
                if spec.access != Access::Public && spec.path != "/logout" {
                    assert!(
                        !loc.starts_with("/login") && !loc.starts_with("/step-up"),
                        "{what}: sent to {loc} although signed in and fresh"
                    );
                }
            } else {
                assert_eq!(
                    res.status, 403,
                    "{what}: not refused: {} {:?}",
                    res.status, res.location
                );
            }
            checked += 1;
        }
        // Every refusal of this member went to the staff log.
        let denied = bo
            .store()
            .staff_log_page(
                &mamori_store::model::StaffLogFilter {
                    staff_id: Some(staff.id.clone()),
                    action_prefix: Some("access.denied".into()),
                    ..Default::default()
                },
                0,
                1000,
            )
            .await
            .unwrap()
            .total;
        let expected = ROUTES.iter().filter(|s| !s.access.allows(role)).count();
        assert_eq!(
            denied,
            expected as i64,
            "refusals logged for {}",
            role.as_str()
        );
    }
    assert_eq!(checked, ROUTES.len() * Role::ALL.len());
}

async fn visitors_are_sent_to_login(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let client = bo.client();
    client.get("/login").await.expect(200);
    for spec in ROUTES.iter().filter(|s| s.access != Access::Public) {
        let res = call(&client, spec).await;
        assert_eq!(
            res.status, 303,
            "{:?} {}: {}",
            spec.method, spec.path, res.text
        );
        let loc = res.location.clone().unwrap_or_default();
        assert!(loc.starts_with("/login"), "{} went to {loc}", spec.path);
    }
    // A GET comes back to the page after signing in.
    let res = client.get("/customers?q=x").await;
    assert_eq!(
        res.location.as_deref(),
        Some("/login?next=%2Fcustomers%3Fq%3Dx")
    );
}

/// The matrix the table is checked against is the one `mamori-staff` defines; spot-check the
/// table's choices that the issue names.
#[test]
fn the_table_says_what_the_issue_asks() {
    let find = |m: RouteMethod, p: &str| {
        ROUTES
            .iter()
            .find(|s| s.method == m && s.path == p)
            .unwrap_or_else(|| panic!("{p} missing"))
    };
    use mamori_staff::Permission as P;
    assert_eq!(
        find(RouteMethod::Get, "/staff").access,
        Access::Perm(P::StaffManage)
    );
    for (m, p) in [
        (RouteMethod::Post, "/orders/export"),
        (RouteMethod::Post, "/customers/export"),
        (RouteMethod::Post, "/staff/invite"),
        (RouteMethod::Post, "/orders/{id}/refund"),
        (RouteMethod::Post, "/account/password"),
        (RouteMethod::Post, "/account/recovery"),
    ] {
        assert!(find(m, p).step_up, "{p} needs a step-up");
    }
    assert!(!find(RouteMethod::Post, "/customers/{id}/reveal").step_up);
    assert_eq!(
        find(RouteMethod::Post, "/customers/{id}/reveal").access,
        Access::Perm(P::CustomersReveal)
    );
    // The auditor reaches no customer or order data.
    for spec in ROUTES {
        if spec.path.starts_with("/customers") || spec.path.starts_with("/orders") {
            assert!(!spec.access.allows(Role::Auditor), "{}", spec.path);
        }
    }
    // Every (method, path) is listed once.
    let mut seen = std::collections::HashSet::new();
    for s in ROUTES {
        assert!(seen.insert((s.method, s.path)), "{} twice", s.path);
    }
}

both_backends!(every_route_checks_every_role, visitors_are_sent_to_login);
