/// Which caught-up DMs still need an answer. The bot answers every 1:1 request with exactly
/// one message, in order, so in each conversation the bot's messages after the watermark
/// answer the oldest pending requests: whatever is left unmatched was never answered.
/// Requests older than `maxAge` seconds are not answered (a stale code helps nobody).
///
/// ```swift
/// let plan = CatchUpPlan(messages: fetched, botID: 7, now: 1_800_000_000, maxAge: 120)
/// for m in plan.toAnswer { handle(m) }
/// ```
struct CatchUpPlan: Sendable {
    private(set) var toAnswer: [ZulipMessage] = []
    private(set) var alreadyAnswered = 0
    private(set) var tooOld = 0

    init(messages: [ZulipMessage], botID: Int, now: Int64, maxAge: Int) {
        // Pending requests per conversation partner, oldest first.
        var pending: [Int: [ZulipMessage]] = [:]
        for m in messages.sorted(by: { $0.id < $1.id }) where m.isOneToOne(botID: botID) {
            guard let partner = m.others(botID: botID).first?.id else { continue }
            if m.sender_id == botID {
                if var list = pending[partner], !list.isEmpty {
                    list.removeFirst()
                    pending[partner] = list
                    alreadyAnswered += 1
                }
            } else {
                pending[partner, default: []].append(m)
            }
        }
        for m in pending.values.flatMap({ $0 }).sorted(by: { $0.id < $1.id }) {
            if now - m.timestamp > Int64(maxAge) {
                tooOld += 1
            } else {
                toAnswer.append(m)
            }
        }
    }
}
