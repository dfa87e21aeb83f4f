//! Staff roles and the permissions each one grants.
//!
//! The matrix is fixed in code (not configurable) so that a setting cannot quietly widen a role:
//!
//! | permission        | owner | manager | operator | support | auditor |
//! |-------------------|:-----:|:-------:|:--------:|:-------:|:-------:|
//! | `dashboard`       |   ✓   |    ✓    |    ✓     |    ✓    |         |
//! | `orders_view`     |   ✓   |    ✓    |    ✓     |    ✓    |         |
//! | `orders_manage`   |   ✓   |    ✓    |    ✓     |         |         |
//! | `orders_export`   |   ✓   |    ✓    |    ✓     |         |         |
//! | `products_view`   |   ✓   |    ✓    |    ✓     |         |         |
//! | `products_manage` |   ✓   |    ✓    |    ✓     |         |         |
//! | `customers_view`  |   ✓   |    ✓    |          |    ✓    |         |
//! | `customers_reveal`|   ✓   |    ✓    |          |    ✓    |         |
//! | `customers_export`|   ✓   |    ✓    |          |         |         |
//! | `staff_manage`    |   ✓   |         |          |         |         |
//! | `settings_manage` |   ✓   |    ✓    |          |         |         |
//! | `ledger_view`     |   ✓   |    ✓    |          |         |    ✓    |
//! | `staff_log_view`  |   ✓   |    ✓    |          |         |    ✓    |
//! | `alerts_view`     |   ✓   |    ✓    |          |         |    ✓    |
//! | `alerts_manage`   |   ✓   |    ✓    |          |         |         |
//! | `guard_approve`   |   ✓   |         |          |         |         |
//! | `canaries_manage` |   ✓   |         |          |         |         |
//! | `incidents_view`  |   ✓   |    ✓    |          |         |    ✓    |
//! | `incidents_manage`|   ✓   |    ✓    |          |         |         |
//! | `own_account`     |   ✓   |    ✓    |    ✓     |    ✓    |    ✓    |
//!
//! ```
//! use mamori_staff::{Permission, Role};
//!
//! assert!(Role::Support.can(Permission::CustomersReveal));
//! assert!(!Role::Support.can(Permission::CustomersExport));
//! assert!(!Role::Auditor.can(Permission::OrdersView));
//! assert_eq!(Role::parse("operator"), Some(Role::Operator));
//! ```

use serde::{Deserialize, Serialize};

/// A staff member's role. Each role grants a fixed set of [`Permission`]s ([`Role::permissions`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the shop; the only role that manages staff.
    Owner,
    /// Everything but staff management.
    Manager,
    /// Orders and products.
    Operator,
    /// Customer support: orders and customers (masked, reveal one field with a reason).
    Support,
    /// Reads the access ledger and the staff log; no customer data, no orders.
    Auditor,
}

impl Role {
    /// Every role, most privileged first.
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Manager,
        Role::Operator,
        Role::Support,
        Role::Auditor,
    ];

    /// The stable name stored in the database (`"owner"`, `"manager"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Operator => "operator",
            Role::Support => "support",
            Role::Auditor => "auditor",
        }
    }

    /// Parses a name made by [`Role::as_str`]; anything else is `None`.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The Japanese label shown on screens.
    pub fn label_ja(self) -> &'static str {
        match self {
            Role::Owner => "オーナー",
            Role::Manager => "マネージャー",
            Role::Operator => "オペレーター",
            Role::Support => "サポート",
            Role::Auditor => "監査",
        }
    }

    /// The English label shown after the Japanese one.
    pub fn label_en(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Manager => "Manager",
            Role::Operator => "Operator",
            Role::Support => "Support",
            Role::Auditor => "Auditor",
        }
    }

    /// The permissions this role grants.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner => &Permission::ALL,
            Role::Manager => &[
                Dashboard,
                OrdersView,
                OrdersManage,
                OrdersExport,
                ProductsView,
                ProductsManage,
                CustomersView,
                CustomersReveal,
                CustomersExport,
                SettingsManage,
                LedgerView,
                StaffLogView,
                AlertsView,
                AlertsManage,
                IncidentsView,
                IncidentsManage,
                OwnAccount,
            ],
            Role::Operator => &[
                Dashboard,
                OrdersView,
                OrdersManage,
                OrdersExport,
                ProductsView,
                ProductsManage,
                OwnAccount,
            ],
            Role::Support => &[
                Dashboard,
                OrdersView,
                CustomersView,
                CustomersReveal,
                OwnAccount,
            ],
            Role::Auditor => &[
                LedgerView,
                StaffLogView,
                AlertsView,
                IncidentsView,
                OwnAccount,
            ],
        }
    }

    /// Whether this role grants `p`.
    pub fn can(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a staff member may do. Every back-office action names the permission it needs and
/// the server checks it on every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Today's orders and sales.
    Dashboard,
    /// List, search and read orders (recipient names masked unless revealed).
    OrdersView,
    /// Change an order's state, cancel, refund.
    OrdersManage,
    /// Export the shipping CSV (recipients' names and addresses: recorded as an export).
    OrdersExport,
    /// Read products.
    ProductsView,
    /// Create and edit products, incl. stock, tax rate, personalisation options and images.
    ProductsManage,
    /// List, search and read customers with personal fields masked.
    CustomersView,
    /// Reveal one masked field of one customer, with a reason.
    CustomersReveal,
    /// Export customers as CSV (reason and step-up required).
    CustomersExport,
    /// Invite staff, change roles, disable and enable accounts.
    StaffManage,
    /// Change the shop's settings.
    SettingsManage,
    /// Read the access ledger.
    LedgerView,
    /// Read and filter the staff log.
    StaffLogView,
    /// Read the guard's alerts.
    AlertsView,
    /// Acknowledge an alert (with a reason).
    AlertsManage,
    /// Approve a new baseline of the shop's files and reopen card payment (step-up and reason).
    GuardApprove,
    /// See which customers are canaries, plant more (step-up and reason) and open the mail
    /// received for them: knowing the canaries lets a reader avoid them, so owners only.
    CanariesManage,
    /// Read incidents: their timeline, deadlines and scope counts.
    IncidentsView,
    /// Open incidents, add notes, compute their scope.
    IncidentsManage,
    /// Manage one's own factors and password.
    OwnAccount,
}

impl Permission {
    /// Every permission, in the order of the matrix.
    pub const ALL: [Permission; 20] = [
        Permission::Dashboard,
        Permission::OrdersView,
        Permission::OrdersManage,
        Permission::OrdersExport,
        Permission::ProductsView,
        Permission::ProductsManage,
        Permission::CustomersView,
        Permission::CustomersReveal,
        Permission::CustomersExport,
        Permission::StaffManage,
        Permission::SettingsManage,
        Permission::LedgerView,
        Permission::StaffLogView,
        Permission::AlertsView,
        Permission::AlertsManage,
        Permission::GuardApprove,
        Permission::CanariesManage,
        Permission::IncidentsView,
        Permission::IncidentsManage,
        Permission::OwnAccount,
    ];

    /// The stable name (`"orders_view"`, ...), as used in logs and route tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Dashboard => "dashboard",
            Permission::OrdersView => "orders_view",
            Permission::OrdersManage => "orders_manage",
            Permission::OrdersExport => "orders_export",
            Permission::ProductsView => "products_view",
            Permission::ProductsManage => "products_manage",
            Permission::CustomersView => "customers_view",
            Permission::CustomersReveal => "customers_reveal",
            Permission::CustomersExport => "customers_export",
            Permission::StaffManage => "staff_manage",
            Permission::SettingsManage => "settings_manage",
            Permission::LedgerView => "ledger_view",
            Permission::StaffLogView => "staff_log_view",
            Permission::AlertsView => "alerts_view",
            Permission::AlertsManage => "alerts_manage",
            Permission::GuardApprove => "guard_approve",
            Permission::CanariesManage => "canaries_manage",
            Permission::IncidentsView => "incidents_view",
            Permission::IncidentsManage => "incidents_manage",
            Permission::OwnAccount => "own_account",
        }
    }

    /// Parses a name made by [`Permission::as_str`]; anything else is `None`.
    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The Japanese label shown on screens.
    pub fn label_ja(self) -> &'static str {
        match self {
            Permission::Dashboard => "ダッシュボード",
            Permission::OrdersView => "注文の閲覧",
            Permission::OrdersManage => "注文の処理",
            Permission::OrdersExport => "出荷データの書き出し",
            Permission::ProductsView => "商品の閲覧",
            Permission::ProductsManage => "商品の管理",
            Permission::CustomersView => "顧客の閲覧（マスク表示）",
            Permission::CustomersReveal => "顧客情報の表示（理由付き）",
            Permission::CustomersExport => "顧客データの書き出し",
            Permission::StaffManage => "スタッフの管理",
            Permission::SettingsManage => "ショップ設定",
            Permission::LedgerView => "アクセス台帳の閲覧",
            Permission::StaffLogView => "スタッフ操作ログの閲覧",
            Permission::AlertsView => "検知アラートの閲覧",
            Permission::AlertsManage => "検知アラートの確認（理由付き）",
            Permission::GuardApprove => "ファイル基準の承認とカード決済の再開",
            Permission::CanariesManage => "カナリア顧客の管理（一覧・追加・受信メール）",
            Permission::IncidentsView => "インシデントの閲覧",
            Permission::IncidentsManage => "インシデントの起票と対応",
            Permission::OwnAccount => "自分のアカウント",
        }
    }

    /// The English label shown after the Japanese one.
    pub fn label_en(self) -> &'static str {
        match self {
            Permission::Dashboard => "Dashboard",
            Permission::OrdersView => "View orders",
            Permission::OrdersManage => "Manage orders",
            Permission::OrdersExport => "Export shipping data",
            Permission::ProductsView => "View products",
            Permission::ProductsManage => "Manage products",
            Permission::CustomersView => "View customers (masked)",
            Permission::CustomersReveal => "Reveal customer data (with a reason)",
            Permission::CustomersExport => "Export customer data",
            Permission::StaffManage => "Manage staff",
            Permission::SettingsManage => "Shop settings",
            Permission::LedgerView => "View the access ledger",
            Permission::StaffLogView => "View the staff log",
            Permission::AlertsView => "View detection alerts",
            Permission::AlertsManage => "Acknowledge alerts (with a reason)",
            Permission::GuardApprove => "Approve a file baseline and reopen card payment",
            Permission::CanariesManage => "Manage canary customers (list, plant, received mail)",
            Permission::IncidentsView => "View incidents",
            Permission::IncidentsManage => "Open and handle incidents",
            Permission::OwnAccount => "Own account",
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUSTOMER_OR_ORDER: [Permission; 8] = [
        Permission::OrdersView,
        Permission::OrdersManage,
        Permission::OrdersExport,
        Permission::CustomersView,
        Permission::CustomersReveal,
        Permission::CustomersExport,
        Permission::Dashboard,
        Permission::ProductsManage,
    ];

    #[test]
    fn owner_has_every_permission() {
        for p in Permission::ALL {
            assert!(Role::Owner.can(p), "owner lacks {p}");
        }
        assert_eq!(Role::Owner.permissions().len(), Permission::ALL.len());
    }

    #[test]
    fn auditor_sees_no_customer_or_order_data() {
        for p in CUSTOMER_OR_ORDER {
            assert!(!Role::Auditor.can(p), "auditor has {p}");
        }
        assert!(Role::Auditor.can(Permission::LedgerView));
        assert!(Role::Auditor.can(Permission::StaffLogView));
        assert!(Role::Auditor.can(Permission::AlertsView));
        assert!(!Role::Auditor.can(Permission::AlertsManage));
        assert!(Role::Auditor.can(Permission::IncidentsView));
        assert!(!Role::Auditor.can(Permission::IncidentsManage));
        assert_eq!(Role::Auditor.permissions().len(), 5);
    }

    #[test]
    fn every_role_manages_its_own_account() {
        for r in Role::ALL {
            assert!(r.can(Permission::OwnAccount), "{r} lacks own_account");
        }
    }

    #[test]
    fn only_owner_manages_staff() {
        for r in Role::ALL {
            assert_eq!(r.can(Permission::StaffManage), r == Role::Owner, "{r}");
        }
    }

    #[test]
    fn manager_is_owner_minus_staff_manage_guard_approve_and_canaries() {
        for p in Permission::ALL {
            assert_eq!(
                Role::Manager.can(p),
                p != Permission::StaffManage
                    && p != Permission::GuardApprove
                    && p != Permission::CanariesManage,
                "{p}"
            );
        }
    }

    #[test]
    fn only_owner_manages_canaries() {
        for r in Role::ALL {
            assert_eq!(r.can(Permission::CanariesManage), r == Role::Owner, "{r}");
        }
    }

    #[test]
    fn operator_and_support_match_the_matrix() {
        use Permission::*;
        let operator = [
            Dashboard,
            OrdersView,
            OrdersManage,
            OrdersExport,
            ProductsView,
            ProductsManage,
            OwnAccount,
        ];
        let support = [
            Dashboard,
            OrdersView,
            CustomersView,
            CustomersReveal,
            OwnAccount,
        ];
        for p in Permission::ALL {
            assert_eq!(Role::Operator.can(p), operator.contains(&p), "operator {p}");
            assert_eq!(Role::Support.can(p), support.contains(&p), "support {p}");
        }
    }

    #[test]
    fn no_role_lists_a_permission_twice() {
        for r in Role::ALL {
            let mut ps = r.permissions().to_vec();
            ps.sort();
            ps.dedup();
            assert_eq!(ps.len(), r.permissions().len(), "{r}");
        }
    }

    #[test]
    fn names_round_trip_and_are_distinct() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
            assert!(!r.label_ja().is_empty() && !r.label_en().is_empty());
        }
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
            assert!(!p.label_ja().is_empty() && !p.label_en().is_empty());
        }
        let mut names: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Permission::ALL.len());
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Owner"), None);
        assert_eq!(Permission::parse(""), None);
    }
}
