/// What the email entries of an `AccessList` mean against the realm's users right now: each
/// names one active account, nobody (unknown, deactivated, or hidden by the realm's email
/// visibility), or several (then it grants nothing). The leader logs these at start and
/// whenever a user change alters one.
///
/// ```swift
/// for (email, resolution) in acl.resolutions(in: directory) where resolution != .user(42) { ... }
/// ```
extension AccessList {
    /// How one email entry resolves.
    enum EmailResolution: Sendable, Equatable {
        case user(Int)
        case nobody
        case ambiguous([Int])
    }

    /// Every email entry's resolution, by folded email.
    func resolutions(in directory: UserDirectory) -> [String: EmailResolution] {
        var out: [String: EmailResolution] = [:]
        for email in emails {
            let holders = directory.holders(of: email)
            out[email] = switch holders.count {
            case 0: .nobody
            case 1: .user(holders[0])
            default: .ambiguous(holders)
            }
        }
        return out
    }
}
