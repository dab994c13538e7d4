/// The `AccessView` of the running bot: the ACL (ids, emails, groups), the user directory and
/// the user groups as the leader's event queue knows them right now. A deactivated user, or a
/// bot, may request nothing, approve nothing and is told nothing; a person out of a group has
/// what the group gave no more.
///
/// ```swift
/// let view = LiveAccessView(acl: config.acl, directory: directory, groups: groups)
/// view.mayRequest(31, label: "prod")
/// ```
struct LiveAccessView: AccessView {
    let acl: AccessList
    let directory: UserDirectory
    let groups: UserGroupDirectory

    func mayRequest(_ user: Int, label: String) -> Bool {
        guard directory.isActiveHuman(user) else { return false }
        return acl.allows(userID: user, emails: directory.emails(of: user), groups: groups.names(containing: user), label: label)
    }

    func users(_ principals: [Principal]) -> Set<Int> {
        var out = Set<Int>()
        for p in principals {
            switch p {
            case .user(let id): out.insert(id)
            case .email(let email):
                // An address two accounts claim is nobody's, as in the ACL.
                let holders = directory.holders(of: email)
                if holders.count == 1 { out.insert(holders[0]) }
            case .group(let name): out.formUnion(groups.members(of: name) ?? [])
            }
        }
        return out.filter { directory.isActiveHuman($0) }
    }

    func name(_ user: Int) -> String {
        // A silent mention: Zulip shows the name and links the user, nobody is notified.
        guard let full = directory.entry(user)?.fullName, !full.isEmpty,
            !full.contains(where: { $0 == "*" || $0 == "|" || $0 == "`" || $0.isNewline })
        else { return "user \(user)" }
        return "@_**\(full)|\(user)**"
    }

    func email(_ user: Int) -> String? {
        guard let entry = directory.entry(user) else { return nil }
        let address = entry.deliveryEmail ?? entry.email
        return address.isEmpty ? nil : address
    }
}
