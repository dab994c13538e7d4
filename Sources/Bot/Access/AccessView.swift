/// What the access workflow asks about people, answered from the ACL, the user directory and
/// the groups as they are now (`LiveAccessView`) or from a table (tests).
///
/// ```swift
/// view.mayRequest(31, label: "prod")          // the ACL, the groups, an active account
/// view.users([.group("ops-leads")])           // [33, 34]
/// ```
protocol AccessView {
    /// Whether `user` may request `label` now: the ACL allows it (through an id, an email or a
    /// group they are in now) and the account is active.
    func mayRequest(_ user: Int, label: String) -> Bool
    /// The active human accounts `principals` name now, groups expanded.
    func users(_ principals: [Principal]) -> Set<Int>
    /// How the bot's messages name `user`.
    func name(_ user: Int) -> String
    /// `user`'s address, when the bot may see it (for asks and notifications).
    func email(_ user: Int) -> String?
}
