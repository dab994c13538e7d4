/// A running grant: after request `number` was approved, `requester` gets codes for `label`
/// without a new approval until `until` (unix seconds). Persisted in the leader's state.
///
/// ```swift
/// let g = AccessGrant(number: 7, requester: 31, label: "prod", until: now + 1800, approvers: [33, 34])
/// g.covers(requester: 31, label: "prod", at: now)   // true
/// ```
struct AccessGrant: Sendable, Equatable, Codable {
    var number: Int
    var requester: Int
    var label: String
    var until: Double
    var approvers: [Int]

    func covers(requester: Int, label: String, at now: Double) -> Bool {
        self.requester == requester && self.label == label && now < until
    }
}
