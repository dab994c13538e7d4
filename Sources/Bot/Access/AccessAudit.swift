/// One audit line of the access workflow (component `audit`, event `access`): what happened
/// to which request, by whom. Never a code.
///
/// ```swift
/// AccessAudit(action: .approval, request: 7, label: "prod", requester: 31, actor: 33)
/// ```
struct AccessAudit: Sendable, Equatable {
    enum Action: String, Sendable {
        case request, refused, approval, approvalWithdrawn = "approval_withdrawn", approved, denial, expiry, cancel
        case grantStart = "grant_start", grantUse = "grant_use", grantEnd = "grant_end", grantRevoked = "grant_revoked"
        case code, notification, undeliverable
    }

    var action: Action
    var request: Int
    var label: String
    var requester: Int
    var actor: Int? = nil
    var reason: String? = nil
    var note: String? = nil
}
