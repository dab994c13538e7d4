/// What a catch-up does with the DMs after the watermark. A request is answered exactly when
/// the leader's state records its reply (`replies`); a bot message no recorded reply claims
/// can only be the reply to a request whose send was in doubt (`sending`: no answer came back,
/// or the leader died before recording it), so each such request is paired with the first
/// unclaimed bot message after it in its conversation. Everything else is unanswered:
/// answered now if younger than `maxAge` seconds (a stale code helps nobody), else dropped.
/// Requests this process is already handling (`taken`) are left alone, and so are in-doubt
/// requests of a sender with a request in progress (`busy`): that request's reply may already
/// exist unrecorded and would look unclaimed. They are `deferred` to a later catch-up.
///
/// A state file of the first version recorded no replies (`legacy`): then every unanswered
/// request may pair with an unclaimed bot message, oldest first, and the watermark's own
/// message (fetched too) pairs first, because that version answered one DM at a time and
/// moved the watermark after each reply, so the one reply above the watermark that answers an
/// older request is the watermark's.
///
/// ```swift
/// let plan = CatchUpPlan(messages: fetched, botID: 7, now: 1_800_000_000, maxAge: 120,
///                        replies: state.replies, sending: state.sending)
/// for m in plan.toAnswer { handle(m) }
/// ```
struct CatchUpPlan: Sendable {
    private(set) var toAnswer: [ZulipMessage] = []
    private(set) var alreadyAnswered = 0
    private(set) var tooOld = 0
    /// Fetched messages needing nothing more: answered or too old requests, and non-requests
    /// (the bot's own messages, group DMs): the watermark may pass them.
    private(set) var settled: [Int] = []
    /// Requests found answered by a reply their sender never recorded: request id -> reply id.
    private(set) var inferredReplies: [Int: Int] = [:]
    /// In-doubt requests left for a later catch-up (see `busy`).
    private(set) var deferred = 0

    /// `watermark`: messages at or below it are settled; in `legacy` mode they only claim
    /// their reply.
    /// `noReply`: requests settled on purpose without a reply (counted as answered).
    /// `sentOnItsOwn`: bot messages that answer no DM (the access workflow's asks, codes,
    /// results): never taken for the reply to one.
    init(messages: [ZulipMessage], botID: Int, now: Int64, maxAge: Int, replies: [Int: Int], sending: Set<Int>,
         noReply: Set<Int> = [], legacy: Bool = false, taken: Set<Int> = [], busy: Set<Int> = [], watermark: Int? = nil,
         sentOnItsOwn: Set<Int> = []) {
        let mark = watermark ?? Int.min
        let claimed = Set(replies.values).union(sentOnItsOwn)
        // Bot messages in each 1:1 conversation that answer nothing known, oldest first.
        var unclaimed: [Int: [Int]] = [:]
        var requests: [ZulipMessage] = []
        for m in messages.sorted(by: { $0.id < $1.id }) {
            let partner = m.isOneToOne(botID: botID) ? m.others(botID: botID).first?.id : nil
            if m.sender_id == botID {
                if let partner, !claimed.contains(m.id) { unclaimed[partner, default: []].append(m.id) }
                if !taken.contains(m.id), m.id > mark { settled.append(m.id) }
            } else if partner != nil {
                requests.append(m)
            } else if !taken.contains(m.id), m.id > mark {
                settled.append(m.id)
            }
        }
        for m in requests where !taken.contains(m.id) {
            let partner = m.others(botID: botID)[0].id
            if m.id <= mark {
                // Answered before: it only takes its reply out of the pairing.
                if legacy, replies[m.id] == nil, let index = unclaimed[partner]?.firstIndex(where: { $0 > m.id }) {
                    unclaimed[partner]!.remove(at: index)
                }
            } else if replies[m.id] != nil || noReply.contains(m.id) {
                alreadyAnswered += 1
                settled.append(m.id)
            } else if sending.contains(m.id), busy.contains(partner) {
                deferred += 1
            } else if legacy || sending.contains(m.id),
                let index = unclaimed[partner]?.firstIndex(where: { $0 > m.id }) {
                inferredReplies[m.id] = unclaimed[partner]!.remove(at: index)
                alreadyAnswered += 1
                settled.append(m.id)
            } else if now - m.timestamp > Int64(maxAge) {
                tooOld += 1
                settled.append(m.id)
            } else {
                toAnswer.append(m)
            }
        }
    }
}
